package arhivaar_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/schemas"
)

func TestAdapterBlockThenUnblock(t *testing.T) {
	f := newFixture(t, arhivaarfake.Config{})
	a := NewAdapter(f.client)
	id := newAccountID(t)
	tests := []struct {
		name    string
		cmd     schemas.Command
		want    Result
		wantRaw string
		wantAcc arhivaarfake.Account
	}{
		{"block",
			schemas.Command{Kind: schemas.KindBlock, TrackID: "arh-blk-0001", Provider: schemas.ProviderArhivaar, AccountID: id, Note: "Maksmata arve."},
			Result{AccountID: id, Blocked: true, Note: "Maksmata arve.", StateFrom: StateFromAnswer},
			`{"accountId":"` + id + `","blocked":true,"note":"Maksmata arve.","stateFrom":"answer"}`,
			arhivaarfake.Account{Blocked: true, Note: "Maksmata arve.", Changes: 1, Calls: 1}},
		{"unblock",
			schemas.Command{Kind: schemas.KindUnblock, TrackID: "arh-ubl-0001", Provider: schemas.ProviderArhivaar, AccountID: id, Note: "Arve makstud."},
			Result{AccountID: id, Blocked: false, Note: "Arve makstud.", StateFrom: StateFromAnswer},
			`{"accountId":"` + id + `","blocked":false,"note":"Arve makstud.","stateFrom":"answer"}`,
			arhivaarfake.Account{Blocked: false, Note: "Arve makstud.", Changes: 2, Calls: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := a.Execute(context.Background(), providers.Request{Command: tc.cmd, ProviderTrackID: "p-" + tc.cmd.TrackID})
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if string(raw) != tc.wantRaw {
				t.Errorf("got result %s, want %s", raw, tc.wantRaw)
			}
			var got Result
			if err := json.Unmarshal(raw, &got); err != nil || got != tc.want {
				t.Errorf("got result %+v (%v), want %+v", got, err, tc.want)
			}
			if acc, _ := f.sandbox.Account(id); acc != tc.wantAcc {
				t.Errorf("got account %+v, want %+v", acc, tc.wantAcc)
			}
		})
	}
}

func TestAdapterErrors(t *testing.T) {
	f := newFixture(t, arhivaarfake.Config{})
	a := NewAdapter(f.client)
	tests := []struct {
		name       string
		cmd        schemas.Command
		wantCode   string
		wantStatus int
	}{
		{"transfer", schemas.Command{Kind: schemas.KindTransfer, AccountID: "ab", Note: "n"}, CodeUnsupported, 0},
		{"inquiry", schemas.Command{Kind: schemas.KindInquiry, AccountID: "ab", Note: "n"}, CodeUnsupported, 0},
		{"no kind", schemas.Command{AccountID: "ab", Note: "n"}, CodeUnsupported, 0},
		// Sent as given: Arhivaar's refusal comes back.
		{"block without note", schemas.Command{Kind: schemas.KindBlock, AccountID: "ab"}, CodeInvalidNote, http.StatusOK},
		{"unblock of a bad id", schemas.Command{Kind: schemas.KindUnblock, AccountID: "A1", Note: "n"}, CodeInvalidID, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := a.Execute(context.Background(), providers.Request{Command: tc.cmd, ProviderTrackID: "p-1"})
			if raw != nil {
				t.Errorf("got result %s, want none", raw)
			}
			wantError(t, err, providers.Permanent, tc.wantCode, tc.wantStatus)
		})
	}
	if got, want := f.sandbox.Requests(), 2; got != want {
		t.Errorf("got %d requests, want %d (unsupported kinds are never sent)", got, want)
	}
	if n := f.sandbox.Applied(); n != 0 {
		t.Errorf("got %d applied calls, want 0", n)
	}
}
