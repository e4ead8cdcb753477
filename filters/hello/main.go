// Command hello is a serverless function: it answers GET /hello?name=NAME
// with {"message": "hello, NAME"} by itself, so its route needs no upstream.
package main

import (
	"encoding/json"
	"net/url"

	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

func init() { sluice.HandleNew(newHello) }

// config is the filter's `config:`.
type config struct {
	// Greeting replaces "hello".
	Greeting string `json:"greeting"`
}

type hello struct{ greeting string }

func newHello() (sluice.Filter, error) {
	c := config{Greeting: "hello"}
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	return sluice.RequestFunc((&hello{greeting: c.Greeting}).handle), nil
}

const maxName = 100 // longer names are cut, so the answer stays small

func (h *hello) handle(req sluice.Request, resp sluice.Response) bool {
	resp.Header().Set("Content-Type", "application/json")
	switch req.Method() {
	case "GET", "HEAD":
	default:
		resp.SetStatusCode(405)
		resp.Header().Set("Allow", "GET, HEAD")
		resp.Body().WriteString(`{"error":"method not allowed"}` + "\n")
		return false
	}
	name := "world"
	if u, err := url.ParseRequestURI(req.URI()); err == nil {
		if n := u.Query().Get("name"); n != "" {
			name = n
		}
	}
	if r := []rune(name); len(r) > maxName {
		name = string(r[:maxName])
	}
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{h.greeting + ", " + name})
	resp.SetStatusCode(200)
	if req.Method() == "GET" {
		resp.Body().Write(append(b, '\n'))
	}
	return false // answered here: no upstream
}
