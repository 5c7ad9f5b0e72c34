package arhivaarfake

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/arhivaar/internal/wire"
	"github.com/blockd/blockd/providers/sandboxfault"
)

func TestSandboxValidation(t *testing.T) {
	const (
		key    = DefaultAccKey
		secret = DefaultSecret
		form   = "application/x-www-form-urlencoded"
	)
	good := func(id, block, note string) string {
		return formBody(secret, "id", id, "block", block, "note", note, "acc_key", key)
	}
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string // "" for OK
	}{
		{"good", form, good("6475736574794c4e2f594d3d", "true", "Maksmata arve."), 200, ""},
		{"activate", form, good("ab", "false", "Arve makstud."), 200, ""},
		{"seed content type", wire.FormContentType, good("ab", "true", "n"), 200, ""},
		{"id of 512 digits", form, good(strings.Repeat("0f", 256), "true", "n"), 200, ""},
		{"note of 1000 characters", form, good("ab", "true", strings.Repeat("õ", 1000)), 200, ""},
		{"note with spaces around", form, good("ab", "true", "  n  "), 200, ""},
		{"fields in another order", form, formBody(secret, "note", "n", "block", "true", "acc_key", key, "id", "ab"), 200, ""},

		{"content type JSON", "application/json", good("ab", "true", "n"), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"no content type", "", good("ab", "true", "n"), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"broken form", form, "id=%zz&sig=x", 400, "BAD_REQUEST"},

		{"wrong secret", form, formBody("other", "id", "ab", "block", "true", "note", "n", "acc_key", key), 200, wire.CodeInvalidSignature},
		{"wrong acc_key", form, formBody(secret, "id", "ab", "block", "true", "note", "n", "acc_key", "other"), 200, wire.CodeInvalidSignature},
		{"no acc_key", form, formBody(secret, "id", "ab", "block", "true", "note", "n"), 200, wire.CodeInvalidSignature},
		{"no sig", form, formBody("", "id", "ab", "block", "true", "note", "n", "acc_key", key), 200, wire.CodeInvalidSignature},
		{"sig not last", form, formBody(secret, "id", "ab", "block", "true", "note", "n", "acc_key", key) + "&x=1", 200, wire.CodeInvalidSignature},
		{"body changed after signing", form, strings.Replace(good("ab", "true", "n"), "block=true", "block=false", 1), 200, wire.CodeInvalidSignature},
		{"sig not escaped", form, unescapedSigBody(secret, key), 200, wire.CodeInvalidSignature},
		{"bad signature before bad id", form, formBody("other", "id", "", "block", "x", "note", "", "acc_key", key), 200, wire.CodeInvalidSignature},

		{"no id", form, formBody(secret, "block", "true", "note", "n", "acc_key", key), 200, wire.CodeInvalidID},
		{"empty id", form, good("", "true", "n"), 200, wire.CodeInvalidID},
		{"id not hex", form, good("not-hex!", "true", "n"), 200, wire.CodeInvalidID},
		{"id uppercase hex", form, good("6475736574794C4E", "true", "n"), 200, wire.CodeInvalidID},
		{"id of odd length", form, good("abc", "true", "n"), 200, wire.CodeInvalidID},
		{"id of one digit", form, good("a", "true", "n"), 200, wire.CodeInvalidID},
		{"id of 514 digits", form, good(strings.Repeat("0f", 257), "true", "n"), 200, wire.CodeInvalidID},
		{"id twice", form, formBody(secret, "id", "ab", "id", "cd", "block", "true", "note", "n", "acc_key", key), 200, wire.CodeInvalidID},
		{"bad id before bad block", form, good("xyz", "maybe", "n"), 200, wire.CodeInvalidID},

		{"no block", form, formBody(secret, "id", "ab", "note", "n", "acc_key", key), 200, wire.CodeInvalidBlock},
		{"block TRUE", form, good("ab", "TRUE", "n"), 200, wire.CodeInvalidBlock},
		{"block 1", form, good("ab", "1", "n"), 200, wire.CodeInvalidBlock},
		{"block empty", form, good("ab", "", "n"), 200, wire.CodeInvalidBlock},
		{"bad block before bad note", form, good("ab", "yes", ""), 200, wire.CodeInvalidBlock},

		{"no note", form, formBody(secret, "id", "ab", "block", "true", "acc_key", key), 200, wire.CodeInvalidNote},
		{"empty note", form, good("ab", "true", ""), 200, wire.CodeInvalidNote},
		{"blank note", form, good("ab", "true", " \t\u00a0\n"), 200, wire.CodeInvalidNote},
		{"note of 1001 characters", form, good("ab", "true", strings.Repeat("a", 1001)), 200, wire.CodeInvalidNote},
		{"note not UTF-8", form, good("ab", "true", "\xff"), 200, wire.CodeInvalidNote},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			a := f.rawCall(t, http.MethodPost, wire.BlockPath, tc.contentType, tc.body)
			want := wire.Reply{Response: wire.ResponseOK}
			if tc.wantCode != "" {
				want = wire.Reply{Response: wire.ResponseError, ResponseDescription: wire.Description(tc.wantCode)}
			}
			if a.status != tc.wantStatus || a.reply != want {
				t.Errorf("got HTTP %d %+v, want HTTP %d %+v", a.status, a.reply, tc.wantStatus, want)
			}
			wantApplied := 0
			if tc.wantCode == "" {
				wantApplied = 1
			}
			if got := f.sandbox.Applied(); got != wantApplied {
				t.Errorf("got %d applied calls, want %d", got, wantApplied)
			}
		})
	}
}

