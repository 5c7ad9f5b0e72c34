// Package cardfake simulates the card platform for tests and development:
// a Sandbox is an in-memory HTTP server of the services the card Client
// calls (the token endpoint, blockUnblock and the details inquiry), with
// fault injection, that the tests, the development run (`blockd dev`
// without BLOCKD_CARD_URL), `blockd sandbox` and the chaos run use in
// place of the platform. It is never used in production.
//
// It speaks the contract in providers/card/internal/wire, the one the
// Client speaks, and uses nothing else of package card but its exported
// API.
package cardfake

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/providers/sandboxfault"
)

// Config configures a Sandbox. The zero value is a fast, faultless
// sandbox with the default credentials and priorities.
type Config struct {
	// ClientID and ClientSecret are the only client credentials the token
	// endpoint accepts. Default "sandbox-client" and "sandbox-secret".
	ClientID     string
	ClientSecret string
	// TokenLifetime is how long an issued token is accepted; expires_in is
	// its whole seconds. Default 7199s, as the platform's.
	TokenLifetime time.Duration
	// Priorities maps a block code letter ("A".."Z") to its priority 0..99
	// (clamped). Letters not in the map keep their default: 10 for every
	// letter, except 'A' 5 and 'Z' 90. Keys that are not one letter A–Z are
	// ignored.
	Priorities map[string]int
	// DateFormat is the Go layout of blockCode1Date and blockCode2Date.
	// Default "02/01/2006" (DD/MM/YYYY).
	DateFormat string
	// Latency is added to every API call (not to /_sandbox/ledger). A
	// client that gives up meanwhile does not stop the call. Default 0.
	Latency time.Duration
	// ErrorRate is the share (0..1) of blockUnblock calls answered 503
	// errorCode 250301 without being applied. Default 0.
	ErrorRate float64
	// TimeoutRate is the share (0..1) of blockUnblock calls that hang for
	// TimeoutDelay, or until the client goes away, without being applied,
	// then answer 504. Default 0.
	TimeoutRate float64
	// ApplyThenDropRate is the share (0..1) of blockUnblock calls that are
	// carried out, after which the connection is closed without an answer.
	// Default 0.
	ApplyThenDropRate float64
	// TimeoutDelay is how long a timed-out call hangs. Default 30s.
	TimeoutDelay time.Duration
	// Rates are the shares (0..1) of blockUnblock calls that draw each of
	// the other faults (see InjectNext for what each does), after the three
	// above. Default none.
	Rates map[sandboxfault.Fault]float64
	// LateBy is how long after the client gave up a FaultLateDelivery call
	// takes effect. Default 100ms.
	LateBy time.Duration
	// Seed seeds the fault draws (math/rand/v2 PCG). Default 0, a fixed
	// sequence like any other seed.
	Seed int64
	// Now is the sandbox clock: token expiry and the block code dates.
	// Default time.Now.
	Now func() time.Time
}

// Sandbox defaults.
const (
	// DefaultClientID and DefaultClientSecret are the client credentials
	// the token endpoint accepts when Config leaves them empty.
	DefaultClientID      = "sandbox-client"
	DefaultClientSecret  = "sandbox-secret"
	defaultTokenLifetime = 7199 * time.Second
	defaultDateFormat    = "02/01/2006"
	defaultPriority      = 10
	// Sandbox choice (card/doc.go, "The sandbox"): an account the sandbox
	// creates on first use belongs to business unit 100 (the seed's example)
	// unless the call names one.
	defaultBusinessUnit = 100
	maxBusinessUnit     = 998
	maxPriority         = 99
	// maxBody is the largest request body the sandbox reads.
	maxBody = 1 << 20
)

// Sandbox is an in-memory simulator of the card platform services the Client
// calls, as card/doc.go describes them: client-credentials tokens that
// expire, blockUnblock with its validation and block code priorities, and the
// details inquiry. It serves GET /_sandbox/ledger for a look at the accounts.
// It is safe for concurrent use and logs nothing.
//
// An account need not be seeded: one whose id is 19 digits is created,
// empty, on first use, except that ids starting with "999" never exist
// (V5BS0010SF).
type Sandbox struct {
	clientID      string
	clientSecret  string
	tokenLifetime time.Duration
	priorities    [26]int
	dateFormat    string
	now           func() time.Time
	mux           *http.ServeMux

	faults *sandboxfault.Faults

	mu       sync.Mutex
	tokens   map[string]time.Time
	accounts map[string]*card.Account
	applied  int
	requests int
	issued   int
}

