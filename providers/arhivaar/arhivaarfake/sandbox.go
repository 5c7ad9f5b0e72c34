// Package arhivaarfake simulates Arhivaar for tests and development: a
// Sandbox is an in-memory HTTP server of the block / activate call the
// arhivaar Client makes, with fault injection, that the tests, the
// development run (`blockd dev` without BLOCKD_ARHIVAAR_URL), `blockd
// sandbox` and the chaos run use in place of Arhivaar. It is never used in
// production.
//
// It speaks the contract in providers/arhivaar/internal/wire, the one the
// Client speaks, and uses nothing of package arhivaar.
package arhivaarfake

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/blockd/blockd/providers/arhivaar/internal/wire"
	"github.com/blockd/blockd/providers/sandboxfault"
)

// Sandbox defaults.
const (
	// DefaultAccKey is the acc_key a Sandbox accepts by default.
	DefaultAccKey = "sandbox-acc-key"
	// DefaultSecret is the secret a Sandbox checks sig with by default.
	DefaultSecret = "sandbox-secret"
)

// Codes only the Sandbox answers with, for failures the seed says nothing
// about.
//
// Sandbox choice (arhivaar/doc.go, "The sandbox"): a throttled, broken or
// overloaded Arhivaar answers with a non-2xx status and an ERROR reply
// carrying these codes; the Client retries the 503 by its status and takes
// the others as unknown, their codes not being Arhivaar's.
const (
	sandboxCodeUnavailable    = "SERVICE_UNAVAILABLE"    // 503
	sandboxCodeTimeout        = "GATEWAY_TIMEOUT"        // 504
	sandboxCodeMediaType      = "UNSUPPORTED_MEDIA_TYPE" // 415
	sandboxCodeUnreadableBody = "BAD_REQUEST"            // 400
)

// The sandbox's limits on the fields.
const (
	// Sandbox choice (arhivaar/doc.go, "The sandbox"): an encoded account id
	// is lowercase hex of even length, 2–512 digits (1–256 bytes), like the
	// seed's "6475736574794c4e2f594d3d".
	minIDLen, maxIDLen = 2, 512
	// maxNoteRunes is the seed's "not longer than 1000 characters".
	// ASSUMPTION (arhivaar/doc.go, "Request"): characters are Unicode code
	// points.
	maxNoteRunes = 1000
	// maxRequestBody bounds what the sandbox reads of a request.
	maxRequestBody = 1 << 20
)

// Config configures a Sandbox. The zero value is a fast, faultless
// sandbox with the default acc_key and secret.
type Config struct {
	// AccKey is the accepted acc_key. Default DefaultAccKey.
	AccKey string
	// Secret is the partner secret sig is checked with. Default
	// DefaultSecret.
	Secret string
	// Latency is added to every call of the API (not to /_sandbox/ledger).
	// A client that gives up meanwhile does not stop the call. Default 0.
	Latency time.Duration
	// ErrorRate is the share (0..1) of calls answered 503 without being
	// applied. Default 0.
	ErrorRate float64
	// TimeoutRate is the share (0..1) of calls that hang for TimeoutDelay,
	// or until the client goes away, without being applied, then answer
	// 504. Default 0.
	TimeoutRate float64
	// ApplyThenDropRate is the share (0..1) of calls that are carried out,
	// after which the connection is closed without an answer. Default 0.
	ApplyThenDropRate float64
	// TimeoutDelay is how long a timed-out call hangs. Default 30s.
	TimeoutDelay time.Duration
	// Rates are the shares (0..1) of calls that draw each of the other
	// faults (see InjectNext for what each does), after the three above.
	// Default none.
	Rates map[sandboxfault.Fault]float64
	// LateBy is how long after the client gave up a FaultLateDelivery call
	// takes effect. Default 100ms.
	LateBy time.Duration
	// Seed seeds the fault draws (math/rand/v2 PCG). Default 0, a fixed
	// sequence like any other seed.
	Seed int64
}

