package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHealthProbe: `blockd health` succeeds only on a 2xx answer, asks
// /readyz on BLOCKD_HTTP_ADDR by default (a wildcard host on loopback),
// and fails when nothing answers.
func TestHealthProbe(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	env := map[string]string{"BLOCKD_HTTP_ADDR": "0.0.0.0:" + port}
	getenv := func(k string) string { return env[k] }
	health := func(args ...string) error {
		return run(context.Background(), append([]string{"health"}, args...), getenv, io.Discard, io.Discard)
	}
	if err := health(); err != nil {
		t.Errorf("ready service: %v, want success", err)
	}
	if err := health(srv.URL + "/readyz"); err != nil {
		t.Errorf("ready service by URL: %v, want success", err)
	}
	ready = false
	if err := health(); err == nil || exitCode(err) != 1 {
		t.Errorf("service answering 503: %v (exit %d), want a failure, exit 1", err, exitCode(err))
	}
	srv.Close()
	if err := health(); err == nil {
		t.Errorf("nothing listening: success, want a failure")
	}
	if err := health("a", "b"); exitCode(err) != 2 {
		t.Errorf("two arguments: exit %d, want 2 (usage)", exitCode(err))
	}
}