// New returns a Sandbox configured by cfg.
func New(cfg Config) *Sandbox {
	s := &Sandbox{
		clientID:      cmp.Or(cfg.ClientID, DefaultClientID),
		clientSecret:  cmp.Or(cfg.ClientSecret, DefaultClientSecret),
		tokenLifetime: cfg.TokenLifetime,
		dateFormat:    cmp.Or(cfg.DateFormat, defaultDateFormat),
		now:           cfg.Now,
		faults: sandboxfault.New(sandboxfault.Config{Latency: cfg.Latency, ErrorRate: cfg.ErrorRate, TimeoutRate: cfg.TimeoutRate,
			ApplyThenDropRate: cfg.ApplyThenDropRate, Rates: cfg.Rates, TimeoutDelay: cfg.TimeoutDelay, LateBy: cfg.LateBy,
			Seed: cfg.Seed}),
		tokens:   make(map[string]time.Time),
		accounts: make(map[string]*card.Account),
	}
	if s.tokenLifetime <= 0 {
		s.tokenLifetime = defaultTokenLifetime
	}
	if s.now == nil {
		s.now = time.Now
	}
	// Sandbox choice (card/doc.go, "The sandbox"): priorities are sandbox
	// configuration; the platform defines them per product in its block code
	// matrix.
	for i := range s.priorities {
		s.priorities[i] = defaultPriority
	}
	s.priorities[0] = 5 // A
	s.priorities['Z'-'A'] = 90
	for k, v := range cfg.Priorities {
		if len(k) == 1 && k[0] >= 'A' && k[0] <= 'Z' {
			s.priorities[k[0]-'A'] = min(max(v, 0), maxPriority)
		}
	}

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+wire.TokenPath, s.token)
	s.mux.HandleFunc("PUT "+fmt.Sprintf(wire.BlockUnblockPath, "{accountId}"), s.blockUnblock)
	s.mux.HandleFunc("GET "+fmt.Sprintf(wire.DetailsPath, "{accountId}"), s.details)
	s.mux.Handle("GET "+sandboxfault.LedgerPath, sandboxfault.Ledger(s.ledger))
	s.mux.HandleFunc("/", s.noSuchAPI)
	return s
}

// ServeHTTP serves the simulated API.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// SetFaults changes the fault rates (each clamped to 0..1) of the
// blockUnblock calls that arrive from now on. A call draws one fault,
// checked in this order: error, timeout, apply-then-drop.
func (s *Sandbox) SetFaults(errorRate, timeoutRate, applyDropRate float64) {
	s.faults.SetRates(errorRate, timeoutRate, applyDropRate)
}

// SetFaultRates replaces the rates (each clamped to 0..1) of the faults
// other than those of SetFaults, for the blockUnblock calls that arrive
// from now on.
func (s *Sandbox) SetFaultRates(rates map[sandboxfault.Fault]float64) {
	s.faults.SetFaultRates(rates)
}

// InjectNext makes the next blockUnblock call suffer f, whatever the fault
// rates draw. Each fault is answered as the card platform would:
//
//   - FaultRetryable: 503 errorCode 250301 without applying.
//   - FaultTimeout: hang without applying, then 504 (plain text, from a
//     proxy).
//   - FaultApplyThenDrop: apply the call, then close the connection
//     unanswered.
//   - FaultTokenExpired: revoke the call's token and answer 401 errorCode
//     240101 without applying.
//   - FaultLateDelivery: hang unanswered until the client gives up (or
//     TimeoutDelay passes), close the connection, and apply the call
//     LateBy later.
//   - FaultApplyThenTimeout: apply the call, then answer 504 with the
//     platform's error array, errorCode 250401 (an assumption, see
//     wire.CodeGatewayTimeout).
//   - FaultApplyThenNotResponding: the platform has no "the bank did not
//     answer" error; as FaultApplyThenTimeout.
//   - FaultStatusLags: the platform's inquiry is a state read (details),
//     which has no UNKNOWN answer, and no document says it lags behind the
//     account; as FaultApplyThenDrop.
//   - FaultNestedFailed: the platform has no nested failure envelope; as
//     FaultRetryable.
func (s *Sandbox) InjectNext(f sandboxfault.Fault) {
	s.faults.InjectNext(f)
}

