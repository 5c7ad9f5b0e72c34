package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealth is `blockd health [URL]`: a probe for container healthchecks,
// where the image has no shell, curl or wget. It asks URL — by default
// this instance's /readyz on BLOCKD_HTTP_ADDR, a wildcard host asked on
// loopback — and succeeds on a 2xx answer within 3 s. The sandboxes' image
// asks one of their URLs (e.g. http://127.0.0.1:8181/_sandbox/ledger).
func runHealth(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 {
		return usageError{"blockd health takes at most one argument, the URL to ask"}
	}
	url := ""
	if len(args) == 1 {
		url = args[0]
	} else {
		addr := getenv("BLOCKD_HTTP_ADDR")
		if addr == "" {
			addr = "127.0.0.1:8080"
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return &configError{"BLOCKD_HTTP_ADDR", fmt.Errorf("%q is not host:port", addr)}
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		url = "http://" + net.JoinHostPort(host, port) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usageError{fmt.Sprintf("blockd health: %v", err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	fmt.Fprintf(stdout, "%s answered %s\n", url, resp.Status)
	return nil
}
