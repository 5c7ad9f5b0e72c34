package main

import (
	"os"
	"strings"
	"testing"
)

// Review (issue 11): the operator token's only rule is 16 characters, so
// a token any guesser tries first is accepted by blockd serve. A token of
// one repeated character, or of a few distinct ones, has next to no
// entropy; the README's own advice (openssl rand -hex 32) gives 64 hex
// digits.
func TestReviewServeRefusesAGuessableAdminToken(t *testing.T) {
	for _, token := range []string{"aaaaaaaaaaaaaaaa", "0000000000000000", "abababababababab"} {
		t.Run(token, func(t *testing.T) {
			_, err := loadServeConfig(envOf(with(serveEnv(t), "BLOCKD_ADMIN_TOKEN", token)), os.ReadFile)
			if err == nil || !strings.Contains(err.Error(), "BLOCKD_ADMIN_TOKEN") {
				t.Errorf("got %v, want blockd serve to refuse BLOCKD_ADMIN_TOKEN %q", err, token)
			}
		})
	}
}
