// Package demo runs the three small services `sluice dev` puts behind the
// gateway (users, billing, auth), as real HTTP servers on loopback, so a new
// user sees routing, balancing and errors against something real.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Service is one running demo service.
type Service struct {
	Name string
	Addr string // host:port it listens on
	srv  *http.Server
}

// Start listens on addr ("127.0.0.1:0" for any port) and serves the named
// demo service: "users", "billing" or "auth".
func Start(name, addr string) (*Service, error) {
	h, ok := handlers[name]
	if !ok {
		return nil, fmt.Errorf("demo: unknown service %q", name)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo %s: %w", name, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]string{"status": "ok", "service": name})
	})
	h(mux)
	s := &Service{Name: name, Addr: ln.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err) // a demo listener failing after start is a bug
		}
	}()
	return s, nil
}

// Close stops the service.
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

var handlers = map[string]func(*http.ServeMux){
	"users":   usersService,
	"billing": billingService,
	"auth":    authService,
}

type user struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Plan  string `json:"plan"`
}

var demoUsers = []user{
	{"1", "Alice", "alice@example.com", "pro"},
	{"2", "Bob", "bob@example.com", "free"},
	{"3", "Carol", "carol@example.com", "pro"},
}

func usersService(mux *http.ServeMux) {
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]any{"users": demoUsers})
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		for _, u := range demoUsers {
			if u.ID == r.PathValue("id") {
				reply(w, http.StatusOK, u)
				return
			}
		}
		reply(w, http.StatusNotFound, map[string]string{"error": "no such user"})
	})
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		var u user
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&u); err != nil || u.Name == "" {
			reply(w, http.StatusBadRequest, map[string]string{"error": "send {\"name\": ...}"})
			return
		}
		u.ID = fmt.Sprint(len(demoUsers) + 1)
		reply(w, http.StatusCreated, u)
	})
	echo(mux, "/users/echo")
	// Version 2 of the catalog API lives in the users service; version 1
	// in billing. The gateway routes by the X-Api-Version header.
	mux.HandleFunc("GET /catalog", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]any{"api_version": 2, "products": catalog()})
	})
}

// catalog is a few KiB of JSON: large enough that the gateway compresses it.
func catalog() []map[string]any {
	out := make([]map[string]any, 0, 40)
	for i := 1; i <= 40; i++ {
		out = append(out, map[string]any{
			"sku": fmt.Sprintf("SKU-%03d", i), "name": fmt.Sprintf("Demo product %d", i),
			"price_cents": 500 + 100*i, "currency": "EUR", "in_stock": i%4 != 0,
		})
	}
	return out
}

func billingService(mux *http.ServeMux) {
	mux.HandleFunc("GET /invoices", func(w http.ResponseWriter, r *http.Request) {
		uid := r.URL.Query().Get("user")
		invoices := []map[string]any{}
		if uid != "" {
			invoices = append(invoices,
				map[string]any{"id": "inv-" + uid + "-1", "user": uid, "amount_cents": 1900, "status": "paid"},
				map[string]any{"id": "inv-" + uid + "-2", "user": uid, "amount_cents": 1900, "status": "open"})
		}
		reply(w, http.StatusOK, map[string]any{"invoices": invoices})
	})
	echo(mux, "/invoices/echo")
	mux.HandleFunc("GET /catalog", func(w http.ResponseWriter, _ *http.Request) {
		// Cacheable by any shared cache for a minute; the gateway's route
		// ttl caps it.
		w.Header().Set("Cache-Control", "public, max-age=60")
		reply(w, http.StatusOK, map[string]any{"api_version": 1, "products": catalog()})
	})
}

// authService hands out signed JWTs for the demo users (GET /token?user=alice)
// and serves the public key that verifies them (GET /jwks.json), which the
// `sluice dev` config's jwt provider fetches.
func authService(mux *http.ServeMux) {
	iss, err := newIssuer()
	if err != nil {
		panic(fmt.Sprintf("demo auth: generating the signing key: %v", err)) // only if the system's randomness fails
	}
	mux.HandleFunc("GET /token", iss.handleToken)
	mux.HandleFunc("GET /jwks.json", iss.handleJWKS)
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]any{
			"authorization": r.Header.Get("Authorization") != "",
			"request_id":    r.Header.Get("X-Request-Id"),
		})
	})
}

// echo answers with what the service received, so a user can see what the
// gateway changed on the way (rewrites, X-Forwarded-*, X-Request-Id).
func echo(mux *http.ServeMux, path string) {
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		hdr := map[string]string{}
		for k, v := range r.Header {
			hdr[k] = strings.Join(v, ", ")
		}
		reply(w, http.StatusOK, map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "headers": hdr})
	})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