// SeedAccount creates the account id in businessUnit with both slots
// empty, replacing any account of that id. Any id may be seeded, even one
// the sandbox would refuse as invalid.
func (s *Sandbox) SeedAccount(id string, businessUnit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[id] = &card.Account{AccountID: id, BusinessUnit: businessUnit}
}

// Account returns the account id as the sandbox holds it.
func (s *Sandbox) Account(id string) (card.Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return card.Account{}, false
	}
	return *a, true
}

// Applied returns how many blockUnblock calls changed an account.
func (s *Sandbox) Applied() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

// Requests returns how many blockUnblock calls arrived, whatever became of
// them.
func (s *Sandbox) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// TokensIssued returns how many tokens the token endpoint issued.
func (s *Sandbox) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// Titles and texts of the sandbox's answers: the platform's where the
// documents give them.
const (
	detailSeeInvalidParams = "Please refer to invalid-params for error details"
	sourceGateway          = "APT"
	sourceAuth             = "AGT"
	sourceVPL              = "VPL"
)

// token serves POST /v1/api/oauth/token.
func (s *Sandbox) token(w http.ResponseWriter, r *http.Request) {
	s.faults.Delay()
	if e := checkJSON(r); e != nil {
		writeErrors(w, r, e)
		return
	}
	var req wire.TokenRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		writeErrors(w, r, gatewayError(http.StatusBadRequest, wire.CodeNotReadable, "Message not readable"))
		return
	}
	// Sandbox choice (card/doc.go, "The sandbox"): the sandbox issues opaque
	// tokens, not the platform's RS256 JWTs; scope "all" covers "accounts".
	if req.GrantType != wire.GrantType || (req.Scope != wire.TokenScope && req.Scope != "all") ||
		subtle.ConstantTimeCompare([]byte(req.ClientID), []byte(s.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(req.ClientSecret), []byte(s.clientSecret)) != 1 {
		e := &wire.APIError{ErrorCode: wire.CodeUnauthorized, Source: sourceAuth, Status: http.StatusUnauthorized,
			Title: "Unauthorized", Detail: "Invalid client credentials, scope or grant_type"}
		writeErrors(w, r, e)
		return
	}

	tok := rand.Text()
	now := s.now()
	s.mu.Lock()
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = now.Add(s.tokenLifetime)
	s.issued++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, wire.TokenResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: providers.FlexInt(s.tokenLifetime / time.Second)})
}

// blockUnblock serves PUT /v1/accounts/{accountId}/blockUnblock.
func (s *Sandbox) blockUnblock(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	f, _ := s.faults.Next()
	// The faults the platform has no answer of its own for.
	switch f {
	case sandboxfault.FaultApplyThenNotResponding:
		f = sandboxfault.FaultApplyThenTimeout
	case sandboxfault.FaultStatusLags:
		f = sandboxfault.FaultApplyThenDrop
	case sandboxfault.FaultNestedFailed:
		f = sandboxfault.FaultRetryable
	}
	if f == sandboxfault.FaultTokenExpired {
		delete(s.tokens, bearer(r))
	}
	s.mu.Unlock()

	// Read the whole request first, as a server does before processing it;
	// this also lets the server notice a client that goes away.
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody))

	s.faults.Delay()

	if f == sandboxfault.FaultTokenExpired || !s.authorized(r) {
		writeErrors(w, r, unauthorized())
		return
	}
	switch f {
	case sandboxfault.FaultRetryable:
		writeErrors(w, r, gatewayError(http.StatusServiceUnavailable, wire.CodeServiceUnavailable, "Service Unavailable"))
		return
	case sandboxfault.FaultTimeout:
		s.faults.Hang(r.Context())
		// Sandbox choice (card/doc.go, "The sandbox"): a gateway timeout
		// comes from a proxy, as plain text rather than the platform's error
		// array.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = io.WriteString(w, "gateway timeout\n")
		return
	case sandboxfault.FaultLateDelivery:
		s.faults.DeliverLate(w, r, func(late *http.Request) { _, _ = s.update(late, body, readErr) })
		return
	}

	acct, e := s.update(r, body, readErr)
	switch f {
	case sandboxfault.FaultApplyThenDrop:
		// Applied (or refused); the answer is lost.
		sandboxfault.DropConnection(w)
		return
	case sandboxfault.FaultApplyThenTimeout:
		// Applied (or refused); the platform's gateway then times out.
		writeErrors(w, r, gatewayError(http.StatusGatewayTimeout, wire.CodeGatewayTimeout, "Gateway Timeout"))
		return
	}
	if e != nil {
		writeErrors(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, wireAccount(acct))
}

