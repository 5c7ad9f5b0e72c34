// Package providerhttp builds the HTTP client blockd reaches one provider
// with: the certificate authority it trusts for that provider, the client
// certificate it presents where the provider asks for mutual TLS, proxies
// from the environment, and an explicit bound on every phase of a call.
//
// Every phase is bounded (the defaults in brackets):
//
//   - connecting (TCP): DialTimeout [10s];
//   - the TLS handshake: TLSHandshakeTimeout [10s];
//   - from the request sent to the response headers: ResponseHeaderTimeout
//     [CallTimeout];
//   - the whole call, body included: CallTimeout [20s] (http.Client.Timeout;
//     the caller's context may end it sooner: blockd gives each call a
//     context of BLOCKD_CALL_TIMEOUT);
//   - an idle kept-alive connection is closed after IdleConnTimeout [90s].
//
// Proxies come from HTTPS_PROXY, HTTP_PROXY and NO_PROXY (and their lower
// case forms), as net/http reads them: http.ProxyFromEnvironment, which
// never proxies requests to localhost or a loopback address.
package providerhttp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The errors of bad TLS material, so the caller can name what is wrong.
var (
	// ErrCA: the CA PEM holds no certificate.
	ErrCA = errors.New("no CA certificate in the PEM data")
	// ErrClientPair: the client certificate and key do not make a pair.
	ErrClientPair = errors.New("the client certificate and key are not a usable pair")
)

// Defaults of Config's zero fields.
const (
	DefaultDialTimeout         = 10 * time.Second
	DefaultTLSHandshakeTimeout = 10 * time.Second
	DefaultCallTimeout         = 20 * time.Second
	DefaultIdleConnTimeout     = 90 * time.Second
	DefaultMaxIdleConnsPerHost = 256
)

// Config is how one provider is reached. The zero value is usable: the
// system's roots, no client certificate, the default timeouts.
type Config struct {
	// CAPEM holds the PEM certificates of the CAs the provider's server
	// certificate must chain to; when set, the system's roots are not used
	// for this provider. Empty: the system's roots.
	CAPEM []byte
	// CertPEM and KeyPEM are the client certificate and its key presented
	// for mutual TLS; both or neither. Empty: none.
	CertPEM, KeyPEM []byte

	// CallTimeout bounds a whole call. Default 20s.
	CallTimeout time.Duration
	// DialTimeout bounds connecting. Default 10s.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake. Default 10s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response headers once
	// the request is written. Default CallTimeout.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes a kept-alive connection idle that long. Default 90s.
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerHost bounds the connections kept alive. Default 256.
	MaxIdleConnsPerHost int
	// Proxy picks a request's proxy. Default http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
	// TracerProvider, when set, records each call as a client span
	// (otelhttp), a child of the span in the request's context. No trace
	// header is sent to the provider. Default: none.
	TracerProvider trace.TracerProvider
}

// ParseCA returns a pool of the certificates in caPEM.
func ParseCA(caPEM []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, ErrCA
	}
	return pool, nil
}

// ParseClientPair returns the client certificate of a PEM certificate and key.
func ParseClientPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return tls.Certificate{}, fmt.Errorf("%w: give both the certificate and the key", ErrClientPair)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%w: %w", ErrClientPair, err)
	}
	return c, nil
}

// TLS returns the TLS configuration of cfg's connections (TLS 1.2 or later).
func (cfg Config) TLS() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.CAPEM) > 0 {
		pool, err := ParseCA(cfg.CAPEM)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if len(cfg.CertPEM) > 0 || len(cfg.KeyPEM) > 0 {
		pair, err := ParseClientPair(cfg.CertPEM, cfg.KeyPEM)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// New returns the client of cfg.
func New(cfg Config) (*http.Client, error) {
	tc, err := cfg.TLS()
	if err != nil {
		return nil, err
	}
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	call := or(cfg.CallTimeout, DefaultCallTimeout)
	proxy := cfg.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	idle := cfg.MaxIdleConnsPerHost
	if idle <= 0 {
		idle = DefaultMaxIdleConnsPerHost
	}
	dialer := &net.Dialer{Timeout: or(cfg.DialTimeout, DefaultDialTimeout), KeepAlive: 30 * time.Second}
	var transport http.RoundTripper = &http.Transport{
		Proxy:                 proxy,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   or(cfg.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
		ResponseHeaderTimeout: or(cfg.ResponseHeaderTimeout, call),
		IdleConnTimeout:       or(cfg.IdleConnTimeout, DefaultIdleConnTimeout),
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   idle,
		ForceAttemptHTTP2:     true,
	}
	if cfg.TracerProvider != nil {
		// The empty propagator: the provider is never sent blockd's trace
		// context (it has no use for it). The span's URL is the call's,
		// account numbers in the path included: the exporter redacts
		// (cmd/blockd/tracing.go).
		transport = otelhttp.NewTransport(transport, otelhttp.WithTracerProvider(cfg.TracerProvider),
			otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()))
	}
	return &http.Client{Timeout: call,
		// A provider's answer is its answer: a redirect is never followed.
		// Go would carry the Authorization header (and a 307/308 the body)
		// to another scheme on the same host, and a money call would go
		// where the processor never recorded it. The 3xx is returned as is,
		// and each provider's classifier reads an unlisted answer as of
		// unknown outcome.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     transport}, nil
}