// Account is one account in the sandbox ledger. An account the sandbox has
// not seen is active.
//
// Sandbox choice (arhivaar/doc.go, "The sandbox"): every well-formed id
// names an existing account, and a call that sets the state the account is
// already in is accepted (it counts in Calls, not in Changes) and replaces
// the note.
type Account struct {
	Blocked bool `json:"blocked"`
	// Note is the note of the last accepted call.
	Note string `json:"note"`
	// Changes counts the state transitions (active to blocked and back).
	Changes int `json:"changes"`
	// Calls counts the accepted calls, re-sends of the same state included.
	Calls int `json:"calls"`
}

// Sandbox is an in-memory simulator of Arhivaar's block / activate call as
// arhivaar/doc.go describes it: POST /partner-api/account/block.html
// with a signed form, checked field by field, against a ledger of accounts.
// Other paths answer 404, other methods 405. It serves GET /_sandbox/ledger
// for a look at the ledger. It is safe for concurrent use and logs nothing.
type Sandbox struct {
	accKey string
	secret string
	mux    *http.ServeMux

	faults *sandboxfault.Faults

	mu       sync.Mutex
	accounts map[string]*Account
	applied  int
	requests int
	// requestsFor counts the block calls that named each account id,
	// whatever became of them.
	requestsFor map[string]int
}

// New returns a Sandbox configured by cfg.
func New(cfg Config) *Sandbox {
	s := &Sandbox{
		accKey: cfg.AccKey,
		secret: cfg.Secret,
		faults: sandboxfault.New(sandboxfault.Config{Latency: cfg.Latency, ErrorRate: cfg.ErrorRate, TimeoutRate: cfg.TimeoutRate,
			ApplyThenDropRate: cfg.ApplyThenDropRate, Rates: cfg.Rates, TimeoutDelay: cfg.TimeoutDelay, LateBy: cfg.LateBy,
			Seed: cfg.Seed}),
		accounts:    make(map[string]*Account),
		requestsFor: make(map[string]int),
	}
	if s.accKey == "" {
		s.accKey = DefaultAccKey
	}
	if s.secret == "" {
		s.secret = DefaultSecret
	}

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+wire.BlockPath, s.block)
	s.mux.Handle("GET "+sandboxfault.LedgerPath, sandboxfault.Ledger(s.ledger))
	return s
}

// ServeHTTP serves the simulated API.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// SetFaults changes the fault rates (each clamped to 0..1) of the calls
// that arrive from now on. A call draws one fault, checked in this order:
// error, timeout, apply-then-drop.
func (s *Sandbox) SetFaults(errorRate, timeoutRate, applyDropRate float64) {
	s.faults.SetRates(errorRate, timeoutRate, applyDropRate)
}

// SetFaultRates replaces the rates (each clamped to 0..1) of the faults
// other than those of SetFaults, for the calls that arrive from now on.
func (s *Sandbox) SetFaultRates(rates map[sandboxfault.Fault]float64) {
	s.faults.SetFaultRates(rates)
}

// InjectNext makes the next call to the API suffer f, in place of a fault
// drawn at the configured rates. Arhivaar's page documents no failure but
// its refusal codes, so each fault is answered with the sandbox's own
// statuses and codes (arhivaar/doc.go, "The sandbox"):
//
//   - FaultRetryable: answer 503 without applying the call.
//   - FaultTimeout: hang without applying until TimeoutDelay passes or the
//     client goes away, then answer 504.
//   - FaultApplyThenDrop: carry the call out, then close the connection
//     unanswered.
//   - FaultTokenExpired: Arhivaar has no token; answer INVALID_SIGNATURE
//     without applying the call, as for a bad signature.
//   - FaultLateDelivery: hang unanswered until the client gives up (or
//     TimeoutDelay passes), close the connection, and carry the call out
//     LateBy later.
//   - FaultApplyThenTimeout: carry the call out, then answer 504
//     GATEWAY_TIMEOUT, the very answer of FaultTimeout: Arhivaar has no
//     timeout of its own, and a gateway in front of it that gave up would
//     say so whether or not the call went through behind it. So the client
//     cannot tell the two apart, as it could not at the real Arhivaar.
//   - FaultApplyThenNotResponding: Arhivaar has no "the bank did not
//     answer" error; as FaultApplyThenTimeout.
//   - FaultStatusLags: Arhivaar has no status inquiry; as
//     FaultApplyThenDrop.
//   - FaultNestedFailed: Arhivaar has no nested failure envelope; as
//     FaultRetryable.
func (s *Sandbox) InjectNext(f sandboxfault.Fault) {
	s.faults.InjectNext(f)
}

