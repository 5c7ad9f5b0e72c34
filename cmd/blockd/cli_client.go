package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// defaultAdminURL is where the operator commands find the service's
// operator endpoints unless BLOCKD_ADMIN_URL says otherwise.
const defaultAdminURL = "http://127.0.0.1:8081"

// adminClient calls a running service's operator endpoints.
type adminClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// newAdminClient builds the client from BLOCKD_ADMIN_URL,
// BLOCKD_ADMIN_TOKEN_FILE (or BLOCKD_ADMIN_TOKEN) and BLOCKD_ADMIN_CA_FILE.
func newAdminClient(getenv func(string) string) (*adminClient, error) {
	raw := getenv("BLOCKD_ADMIN_URL")
	if raw == "" {
		raw = defaultAdminURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, usageError{"BLOCKD_ADMIN_URL must be an http:// or https:// URL, e.g. " + defaultAdminURL}
	}
	token, err := adminToken(getenv)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if path := getenv("BLOCKD_ADMIN_CA_FILE"); path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("BLOCKD_ADMIN_CA_FILE: %w", err)
		}
		roots, err := certPool(pem)
		if err != nil {
			return nil, fmt.Errorf("BLOCKD_ADMIN_CA_FILE: %s: %w", path, err)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	}
	return &adminClient{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// adminToken is the operator token, as blockd serve reads it.
func adminToken(getenv func(string) string) (string, error) {
	v, path := getenv("BLOCKD_ADMIN_TOKEN"), getenv("BLOCKD_ADMIN_TOKEN_FILE")
	switch {
	case v != "" && path != "":
		return "", usageError{"set either BLOCKD_ADMIN_TOKEN or BLOCKD_ADMIN_TOKEN_FILE, not both"}
	case path == "":
		return v, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("BLOCKD_ADMIN_TOKEN_FILE: reading secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// call sends method path (with body as JSON, when not nil) and returns the
// answer's body; an answer other than 2xx becomes a cliError with the exit
// code it means and the server's error text. A 404 without the operator
// endpoints' JSON error is a service that lacks the endpoint (exit 1), not
// an unknown trackId (exit 4).
func (c *adminClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.JoinPath(path).String(), rd)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, cliError{exitFailure, fmt.Sprintf("calling the operator endpoints at %s (BLOCKD_ADMIN_URL): %v", c.base.Redacted(), errors.Unwrap(err))}
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, cliError{exitFailure, fmt.Sprintf("reading the answer of %s %s: %v", method, path, err)}
	}
	if res.StatusCode/100 == 2 {
		return out, nil
	}
	var e struct {
		Error string `json:"error"`
	}
	fromAPI := json.Unmarshal(out, &e) == nil && e.Error != ""
	if !fromAPI {
		e.Error = strings.TrimSpace(string(out))
	}
	switch res.StatusCode {
	case http.StatusNotFound:
		if !fromAPI {
			// The operator endpoints answer 404 only with their JSON: this
			// is a service without the endpoint, not an unknown trackId.
			return nil, cliError{exitFailure, fmt.Sprintf("%s %s: HTTP 404: the service does not offer this endpoint (older version?)", method, path)}
		}
		return nil, cliError{exitNotFound, "not found: " + e.Error}
	case http.StatusConflict:
		return nil, cliError{exitRefused, "refused: " + e.Error}
	case http.StatusBadRequest:
		return nil, usageError{e.Error}
	case http.StatusUnauthorized:
		return nil, cliError{exitFailure, "the operator token was refused (BLOCKD_ADMIN_TOKEN_FILE)"}
	default:
		return nil, cliError{exitFailure, fmt.Sprintf("%s %s: HTTP %d: %s", method, path, res.StatusCode, e.Error)}
	}
}

// commandPath is the endpoint path of command trackID (checked by
// oneTrackID: nothing in it needs escaping), plus rest.
func commandPath(trackID string, rest ...string) string {
	return "/v1/commands/" + trackID + strings.Join(rest, "")
}
