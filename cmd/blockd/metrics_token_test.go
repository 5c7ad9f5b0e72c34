package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestMetricsTokenReadsMetricsAndNothingElse: Prometheus holds a token of
// its own, which must open GET /metrics and no operator endpoint (settling
// a command, retrying a row); the operator token opens everything.
func TestMetricsTokenReadsMetricsAndNothingElse(t *testing.T) {
	const admin, scrape = "admin-0123456789abcdef", "metrics-fedcba9876543210"
	mux := http.NewServeMux()
	for _, route := range []string{"GET /metrics", "GET /v1/commands/in-doubt", "POST /v1/outbox/set-aside/retry"} {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	}
	h := operatorAuth(admin, scrape, mux)
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/metrics", scrape, http.StatusOK},
		{"GET", "/metrics", admin, http.StatusOK},
		{"GET", "/metrics", "", http.StatusUnauthorized},
		{"GET", "/metrics", "metrics-fedcba987654321x", http.StatusUnauthorized},
		{"GET", "/v1/commands/in-doubt", scrape, http.StatusUnauthorized},
		{"POST", "/v1/outbox/set-aside/retry", scrape, http.StatusUnauthorized},
		{"POST", "/metrics", scrape, http.StatusUnauthorized},
		{"GET", "/v1/commands/in-doubt", admin, http.StatusOK},
		{"POST", "/v1/outbox/set-aside/retry", admin, http.StatusOK},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s with %q: %d, want %d", tc.method, tc.path, tc.token, rec.Code, tc.want)
		}
	}
}

func TestMetricsTokenMustBeItsOwn(t *testing.T) {
	const admin = "admin-0123456789abcdef"
	for _, tc := range []struct {
		env  map[string]string
		want string // "" accepted, else the variable named in the error
	}{
		{map[string]string{"BLOCKD_ADMIN_TOKEN": admin, "BLOCKD_METRICS_TOKEN": "metrics-fedcba9876543210"}, ""},
		{map[string]string{"BLOCKD_ADMIN_TOKEN": admin, "BLOCKD_METRICS_TOKEN": admin}, "BLOCKD_METRICS_TOKEN"},
		{map[string]string{"BLOCKD_METRICS_TOKEN": "metrics-fedcba9876543210"}, "BLOCKD_METRICS_TOKEN"},
		{map[string]string{"BLOCKD_ADMIN_TOKEN": admin, "BLOCKD_METRICS_TOKEN": "short"}, "BLOCKD_METRICS_TOKEN"},
	} {
		_, err := loadConfig(func(k string) string { return tc.env[k] }, os.ReadFile)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}