// unescapedSigBody is a good body whose sig is sent without form encoding;
// it holds a '+' that decodes to a space.
func unescapedSigBody(secret, key string) string {
	for _, note := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		unsigned := wire.UnsignedBody("ab", true, note, key)
		if sig := wire.Sign(secret, unsigned); strings.Contains(sig, "+") {
			return unsigned + "&sig=" + sig
		}
	}
	panic("no note gives a sig with '+'")
}

func TestSandboxRouting(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
	}{
		{"other path", http.MethodPost, "/partner-api/account/unblock.html", http.StatusNotFound},
		{"root", http.MethodGet, "/", http.StatusNotFound},
		{"GET of the call", http.MethodGet, wire.BlockPath, http.StatusMethodNotAllowed},
		{"POST of the ledger", http.MethodPost, "/_sandbox/ledger", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			a := f.rawCall(t, tc.method, tc.path, "", "")
			if a.status != tc.wantStatus {
				t.Errorf("got HTTP %d, want %d", a.status, tc.wantStatus)
			}
		})
	}
}

func TestSandboxHeaders(t *testing.T) {
	f := newFixture(t, Config{})
	for _, body := range []string{
		formBody(DefaultSecret, "id", "ab", "block", "true", "note", "n", "acc_key", DefaultAccKey),
		formBody(DefaultSecret, "id", "", "block", "true", "note", "n", "acc_key", DefaultAccKey),
	} {
		a := f.rawCall(t, http.MethodPost, wire.BlockPath, wire.FormContentType, body)
		if got, want := a.header.Get("Content-Type"), "application/json;charset=UTF-8"; got != want {
			t.Errorf("got Content-Type %q, want %q", got, want)
		}
		if got := a.header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
			t.Errorf("got Cache-Control %q, want no-store", got)
		}
	}
}

