package main

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/blockd/blockd/providers/providertest/testpki"
)

// serverTLS is a broker's TLS configuration with a certificate from ca for
// 127.0.0.1 and localhost. With clientCAs, the broker asks every client for
// a certificate signed by one of them (mutual TLS).
func serverTLS(t testing.TB, ca *testpki.CA, clientCAs ...*testpki.CA) *tls.Config {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1", "localhost")}, MinVersion: tls.VersionTLS12}
	if len(clientCAs) > 0 {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = x509.NewCertPool()
		for _, c := range clientCAs {
			cfg.ClientCAs.AppendCertsFromPEM(c.PEM)
		}
	}
	return cfg
}

// selfSignedTLS is a broker's TLS configuration with a certificate for
// 127.0.0.1 and localhost that no authority signed.
func selfSignedTLS(t testing.TB) *tls.Config {
	t.Helper()
	return &tls.Config{Certificates: []tls.Certificate{testpki.SelfSigned(t, "127.0.0.1", "localhost")}, MinVersion: tls.VersionTLS12}
}
