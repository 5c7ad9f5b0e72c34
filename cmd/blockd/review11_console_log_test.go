package main

import (
	"bytes"
	"strings"
	"testing"
)

// Review (issue 11): the redaction keeps a trackId whole only as the JSON
// field "trackId":"…". With BLOCKD_LOG_FORMAT=console the same field is
// written trackId=…, and a trackId of digits (the schema allows 1-40
// letters, digits, '-' or '_'; Finnotech's are often numeric) is masked, so
// the log no longer says which command a line is about.
func TestReviewConsoleLogKeepsTrackIDs(t *testing.T) {
	for _, trackID := range []string{"order-20261123000001", "140211230000017"} {
		t.Run(trackID, func(t *testing.T) {
			var out bytes.Buffer
			log, err := newLogger(config{LogLevel: "info", LogFormat: "console", InstanceID: "test"}, &out)
			if err != nil {
				t.Fatal(err)
			}
			log.Info().Str("trackId", trackID).Msg("command DONE")
			if !strings.Contains(out.String(), trackID) {
				t.Errorf("console log line %q lost trackId %q", out.String(), trackID)
			}
		})
	}
}
