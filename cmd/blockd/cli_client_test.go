package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCLIOlderServiceWithoutTheEndpoint: a 404 that is not the operator
// endpoints' JSON is a service without the endpoint (exit 1), not an
// unknown trackId (exit 4); the endpoints' own 404 stays exit 4.
func TestCLIOlderServiceWithoutTheEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/known-to-new") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"no command is stored under this trackId"}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	env := map[string]string{"BLOCKD_ADMIN_URL": srv.URL, "BLOCKD_ADMIN_TOKEN": "t"}
	run1 := func(args ...string) (int, string) {
		var out, errOut strings.Builder
		err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
		if err != nil {
			errOut.WriteString(err.Error())
		}
		return exitCode(err), errOut.String()
	}
	if code, errOut := run1("resolve", "rs-1", "--applied", "--reason", "r", "--by", "b"); code != exitFailure ||
		!strings.Contains(errOut, "does not offer this endpoint (older version?)") {
		t.Fatalf("plain 404: exit %d, stderr %q; want 1 saying the service lacks the endpoint", code, errOut)
	}
	if code, errOut := run1("status", "known-to-new"); code != exitNotFound {
		t.Fatalf("the endpoints' 404: exit %d, stderr %q; want 4", code, errOut)
	}
}