// update checks a blockUnblock call with its body and carries it out. It
// returns the account after the change, or the error to answer with, in
// which case nothing changed.
func (s *Sandbox) update(r *http.Request, body []byte, readErr error) (card.Account, *wire.APIError) {
	id := r.PathValue("accountId")
	bu, e := businessUnitParam(r)
	if e != nil {
		return card.Account{}, e
	}
	if e := checkJSON(r); e != nil {
		return card.Account{}, e
	}
	if readErr != nil || len(bytes.TrimSpace(body)) == 0 {
		return card.Account{}, gatewayError(http.StatusBadRequest, wire.CodePayloadEmpty, "Payload is empty")
	}
	var req wire.BlockUnblockBody
	if err := json.Unmarshal(body, &req); err != nil {
		return card.Account{}, gatewayError(http.StatusBadRequest, wire.CodeNotReadable, "Message not readable")
	}
	// The seed: at least one of blockCode1 and blockCode2. Sandbox choice
	// (card/doc.go, "The sandbox"): the gateway refuses a body with neither
	// as 240009 "Required field(s) missing", and a bad account id or block
	// code comes back from VisionPLUS as 400 with the seed's code
	// (V5BS4002SA, V5BS0125SV, V5BS0127SV) rather than as a gateway
	// constraint error.
	if req.BlockCode1 == nil && req.BlockCode2 == nil {
		return card.Account{}, gatewayError(http.StatusBadRequest, wire.CodeFieldMissing, "Required field(s) missing",
			"blockCode1: one of blockCode1 and blockCode2 is required")
	}
	if utf8.RuneCountInString(id) != wire.AccountIDLen {
		return card.Account{}, vplError(http.StatusBadRequest, wire.AppInvalidAccount, "Invalid account number")
	}
	if req.BlockCode1 != nil && !validBlockCode(*req.BlockCode1) {
		return card.Account{}, vplError(http.StatusBadRequest, wire.AppInvalidBlockCode1, "Account - Invalid block code 1")
	}
	if req.BlockCode2 != nil && !validBlockCode(*req.BlockCode2) {
		return card.Account{}, vplError(http.StatusBadRequest, wire.AppInvalidBlockCode2, "Account - Invalid block code 2")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.lookup(id, bu)
	if e != nil {
		return card.Account{}, e
	}
	if bu != 0 && bu != a.BusinessUnit {
		return card.Account{}, vplError(http.StatusBadRequest, wire.AppInvalidBU, "Invalid business unit")
	}
	// Work on a copy: a refusal changes nothing.
	next := *a
	today := s.now().Format(s.dateFormat)
	asked := [3]*string{nil, req.BlockCode1, req.BlockCode2}
	for slot := 1; slot <= 2; slot++ {
		if asked[slot] == nil {
			continue
		}
		code := *asked[slot]
		if code == wire.RemoveCode {
			// No priority check on unblock (the seed).
			setSlot(&next, slot, "", today)
			continue
		}
		into, ok := s.place(next, slot, code, asked[3-slot] != nil)
		if !ok {
			if slot == 1 {
				return card.Account{}, vplError(http.StatusUnprocessableEntity, wire.AppBlockCode1Kept, "Block Code 1 cannot be replaced with one of the lower priority")
			}
			return card.Account{}, vplError(http.StatusUnprocessableEntity, wire.AppBlockCode2Kept, "Block Code 2 cannot be replaced with one of the lower priority")
		}
		setSlot(&next, into, code, today)
	}
	*a = next
	s.applied++
	return *a, nil
}

// place decides where a new block code asked for slot goes on the account
// a, as the seed says (its first two paragraphs; card/doc.go, "Block and
// unblock"), and never as the Client expects:
//
//  1. The slot asked is free: the code goes there.
//  2. The slot asked is in use and the other slot is free: the code goes
//     into the other slot. The seed: "When either block code 1 or block
//     code 2 has a value other than spaces, the new block code can be
//     applied to the unused entry on the account." No priority is
//     compared, since nothing is replaced; the existing code stays where
//     it is. This holds even when the code in use is the same letter: the
//     seed names no exception, so a replay of a block that succeeded puts
//     the code in a second time. The other slot counts as free only when
//     the same call does not also name it (otherOwn).
//  3. Both slots are in use: the seed's priority rule, on the slot asked.
//     "System will check if the new block code 1 or 2 priority is greater
//     than the existing block code priority then system will update the
//     new block code value in block code 1 or block code 2 fields Other
//     wise it will retain the existing value itself": the code replaces
//     the slot's code when its priority is strictly greater.
//  4. Equal (or lower) priority, the same letter included: the existing
//     code is retained, and ok is false (the seed's V5BS0125SC /
//     V5BS0127SC, "cannot be replaced with one of the lower priority").
//
// A removal (a space) is not placed: it empties the slot asked, with no
// priority check (the seed).
func (s *Sandbox) place(a card.Account, slot int, code string, otherOwn bool) (into int, ok bool) {
	other := 3 - slot
	switch {
	case a.BlockCode(slot) == "":
		return slot, true
	case a.BlockCode(other) == "" && !otherOwn:
		return other, true
	case s.priority(code) > s.priority(a.BlockCode(slot)):
		return slot, true
	default:
		return 0, false
	}
}

// setSlot puts code into slot of a, dated today.
func setSlot(a *card.Account, slot int, code, today string) {
	if slot == 1 {
		a.BlockCode1, a.BlockCode1Date = strings.TrimSpace(code), today
	} else {
		a.BlockCode2, a.BlockCode2Date = strings.TrimSpace(code), today
	}
}

func (s *Sandbox) priority(code string) int {
	if len(code) != 1 || code[0] < 'A' || code[0] > 'Z' {
		return 0
	}
	return s.priorities[code[0]-'A']
}

// lookup returns the account id, creating it in businessUnit bu (or the
// default) when it may exist but does not yet. s.mu is held.
func (s *Sandbox) lookup(id string, bu int) (*card.Account, *wire.APIError) {
	if a, ok := s.accounts[id]; ok {
		return a, nil
	}
	// Sandbox choice (card/doc.go, "The sandbox"): every 19-digit account
	// exists in the sandbox except those starting with 999, so tests need not
	// seed.
	if !allDigits(id) || strings.HasPrefix(id, "999") {
		return nil, vplError(http.StatusNotFound, wire.AppRecordNotFound, "Update Request - Record not found")
	}
	a := &card.Account{AccountID: id, BusinessUnit: cmp.Or(bu, defaultBusinessUnit)}
	s.accounts[id] = a
	return a, nil
}

// details serves GET /v1/accounts/{accountId}/details.
func (s *Sandbox) details(w http.ResponseWriter, r *http.Request) {
	s.faults.Delay()
	if !s.authorized(r) {
		writeErrors(w, r, unauthorized())
		return
	}
	id := r.PathValue("accountId")
	if utf8.RuneCountInString(id) != wire.AccountIDLen {
		writeErrors(w, r, vplError(http.StatusBadRequest, wire.AppInvalidAccount, "Invalid account number"))
		return
	}
	s.mu.Lock()
	a, e := s.lookup(id, 0)
	var acct card.Account
	if e == nil {
		acct = *a
	}
	s.mu.Unlock()
	if e != nil {
		// ASSUMPTION (card/doc.go, "State inquiry"): the inquiry answers a
		// missing account as the update does.
		writeErrors(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, wireAccount(acct))
}

// ledger is what GET /_sandbox/ledger shows: the accounts, by id, and the
// counters.
func (s *Sandbox) ledger() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	accounts := make([]card.Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accounts = append(accounts, *a)
	}
	slices.SortFunc(accounts, func(a, b card.Account) int { return strings.Compare(a.AccountID, b.AccountID) })
	return struct {
		Accounts     []card.Account `json:"accounts"`
		Applied      int            `json:"applied"`
		Requests     int            `json:"requests"`
		TokensIssued int            `json:"tokensIssued"`
	}{accounts, s.applied, s.requests, s.issued}
}

// noSuchAPI answers any other path or method.
func (s *Sandbox) noSuchAPI(w http.ResponseWriter, r *http.Request) {
	writeErrors(w, r, gatewayError(http.StatusNotFound, wire.CodeNoSuchAPI, "No API exist for this instance"))
}

// authorized reports whether r carries a token the sandbox issued and that
// has not expired or been revoked. The token is never recorded.
func (s *Sandbox) authorized(r *http.Request) bool {
	tok := bearer(r)
	if tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.now().Before(exp)
}

// bearer returns the Bearer token of r, "" when there is none.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// businessUnitParam reads the optional businessUnit query parameter; 0
// when it is absent.
func businessUnitParam(r *http.Request) (int, *wire.APIError) {
	q := r.URL.Query()
	if !q.Has("businessUnit") {
		return 0, nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(q.Get("businessUnit")))
	switch {
	case err != nil:
		return 0, gatewayError(http.StatusBadRequest, wire.CodeArgsInvalid, "Method argument(s) not valid",
			"businessUnit: This field must contain a numeric value")
	// Sandbox choice (card/doc.go, "The sandbox"): an out-of-range
	// businessUnit is refused by the gateway as the platform's documents show
	// it for other account calls: 400 errorCode 240010 "Constraint(s)
	// Violated". The documented schema maximum is 999; the sandbox enforces
	// the platform's 1–998.
	case v < 1:
		return 0, gatewayError(http.StatusBadRequest, wire.CodeConstraintViolated, "Constraint(s) Violated",
			"businessUnit: The minimum value for this field is 1")
	case v > maxBusinessUnit:
		return 0, gatewayError(http.StatusBadRequest, wire.CodeConstraintViolated, "Constraint(s) Violated",
			fmt.Sprintf("businessUnit: The maximum value for this field is %d", maxBusinessUnit))
	}
	return v, nil
}

// checkJSON refuses a body that is not declared JSON.
func checkJSON(r *http.Request) *wire.APIError {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return gatewayError(http.StatusUnsupportedMediaType, wire.CodeNoContentType, "Content type is not provided")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return gatewayError(http.StatusUnsupportedMediaType, wire.CodeJSONOnly, "Allowed content type for this client is application/json")
	}
	return nil
}