// Account returns the ledger entry of the account id.
func (s *Sandbox) Account(id string) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return Account{}, false
	}
	return *a, true
}

// Applied returns how many calls were accepted and carried out, re-sends
// of the same state included.
func (s *Sandbox) Applied() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

// Requests returns how many block calls (POSTs to the API path) arrived,
// whatever became of them. Requests to other paths are not counted: on a
// shared machine a stray client may reach a reused loopback port.
func (s *Sandbox) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// RequestsFor returns how many block calls naming account id arrived,
// whatever became of them. Unlike Requests, it cannot be raised by a
// stray client of another test that happens to reach the same port.
func (s *Sandbox) RequestsFor(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestsFor[id]
}

// block serves the block / activate call.
func (s *Sandbox) block(w http.ResponseWriter, r *http.Request) {
	// Read the whole body first: only then does the server notice a client
	// that goes away while the call hangs.
	raw, readErr := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if readErr == nil && len(raw) > maxRequestBody {
		readErr = errors.New("request body too long")
	}
	s.mu.Lock()
	s.requests++
	if form, err := url.ParseQuery(string(raw)); err == nil && readErr == nil {
		if id, ok := single(form, wire.FieldID); ok {
			s.requestsFor[id]++
		}
	}
	s.mu.Unlock()
	s.faults.Delay()

	switch f := s.nextFault(); f {
	case sandboxfault.FaultRetryable:
		writeReply(w, http.StatusServiceUnavailable, sandboxCodeUnavailable)
	case sandboxfault.FaultTimeout:
		s.faults.Hang(r.Context())
		writeReply(w, http.StatusGatewayTimeout, sandboxCodeTimeout)
	case sandboxfault.FaultTokenExpired:
		writeReply(w, http.StatusOK, wire.CodeInvalidSignature)
	case sandboxfault.FaultLateDelivery:
		s.faults.DeliverLate(w, r, func(late *http.Request) { _, _ = s.apply(late, raw, readErr) })
	default:
		status, code := s.apply(r, raw, readErr)
		switch f {
		case sandboxfault.FaultApplyThenDrop:
			// Applied (or refused); the answer is lost.
			sandboxfault.DropConnection(w)
		case sandboxfault.FaultApplyThenTimeout:
			// Applied (or refused); the gateway then gives up.
			writeReply(w, http.StatusGatewayTimeout, sandboxCodeTimeout)
		default:
			writeReply(w, status, code)
		}
	}
}

// apply checks a call, its body raw as read (readErr when it could not
// be), and carries it out. It returns the HTTP status and the error code,
// "" when the call was applied.
//
// Sandbox choice (arhivaar/doc.go, "The sandbox"): the checks run in this
// order: content type, signature, id, block, note; the first failing one
// answers.
func (s *Sandbox) apply(r *http.Request, raw []byte, readErr error) (status int, code string) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return http.StatusUnsupportedMediaType, sandboxCodeMediaType
	}
	if readErr != nil {
		return http.StatusBadRequest, sandboxCodeUnreadableBody
	}
	body := string(raw)
	form, err := url.ParseQuery(body)
	if err != nil {
		return http.StatusBadRequest, sandboxCodeUnreadableBody
	}
	if !s.signed(body, form) {
		return http.StatusOK, wire.CodeInvalidSignature
	}
	id, ok := single(form, wire.FieldID)
	if !ok || !isValidID(id) {
		return http.StatusOK, wire.CodeInvalidID
	}
	blockValue, ok := single(form, wire.FieldBlock)
	// Sandbox choice (arhivaar/doc.go, "The sandbox"): the seed's Boolean is
	// exactly "true" or "false", as in its samples.
	if !ok || blockValue != "true" && blockValue != "false" {
		return http.StatusOK, wire.CodeInvalidBlock
	}
	note, ok := single(form, wire.FieldNote)
	if !ok || !isValidNote(note) {
		return http.StatusOK, wire.CodeInvalidNote
	}

	blocked := blockValue == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[id]
	if a == nil {
		a = &Account{}
		s.accounts[id] = a
	}
	if a.Blocked != blocked {
		a.Blocked = blocked
		a.Changes++
	}
	a.Note = note
	a.Calls++
	s.applied++
	return http.StatusOK, ""
}

