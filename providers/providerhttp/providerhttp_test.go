package providerhttp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers/providerhttp"
	"github.com/blockd/blockd/providers/providertest/testpki"
)

// tlsServer serves "ok" over TLS with a certificate of ca for 127.0.0.1 and
// provider.test; clientCA, when set, is required of clients.
func tlsServer(t *testing.T, ca, clientCA *testpki.CA) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "anonymous"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			name = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		io.WriteString(w, "ok "+name)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1", "provider.test")}, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = clientCA.Pool()
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func get(client *http.Client, url string) (string, error) {
	res, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

func newClient(t *testing.T, cfg providerhttp.Config) *http.Client {
	t.Helper()
	c, err := providerhttp.New(cfg)
	if err != nil {
		t.Fatalf("providerhttp.New: %v", err)
	}
	return c
}

func TestTLSTrustsOnlyTheConfiguredCA(t *testing.T) {
	ca := testpki.NewCA(t, "provider CA")
	srv := tlsServer(t, ca, nil)
	other := testpki.NewCA(t, "some other CA")
	tests := []struct {
		name    string
		caPEM   []byte
		wantErr bool
	}{
		{"the provider's CA", ca.PEM, false},
		{"no CA file: the system roots, which do not know it", nil, true},
		{"another CA", other.PEM, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := get(newClient(t, providerhttp.Config{CAPEM: tt.caPEM}), srv.URL)
			if tt.wantErr {
				var unknown x509.UnknownAuthorityError
				if !errors.As(err, &unknown) {
					t.Fatalf("got %q, %v; want an unknown-authority error", body, err)
				}
				return
			}
			if err != nil || body != "ok anonymous" {
				t.Fatalf("got %q, %v; want ok", body, err)
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "provider CA")
	clientCA := testpki.NewCA(t, "clients of the provider")
	srv := tlsServer(t, ca, clientCA)
	certPEM, keyPEM := clientCA.Client(t, "blockd")
	strangerCert, strangerKey := testpki.NewCA(t, "not the provider's").Client(t, "stranger")
	tests := []struct {
		name             string
		certPEM, keyPEM  []byte
		wantBody         string
		wantHandshakeErr bool
	}{
		{"with the client pair", certPEM, keyPEM, "ok blockd", false},
		{"without a client certificate", nil, nil, "", true},
		{"with a pair the provider does not trust", strangerCert, strangerKey, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := get(newClient(t, providerhttp.Config{CAPEM: ca.PEM, CertPEM: tt.certPEM, KeyPEM: tt.keyPEM}), srv.URL)
			if tt.wantHandshakeErr {
				if err == nil {
					t.Fatalf("got %q, want the server to refuse the handshake", body)
				}
				return
			}
			if err != nil || body != tt.wantBody {
				t.Fatalf("got %q, %v; want %q", body, err, tt.wantBody)
			}
		})
	}
}

func TestNewRefusesBadTLSMaterial(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	certPEM, keyPEM := ca.Client(t, "blockd")
	_, otherKey := ca.Client(t, "other")
	tests := []struct {
		name string
		cfg  providerhttp.Config
		want error
	}{
		{"CA file without a certificate", providerhttp.Config{CAPEM: []byte("not PEM")}, providerhttp.ErrCA},
		{"certificate without its key", providerhttp.Config{CertPEM: certPEM}, providerhttp.ErrClientPair},
		{"key without its certificate", providerhttp.Config{KeyPEM: keyPEM}, providerhttp.ErrClientPair},
		{"key of another certificate", providerhttp.Config{CertPEM: certPEM, KeyPEM: otherKey}, providerhttp.ErrClientPair},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := providerhttp.New(tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// Each phase of a call is bounded: a server that accepts the connection
// and never completes the handshake, and one that never answers.
func TestEveryPhaseIsBounded(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accepted, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)

	tests := []struct {
		name string
		cfg  providerhttp.Config
		url  string
	}{
		{"TLS handshake", providerhttp.Config{TLSHandshakeTimeout: 200 * time.Millisecond, CallTimeout: 5 * time.Second}, "https://" + silent.Addr().String()},
		{"response header", providerhttp.Config{ResponseHeaderTimeout: 200 * time.Millisecond, CallTimeout: 5 * time.Second}, slow.URL},
		{"whole call", providerhttp.Config{CallTimeout: 300 * time.Millisecond}, slow.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := get(newClient(t, tt.cfg), tt.url); done <- err }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("got an answer, want a timeout")
				}
			case <-time.After(4 * time.Second):
				t.Fatal("the call was not bounded by its timeout")
			}
		})
	}
}