// validBlockCode: one letter A–Z, or a space.
func validBlockCode(c string) bool {
	return len(c) == 1 && (c[0] >= 'A' && c[0] <= 'Z' || c == wire.RemoveCode)
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func unauthorized() *wire.APIError {
	return &wire.APIError{ErrorCode: wire.CodeUnauthorized, Source: sourceAuth, Status: http.StatusUnauthorized,
		Title: "Unauthorized", Detail: "The token is expired"}
}

// gatewayError is an error of the API gateway (source APT), with the
// details in params when there are any.
func gatewayError(status int, errorCode, title string, params ...string) *wire.APIError {
	e := &wire.APIError{ErrorCode: wire.FlexString(errorCode), Source: sourceGateway, Status: status, Title: title, Detail: title}
	if len(params) > 0 {
		e.Detail = detailSeeInvalidParams
		e.InvalidParams = params
	}
	return e
}

// vplError is a VisionPLUS refusal: errorCode by HTTP status, the
// VisionPLUS code and text in invalid-params, as in the seed.
func vplError(status int, appCode, text string) *wire.APIError {
	e := &wire.APIError{Source: sourceVPL, Status: status, Detail: detailSeeInvalidParams,
		InvalidParams: []string{appCode + ": " + text}}
	switch status {
	case http.StatusNotFound:
		e.ErrorCode, e.Title = wire.CodeRecordNotFound, "Not found"
	case http.StatusUnprocessableEntity:
		e.ErrorCode, e.Title = wire.CodeBusinessRuleRefusal, "Unprocessable Entity"
	default:
		e.ErrorCode, e.Title = wire.CodeVPLBadRequest, "Bad Request"
	}
	return e
}

// writeErrors answers with the platform's error array holding e.
func writeErrors(w http.ResponseWriter, r *http.Request, e *wire.APIError) {
	e.Instance = r.URL.Path
	writeJSON(w, e.Status, []*wire.APIError{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// wireAccount is a as the platform sends it: a space for an empty slot.
func wireAccount(a card.Account) wire.AccountBody {
	slot := func(code string) string {
		if code == "" {
			return wire.RemoveCode
		}
		return code
	}
	return wire.AccountBody{
		AccountID:      a.AccountID,
		BlockCode1:     slot(a.BlockCode1),
		BlockCode1Date: a.BlockCode1Date,
		BlockCode2:     slot(a.BlockCode2),
		BlockCode2Date: a.BlockCode2Date,
		BusinessUnit:   providers.FlexInt(a.BusinessUnit),
	}
}