// signed checks acc_key and sig without ever recording either. sig must be
// the last field, and is checked against the body before it, exactly as
// received (see wire.Sign).
//
// ASSUMPTION (arhivaar/doc.go, "Error codes"): an unknown acc_key and a
// wrong sig are both answered INVALID_SIGNATURE with HTTP 200, like the
// documented codes.
func (s *Sandbox) signed(body string, form url.Values) bool {
	accKey, ok := single(form, wire.FieldAccKey)
	if !ok || subtle.ConstantTimeCompare([]byte(accKey), []byte(s.accKey)) != 1 {
		return false
	}
	sig, ok := single(form, wire.FieldSig)
	i := strings.LastIndex(body, wire.SigSeparator)
	if !ok || i < 0 || strings.Contains(body[i+len(wire.SigSeparator):], "&") {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(wire.Sign(s.secret, body[:i])))
}

// ledger is what GET /_sandbox/ledger shows: the accounts by id, the
// accepted calls and the requests received.
func (s *Sandbox) ledger() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	accounts := make(map[string]Account, len(s.accounts))
	for id, a := range s.accounts {
		accounts[id] = *a
	}
	return struct {
		Accounts map[string]Account `json:"accounts"`
		Applied  int                `json:"applied"`
		Requests int                `json:"requests"`
	}{accounts, s.applied, s.requests}
}

// nextFault returns the fault of a call, those Arhivaar has no answer of
// its own for replaced by their fallbacks (see InjectNext).
func (s *Sandbox) nextFault() sandboxfault.Fault {
	switch f, _ := s.faults.Next(); f {
	case sandboxfault.FaultApplyThenNotResponding:
		return sandboxfault.FaultApplyThenTimeout
	case sandboxfault.FaultStatusLags:
		return sandboxfault.FaultApplyThenDrop
	case sandboxfault.FaultNestedFailed:
		return sandboxfault.FaultRetryable
	default:
		return f
	}
}

// single returns the one value of a field; a missing or repeated field is
// not a value.
func single(form url.Values, field string) (string, bool) {
	v := form[field]
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// isValidID reports whether id is lowercase hex of even length 2–512.
func isValidID(id string) bool {
	if len(id) < minIDLen || len(id) > maxIDLen || len(id)%2 != 0 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isValidNote reports whether note is 1–1000 characters of valid UTF-8,
// not all of them white space.
//
// ASSUMPTION (arhivaar/doc.go, "Request"): the seed's "must not be empty"
// also refuses a note of white space only, as blockd's JSON Schema does.
func isValidNote(note string) bool {
	return utf8.ValidString(note) &&
		utf8.RuneCountInString(note) <= maxNoteRunes &&
		strings.TrimSpace(note) != ""
}

// writeReply answers {"response":"OK"} when code is "", else
// {"response":"ERROR","responseDescription":code}.
func writeReply(w http.ResponseWriter, status int, code string) {
	r := wire.Reply{Response: wire.ResponseOK}
	if code != "" {
		r = wire.Reply{Response: wire.ResponseError, ResponseDescription: wire.Description(code)}
	}
	writeJSON(w, status, r)
}

// writeJSON answers v with the seed's Content-Type and Cache-Control.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Not reached: the sandbox answers only strings, numbers and bools.
		http.Error(w, "encoding answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store,max-age=0,must-revalidate")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