func TestSandboxLedger(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	id, other := newAccountID(t), newAccountID(t)
	steps := []struct {
		id    string
		block bool
		note  string
		want  Account
	}{
		{id, true, "Maksmata arve.", Account{Blocked: true, Note: "Maksmata arve.", Changes: 1, Calls: 1}},
		{id, true, "Maksmata arve, uuesti.", Account{Blocked: true, Note: "Maksmata arve, uuesti.", Changes: 1, Calls: 2}},
		{id, false, "Arve makstud.", Account{Blocked: false, Note: "Arve makstud.", Changes: 2, Calls: 3}},
		{other, false, "Juba aktiivne.", Account{Blocked: false, Note: "Juba aktiivne.", Changes: 0, Calls: 1}},
	}
	for i, st := range steps {
		if err := f.client.SetBlocked(ctx, st.id, st.block, st.note); err != nil {
			t.Fatalf("step %d: SetBlocked: %v", i, err)
		}
		if got, ok := f.sandbox.Account(st.id); !ok || got != st.want {
			t.Errorf("step %d: got account %+v (%v), want %+v", i, got, ok, st.want)
		}
	}
	if _, ok := f.sandbox.Account(newAccountID(t)); ok {
		t.Error("got an account never called, want none")
	}
	// A refused call counts as a request, not as applied; a wrong path
	// is not a call and counts as neither.
	if err := f.client.SetBlocked(ctx, id, true, ""); err == nil {
		t.Fatal("SetBlocked with an empty note: got no error")
	}
	f.rawCall(t, http.MethodGet, "/nowhere", "", "")

	if got, want := f.sandbox.Applied(), 4; got != want {
		t.Errorf("got Applied %d, want %d", got, want)
	}
	if got, want := f.sandbox.Requests(), 5; got != want {
		t.Errorf("got Requests %d, want %d", got, want)
	}
	// The refused call counts for its account too; the wrong path names none.
	for acc, want := range map[string]int{id: 4, other: 1, newAccountID(t): 0} {
		if got := f.sandbox.RequestsFor(acc); got != want {
			t.Errorf("got RequestsFor(%s) %d, want %d", acc, got, want)
		}
	}

	resp, err := f.server.Client().Get(f.server.URL + "/_sandbox/ledger")
	if err != nil {
		t.Fatalf("getting the ledger: %v", err)
	}
	defer resp.Body.Close()
	var ledger struct {
		Accounts map[string]Account `json:"accounts"`
		Applied  int                `json:"applied"`
		Requests int                `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ledger); err != nil {
		t.Fatalf("decoding the ledger: %v", err)
	}
	if len(ledger.Accounts) != 2 || ledger.Accounts[id] != steps[2].want || ledger.Accounts[other] != steps[3].want {
		t.Errorf("got ledger accounts %+v, want %s: %+v and %s: %+v", ledger.Accounts, id, steps[2].want, other, steps[3].want)
	}
	if ledger.Applied != 4 || ledger.Requests != 5 {
		t.Errorf("got ledger applied %d requests %d, want 4 and 5 (the ledger itself is not counted)", ledger.Applied, ledger.Requests)
	}
}

func TestSandboxFaultRates(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		wantClass   providers.Class
		wantStatus  int
		wantApplied int
	}{
		{"error", Config{ErrorRate: 1}, providers.Retryable, http.StatusServiceUnavailable, 0},
		{"timeout", Config{TimeoutRate: 1, TimeoutDelay: 10 * time.Millisecond}, providers.Unknown, http.StatusGatewayTimeout, 0},
		{"apply then drop", Config{ApplyThenDropRate: 1}, providers.Unknown, 0, 1},
		{"rates above 1 are clamped", Config{ErrorRate: 7}, providers.Retryable, http.StatusServiceUnavailable, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			id := newAccountID(t)
			err := f.client.SetBlocked(context.Background(), id, true, "n")
			pe := providerError(t, err)
			if pe.Class != tc.wantClass || pe.HTTPStatus != tc.wantStatus {
				t.Errorf("got %s (HTTP %d), want %s (HTTP %d); error: %v", pe.Class, pe.HTTPStatus, tc.wantClass, tc.wantStatus, err)
			}
			if got := f.sandbox.Applied(); got != tc.wantApplied {
				t.Errorf("got %d applied calls, want %d", got, tc.wantApplied)
			}
			_, ok := f.sandbox.Account(id)
			if ok != (tc.wantApplied == 1) {
				t.Errorf("got account in ledger %v, want %v", ok, tc.wantApplied == 1)
			}

			f.sandbox.SetFaults(0, 0, 0)
			if err := f.client.SetBlocked(context.Background(), id, true, "n"); err != nil {
				t.Errorf("after SetFaults(0, 0, 0): %v", err)
			}
		})
	}
}

func TestSandboxFaultSequenceFollowsSeed(t *testing.T) {
	outcomes := func(seed int64) []bool {
		f := newFixture(t, Config{ErrorRate: 0.5, Seed: seed})
		var out []bool
		for range 32 {
			out = append(out, f.client.SetBlocked(context.Background(), "ab", true, "n") == nil)
		}
		return out
	}
	a, b := outcomes(42), outcomes(42)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: got %v and %v with the same seed, want the same", i, a[i], b[i])
		}
	}
	var ok int
	for _, v := range a {
		if v {
			ok++
		}
	}
	if ok == 0 || ok == len(a) {
		t.Errorf("got %d of %d calls through at ErrorRate 0.5, want some of each", ok, len(a))
	}
}

func TestSandboxInjectNext(t *testing.T) {
	tests := []struct {
		name        string
		fault       sandboxfault.Fault
		wantClass   providers.Class
		wantCode    string
		wantStatus  int
		wantApplied int
	}{
		{"retryable", sandboxfault.FaultRetryable, providers.Retryable, "SERVICE_UNAVAILABLE", http.StatusServiceUnavailable, 0},
		{"timeout", sandboxfault.FaultTimeout, providers.Unknown, "", 0, 0},
		{"apply then drop", sandboxfault.FaultApplyThenDrop, providers.Unknown, "", 0, 1},
		{"token expired", sandboxfault.FaultTokenExpired, providers.Permanent, wire.CodeInvalidSignature, http.StatusOK, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			f.sandbox.InjectNext(tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := f.client.SetBlocked(ctx, newAccountID(t), true, "n")
			wantError(t, err, tc.wantClass, tc.wantCode, tc.wantStatus)
			if got := f.sandbox.Applied(); got != tc.wantApplied {
				t.Errorf("got %d applied calls, want %d", got, tc.wantApplied)
			}
			// The fault was for that call only.
			if err := f.client.SetBlocked(context.Background(), newAccountID(t), true, "n"); err != nil {
				t.Errorf("the call after the injected one: %v", err)
			}
		})
	}
}

func TestSandboxConcurrentUse(t *testing.T) {
	f := newFixture(t, Config{})
	shared := newAccountID(t)
	const workers, calls = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for w := range workers {
		wg.Go(func() {
			own := newAccountID(t)
			for i := range calls {
				if err := f.client.SetBlocked(context.Background(), shared, (w+i)%2 == 0, "n"); err != nil {
					errs <- err
				}
				if err := f.client.SetBlocked(context.Background(), own, true, "n"); err != nil {
					errs <- err
				}
				f.sandbox.Account(shared)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("SetBlocked: %v", err)
	}
	if got, want := f.sandbox.Applied(), 2*workers*calls; got != want {
		t.Errorf("got Applied %d, want %d", got, want)
	}
	if got, want := f.sandbox.Requests(), 2*workers*calls; got != want {
		t.Errorf("got Requests %d, want %d", got, want)
	}
	if a, _ := f.sandbox.Account(shared); a.Calls != workers*calls || a.Changes > a.Calls {
		t.Errorf("got shared account %+v, want %d calls and no more changes than calls", a, workers*calls)
	}
}
