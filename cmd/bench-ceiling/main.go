// Command bench-ceiling is a benchmark reference, not a product and not part
// of Sluice: a bare HTTP/1.1 reverse proxy on fasthttp that forwards every
// request to one upstream. No routing, no guard, no logging, no metrics, no
// TLS, no HTTP/2. It exists so cmd/bench (`make bench`, contestant e) can show
// the ceiling a Go proxy on fasthttp reaches on the same machine, beside
// nginx and Sluice.
//
// Usage:
//
//	bench-ceiling -listen 127.0.0.1:18006 -upstream 127.0.0.1:18001
//
// Hop-by-hop handling is the least a proxy needs: the Connection header
// (and with it a client's or the upstream's "close") is dropped in both
// directions, so each side keeps its own keep-alive connection.
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18006", "address to listen on (host:port)")
	upstream := flag.String("upstream", "", "upstream to forward every request to (host:port, plain HTTP/1.1)")
	flag.Parse()
	if *upstream == "" || flag.NArg() != 0 {
		log.Fatal("usage: bench-ceiling -listen host:port -upstream host:port")
	}

	hc := &fasthttp.HostClient{Addr: *upstream}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			req, resp := &ctx.Request, &ctx.Response
			req.Header.Del(fasthttp.HeaderConnection)
			if err := hc.Do(req, resp); err != nil {
				ctx.Error("bench-ceiling: upstream: "+err.Error(), fasthttp.StatusBadGateway)
				return
			}
			resp.Header.Del(fasthttp.HeaderConnection)
		},
		Name: "bench-ceiling",
	}
	log.Fatal(srv.ListenAndServe(*listen))
}
