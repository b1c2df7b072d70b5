package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rfidgw/rfidgw/internal/redact"
)

// Handler returns the gateway's HTTP handler: /healthz (process alive),
// /readyz (buffer writable, pipeline moving), /metrics, /api/config (the
// remote config in effect) and Go's profiler under /debug/pprof/. With a
// token, every path but /healthz needs "Authorization: Bearer <token>" (or
// ?token=); without one the config allows only a loopback listen address,
// so the profiler is never open to the network.
func (g *Gateway) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := g.Ready(); err != nil {
			http.Error(w, "not ready: "+redact.String(err.Error()), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{g.m.Registry, g.ownMetrics(), g.remoteMetrics()}, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/config", g.serveConfig)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	for path, h := range g.extraHandlers {
		mux.Handle(path, h)
	}
	if token == "" {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && !tokenOK(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rfidgw"`)
			http.Error(w, "token required (Authorization: Bearer <token from http.token_file>)", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// tokenOK checks the bearer token of r: the auth scheme is case-insensitive
// (RFC 9110 §11.1), so "bearer" and "BEARER" work as well as "Bearer".
func tokenOK(r *http.Request, token string) bool {
	got := ""
	if scheme, cred, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = strings.TrimSpace(cred)
	}
	if got == "" {
		got = r.URL.Query().Get("token")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// ReadToken reads the bearer token from path (trimmed); empty path gives "".
func ReadToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("http.token_file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("http.token_file: %s is empty", path)
	}
	return t, nil
}

// Serve listens on addr and serves h until ctx ends.
func Serve(ctx context.Context, addr string, h http.Handler) (net.Addr, <-chan error, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("http.listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() {
		err := srv.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return l.Addr(), errc, nil
}
