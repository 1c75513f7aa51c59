package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves Go's profiler on PPROF_ADDR, apart from the API, so
// that it is never exposed where the API is (bind it to loopback).
func (b *base) servePprof(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return b.serveSide(ctx, "PPROF_ADDR", b.cfg.PprofAddr, "profiler", mux)
}

// serveSide serves handler on addr (the setting named setting), apart from
// the API, until ctx ends: the profiler's and the liveness check's server.
func (b *base) serveSide(ctx context.Context, setting, addr, what string, handler http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s %s: %w", setting, addr, err)
	}
	b.log.Info(what+" listening", "addr", ln.Addr().String())
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		// Requests end at the stop: a CPU profile being taken (30 s by
		// default) is written with what it has, and holds nothing up.
		BaseContext: func(net.Listener) context.Context { return ctx }}
	if err := serveHTTP(ctx, srv, ln); err != nil {
		if ctx.Err() == nil {
			return err
		}
		// Not the product's requests: the role still stopped cleanly.
		b.log.Warn(what+" did not stop cleanly", "error", err)
	}
	return nil
}
