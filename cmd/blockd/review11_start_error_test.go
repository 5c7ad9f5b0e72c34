package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// Review (issue 11): main prints run's error to stderr as it is, outside
// the redacting log writer, and a configuration error quotes the provider
// URL it refuses, userinfo included: the password reaches the journal.
func TestReviewStartErrorDoesNotEchoAURLPassword(t *testing.T) {
	const password = "Card-Pl4tform-Passw0rd"
	env := with(serveEnv(t), "BLOCKD_CARD_URL", "http://blockd:"+password+"@cards.internal/api")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"serve"}, envOf(env), &stdout, &stderr)
	if err == nil {
		t.Fatal("got nil, want blockd serve to refuse an http:// provider URL")
	}
	printed := "blockd: " + err.Error() // what main writes to stderr
	if strings.Contains(printed, password) || strings.Contains(stderr.String(), password) {
		t.Errorf("the start error shows the URL's password:\n%s", printed)
	}
}