// connectProxy is an HTTP proxy that records each CONNECT and tunnels it to
// target, whatever host it names.
type connectProxy struct {
	target string
	mu     sync.Mutex
	hosts  []string
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.hosts = append(p.hosts, r.Host)
	p.mu.Unlock()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer upstream.Close()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() { _, _ = io.Copy(upstream, buf) }()
	_, _ = io.Copy(conn, upstream)
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hosts...)
}

// The proxy settings come from the environment, read once per process by
// net/http; a child process gets HTTPS_PROXY and makes the call.
func TestProxyFromTheEnvironmentIsHonoured(t *testing.T) {
	ca := testpki.NewCA(t, "provider CA")
	srv := tlsServer(t, ca, nil)
	proxy := &connectProxy{target: srv.Listener.Addr().String()}
	proxySrv := httptest.NewServer(proxy)
	t.Cleanup(proxySrv.Close)

	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	target := "https://provider.test:" + port + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProxyHelperProcess$", "-test.count=1")
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !strings.EqualFold(name, "https_proxy") && !strings.EqualFold(name, "http_proxy") && !strings.EqualFold(name, "no_proxy") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HTTPS_PROXY="+proxySrv.URL, "PROVIDERHTTP_HELPER_URL="+target,
		"PROVIDERHTTP_HELPER_CA="+testpki.WriteFile(t, "ca.pem", ca.PEM))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "answer: ok anonymous") {
		t.Fatalf("helper process did not get the answer through the proxy:\n%s", out)
	}
	if got := proxy.seen(); len(got) != 1 || got[0] != "provider.test:"+port {
		t.Fatalf("proxy saw CONNECT %v, want one to provider.test:%s", got, port)
	}
}

// TestProxyHelperProcess is the child of TestProxyFromTheEnvironmentIsHonoured.
func TestProxyHelperProcess(t *testing.T) {
	url := os.Getenv("PROVIDERHTTP_HELPER_URL")
	if url == "" {
		t.Skip("the child process of TestProxyFromTheEnvironmentIsHonoured")
	}
	caPEM, err := os.ReadFile(os.Getenv("PROVIDERHTTP_HELPER_CA"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := get(newClient(t, providerhttp.Config{CAPEM: caPEM}), url)
	if err != nil {
		t.Fatalf("calling %s: %v", url, err)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "answer: %s\n", body)
	_ = w.Flush()
}

// Review (issue 11): a provider client must not follow a redirect from
// https to plain http: net/http copies the Authorization header to a
// redirect on the same host whatever the scheme, and a 307 sends the body
// again, so the bearer token and the command's account numbers would cross
// the network in clear, after blockd serve refused every http:// URL.
func TestReviewRedirectToPlainHTTPIsNotFollowed(t *testing.T) {
	var (
		mu         sync.Mutex
		gotAuth    []string
		gotBodies  []string
		plainCalls int
	)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		plainCalls++
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		gotBodies = append(gotBodies, string(b))
		mu.Unlock()
		io.WriteString(w, `{"status":"DONE"}`)
	}))
	t.Cleanup(plain.Close)

	ca := testpki.NewCA(t, "provider CA")
	redirecting := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	redirecting.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")}, MinVersion: tls.VersionTLS12}
	redirecting.StartTLS()
	t.Cleanup(redirecting.Close)

	client := newClient(t, providerhttp.Config{CAPEM: ca.PEM})
	req, err := http.NewRequest(http.MethodPost, redirecting.URL+"/block", strings.NewReader(`{"deposit":"0201972359308"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer provider-secret-token")
	res, err := client.Do(req)
	if err == nil {
		res.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if plainCalls > 0 {
		t.Fatalf("the client followed an https→http redirect: the plain-HTTP server got %d call(s) with Authorization %q and body %q; want none",
			plainCalls, gotAuth, gotBodies)
	}
}
