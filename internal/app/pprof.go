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
	ln, err := net.Listen("tcp", b.cfg.PprofAddr)
	if err != nil {
		return fmt.Errorf("listen on PPROF_ADDR %s: %w", b.cfg.PprofAddr, err)
	}
	b.log.Info("profiler listening", "addr", ln.Addr().String())
	return serveHTTP(ctx, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln, b.log)
}
