// Package finnotechfake simulates Finnotech for tests and development: a
// Sandbox is an in-memory HTTP server of the services the finnotech Client
// calls, token endpoint included, with fault injection, that the tests, the
// development run (`blockd dev` without BLOCKD_FINNOTECH_URL), `blockd
// sandbox` and the chaos run use in place of Finnotech. It is never used in
// production.
//
// It speaks the contract in providers/finnotech/internal/wire, the one the
// Client speaks, and uses nothing else of package finnotech but its
// exported API.
package finnotechfake

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/jalali"
	"github.com/blockd/blockd/providers/sandboxfault"
)

// Operations the sandbox counts, by the service they call (CallCount,
// Requests). The money operations (block, unblock, transfer) change the
// ledger; the others are reads and the token endpoint.
const (
	OpBlock           = "block"
	OpUnblock         = "unblock"
	OpTransfer        = "transfer"
	OpTransferInquiry = "transferInquiry"
	OpFacility        = "facility"
	OpWages           = "wages"
	OpToken           = "token"
)

// States of a Hold.
const (
	HoldBlocked     = "BLOCKED"
	HoldUnblocked   = "UNBLOCKED"
	HoldTransferred = "TRANSFERRED"
)

// Defaults of Config.
const (
	// DefaultClientID and DefaultClientSecret are the token endpoint's
	// credentials when Config leaves them empty.
	DefaultClientID     = "blockd-sandbox"
	DefaultClientSecret = "sandbox-secret"
	// DefaultTokenLifetime is the lifetime of the documented example
	// (finnotech/doc.go, "Tokens": lifeTime 864000000 ms).
	DefaultTokenLifetime = 10 * 24 * time.Hour
	// DefaultCCTokenLifetime is the lifetime of client-credential tokens.
	DefaultCCTokenLifetime = 24 * time.Hour
	// bankFloor is the least balance the sandbox's banks keep on a deposit
	// (see Config.InsufficientBalanceDeposits).
	bankFloor = 1000
	// maxBody is the largest request body the sandbox reads.
	maxBody = 1 << 20
)

// Config configures a Sandbox. The zero value is a fast, faultless
// sandbox that accepts any token.
type Config struct {
	// Latency is added to every API call (not to /_sandbox/ledger), while
	// the call shows as PENDING. A client that gives up meanwhile does not
	// stop the call. Default 0.
	Latency time.Duration
	// Tokens are long-lived authorization-code tokens the sandbox accepts
	// for the oak services, each with the refresh token "refresh-"+token;
	// the client-credential services (facility inquiry, wages) then take
	// only client-credential tokens from the token endpoint. Default
	// (empty): any non-empty Bearer token is accepted for the services of
	// its kind (see ClientCredentialPrefix), except one the sandbox issued
	// that has expired or does not fit the service, and one it revoked.
	Tokens []string
	// ClientID and ClientSecret are the HTTP Basic credentials of the token
	// endpoint. Defaults "blockd-sandbox" and "sandbox-secret".
	ClientID     string
	ClientSecret string
	// TokenLifetime is the lifetime of the authorization-code tokens the
	// token endpoint issues. Default 10 days.
	TokenLifetime time.Duration
	// CCTokenLifetime is the lifetime of the client-credential tokens it
	// issues. Default 1 day.
	CCTokenLifetime time.Duration
	// InsufficientBalanceDeposits are deposits left, after an unblock, with
	// exactly the unblocked amount, and whose bank keeps a floor of 1000
	// rial: an unblock-transfer from them of more than the unblocked amount
	// less 1000 fails with "موجودی حساب کافی نیست" (insufficient balance),
	// as the seed describes. The deposit of a clientId is DepositOf(clientId).
	// Default none.
	InsufficientBalanceDeposits []string
	// ErrorRate is the share (0..1) of money calls (block, unblock,
	// unblock-transfer) answered 503 without being applied. Default 0.
	ErrorRate float64
	// TimeoutRate is the share (0..1) of money calls that hang for
	// TimeoutDelay, or until the client goes away, without being applied,
	// then answer 504. Default 0.
	TimeoutRate float64
	// ApplyThenDropRate is the share (0..1) of money calls that are carried
	// out, after which the connection is closed without an answer. Default 0.
	ApplyThenDropRate float64
	// Rates are the shares (each 0..1) of money calls that draw each of the
	// other faults (see InjectNext), after the three rates above. Default
	// none.
	Rates map[sandboxfault.Fault]float64
	// TimeoutDelay is how long a TimeoutRate call hangs (and a
	// FaultLateDelivery call at most waits for the client to give up).
	// Default 30s.
	TimeoutDelay time.Duration
	// LateBy is how long after the client gave up a FaultLateDelivery call
	// is applied. Default 100ms.
	LateBy time.Duration
	// StatusLag is how long wages says UNKNOWN about a FaultStatusLags
	// call. Default 3s.
	StatusLag time.Duration
	// Seed seeds the fault draws (math/rand/v2 PCG). Default 0, a fixed
	// sequence like any other seed.
	Seed int64
	// Now is the sandbox clock; blockDate, unblockDate and transferDate are
	// its Jalali date in Tehran, and tokens expire by it. Default time.Now.
	Now func() time.Time
}

// Hold is one block in the sandbox ledger.
type Hold struct {
	// BlockTrackID is the trackId of the block call that made the hold.
	BlockTrackID string `json:"blockTrackId"`
	ClientID     string `json:"clientId"`
	Deposit      string `json:"deposit"`
	Amount       int64  `json:"amount"`
	Description  string `json:"description"`
	Days         int    `json:"days"`
	// BlockDate is the Jalali YYMMDD date of the block.
	BlockDate string `json:"blockDate"`
	// State is HoldBlocked, HoldUnblocked or HoldTransferred.
	State          string `json:"state"`
	UnblockTrackID string `json:"unblockTrackId,omitempty"`
	UnblockDate    string `json:"unblockDate,omitempty"`
	// The successful unblock-transfer, once there is one.
	TransferTrackID     string `json:"transferTrackId,omitempty"`
	TransferAmount      int64  `json:"transferAmount,omitempty"`
	TransferDestination string `json:"transferDestination,omitempty"`
	// TransferDate is the Jalali YYMMDD date of the transfer.
	TransferDate string `json:"transferDate,omitempty"`
}

// Sandbox is an in-memory simulator of the Finnotech services the Client
// calls, as finnotech/doc.go describes them: the token
// endpoint and Bearer auth, trackId rules (a trackId is never accepted
// twice), block, unblock and unblock-transfer against a ledger of holds,
// the unblock-transfer inquiry, the credit facility inquiry, and the wages
// call status. It serves GET /_sandbox/ledger for a look at the ledger. It
// is safe for concurrent use and logs nothing.
type Sandbox struct {
	strictTokens bool // Config.Tokens was set
	clientID     string
	clientSecret string
	acLifetime   time.Duration
	ccLifetime   time.Duration
	lowBalance   map[string]bool
	now          func() time.Time
	mux          *http.ServeMux

	faults *sandboxfault.Faults

	mu           sync.Mutex
	holds        map[string]*Hold  // by BlockTrackID
	order        []string          // BlockTrackIDs in creation order
	byUnblock    map[string]string // BlockTrackID by UnblockTrackID
	calls        map[string]*sandboxCall
	callOrder    []string // trackIds in the order the calls were received
	applied      map[string]int
	requests     map[string]int
	tokens       map[string]*sandboxToken // by value: configured and issued
	refreshes    map[string]*sandboxToken // by refresh token
	revoked      map[string]bool          // token values
	tokensIssued int
}

// sandboxCall is what the sandbox remembers of a trackId: what wages
// answers about it, and what the unblock-transfer inquiry answers about a
// transfer.
type sandboxCall struct {
	op       string
	clientID string
	status   finnotech.CallStatus
	// recorded is when the call was received, then when it was applied or
	// refused: its wages date.
	recorded time.Time
	// uid is its wages entry's uid.
	uid string
	// deposit is the deposit the call was made on, once known.
	deposit string
	// amount is the amount the call held or moved (its wages
	// transactionAmount).
	amount int64
	// The request and result of an unblock-transfer, for its inquiry.
	source       string
	destination  string
	transferDate string
	// unknownUntil: wages says UNKNOWN about the call until then
	// (FaultStatusLags), on the real clock.
	unknownUntil time.Time
}

// New returns a Sandbox configured by cfg.
func New(cfg Config) *Sandbox {
	s := &Sandbox{
		strictTokens: len(cfg.Tokens) > 0,
		clientID:     cmp.Or(cfg.ClientID, DefaultClientID),
		clientSecret: cmp.Or(cfg.ClientSecret, DefaultClientSecret),
		acLifetime:   cmp.Or(max(cfg.TokenLifetime, 0), DefaultTokenLifetime),
		ccLifetime:   cmp.Or(max(cfg.CCTokenLifetime, 0), DefaultCCTokenLifetime),
		lowBalance:   make(map[string]bool),
		now:          cfg.Now,
		faults: sandboxfault.New(sandboxfault.Config{Latency: cfg.Latency, ErrorRate: cfg.ErrorRate, TimeoutRate: cfg.TimeoutRate,
			ApplyThenDropRate: cfg.ApplyThenDropRate, Rates: cfg.Rates, TimeoutDelay: cfg.TimeoutDelay, LateBy: cfg.LateBy,
			StatusLag: cfg.StatusLag, Seed: cfg.Seed}),
		holds:     make(map[string]*Hold),
		byUnblock: make(map[string]string),
		calls:     make(map[string]*sandboxCall),
		applied:   make(map[string]int),
		requests:  make(map[string]int),
		tokens:    make(map[string]*sandboxToken),
		refreshes: make(map[string]*sandboxToken),
		revoked:   make(map[string]bool),
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, d := range cfg.InsufficientBalanceDeposits {
		s.lowBalance[d] = true
	}
	for _, tok := range cfg.Tokens {
		// Sandbox choice (finnotech/doc.go, "The sandbox"): a configured
		// token stands for one an operator obtained by consent; it never
		// expires and may be used at any bank.
		t := &sandboxToken{kind: wire.TokenTypeCode, scopes: codeScopes(), refresh: "refresh-" + tok}
		s.tokens[tok] = t
		s.refreshes[t.refresh] = t
	}

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+fmt.Sprintf(wire.BlockPath, "{clientId}"), s.money(OpBlock))
	s.mux.HandleFunc("POST "+fmt.Sprintf(wire.UnblockPath, "{clientId}"), s.money(OpUnblock))
	s.mux.HandleFunc("POST "+fmt.Sprintf(wire.TransferPath, "{clientId}"), s.money(OpTransfer))
	s.mux.HandleFunc("GET "+fmt.Sprintf(wire.TransferInquiryPath, "{clientId}"), s.transferInquiry)
	s.mux.HandleFunc("GET "+fmt.Sprintf(wire.FacilityPath, "{clientId}", "{nid}"), s.facility)
	s.mux.HandleFunc("GET "+fmt.Sprintf(wire.WagesPath, "{clientId}"), s.wages)
	s.mux.HandleFunc("POST "+wire.TokenPath, s.token)
	s.mux.Handle("GET "+sandboxfault.LedgerPath, sandboxfault.Ledger(s.ledger))
	return s
}

// ServeHTTP serves the simulated API.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// SetFaults changes the fault rates (each clamped to 0..1) of the money
// calls that arrive from now on. A call without an injected fault (see
// InjectNext) draws one number against the rates in this order: error,
// timeout, apply-then-drop; rates adding up past 1 starve the later ones.
func (s *Sandbox) SetFaults(errorRate, timeoutRate, applyDropRate float64) {
	s.faults.SetRates(errorRate, timeoutRate, applyDropRate)
}

// SetFaultRates replaces the rates (each clamped to 0..1) of the faults
// other than those of SetFaults, for money calls from now on.
func (s *Sandbox) SetFaultRates(rates map[sandboxfault.Fault]float64) {
	s.faults.SetFaultRates(rates)
}

// InjectNext makes the next money call (block, unblock or
// unblock-transfer) that passes the token and trackId checks suffer f,
// ahead of any fault drawn at the configured rates; faults injected in a
// row hit calls in that order. Each fault is Finnotech's own answer:
//
//   - FaultRetryable: 429 TOO_MANY_REQUESTS, not applied.
//   - FaultTimeout: hang as for TimeoutRate, not applied.
//   - FaultApplyThenDrop: apply, then close the connection unanswered.
//   - FaultTokenExpired: revoke the call's token, so that only a new one
//     (a refresh) works from then on, and answer 403 UNAUTHORIZED, not
//     applied.
//   - FaultLateDelivery: hang, unknown to wages, until the client gives up
//     (or TimeoutDelay passes), apply the call LateBy later, and answer
//     nothing.
//   - FaultApplyThenTimeout: apply, then answer 408 with the FAILED
//     envelope (REQUEST_TIMEOUT).
//   - FaultApplyThenNotResponding: apply, then answer 400 FAILED
//     SERVICE_CALL_ERROR "سرویس دهنده جوابگو نیست" (provider not
//     responding).
//   - FaultStatusLags: apply, close the connection unanswered, and let
//     wages say UNKNOWN about the call for StatusLag before DONE.
//   - FaultNestedFailed: answer 200 with the nested envelope, outer DONE,
//     result.status FAILED, result.error SERVICE_CALL_ERROR "Minimum amount
//     is 10000 Rials.", not applied.
func (s *Sandbox) InjectNext(f sandboxfault.Fault) {
	s.faults.InjectNext(f)
}

// Holds returns a copy of every hold, in the order they were made.
func (s *Sandbox) Holds() []Hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Hold, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.holds[id])
	}
	return out
}

// Hold returns the hold made by the block call sent with blockTrackID.
func (s *Sandbox) Hold(blockTrackID string) (Hold, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.holds[blockTrackID]
	if !ok {
		return Hold{}, false
	}
	return *h, true
}

// CallCount returns how many op calls were applied (OpBlock, OpUnblock,
// OpTransfer) or answered with success (OpTransferInquiry, OpFacility,
// OpToken).
func (s *Sandbox) CallCount(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied[op]
}

// TokensIssued returns how many tokens the token endpoint issued.
func (s *Sandbox) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokensIssued
}

// Requests returns how many op requests (any Op* constant) arrived,
// whatever became of them.
func (s *Sandbox) Requests(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[op]
}

// moneyBody is a block, unblock or unblock-transfer body (wire.BlockBody,
// wire.UnblockBody, wire.TransferBody) read at once; amount and days are
// kept raw, so that each is refused with its own message.
type moneyBody struct {
	Amount         json.RawMessage `json:"amount"`
	Description    string          `json:"description"`
	Days           json.RawMessage `json:"days"`
	BlockTrackID   string          `json:"blockTrackId"`
	Deposit        string          `json:"deposit"`
	BlockDate      string          `json:"blockDate"`
	UnblockTrackID string          `json:"unblockTrackId"`
	Destination    string          `json:"destination"`
}

// moneyRequest is a checked money call.
type moneyRequest struct {
	op, clientID, trackID string
	body                  moneyBody
	amount                int64
	days                  int
}

// money serves block, unblock and unblock-transfer.
func (s *Sandbox) money(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := moneyRequest{op: op, clientID: r.PathValue("clientId"), trackID: r.URL.Query().Get("trackId")}
		// Reading the whole body first also lets net/http notice, and
		// cancel r.Context(), when the client goes away.
		body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody))
		authMsg := s.authorize(r, wire.TokenTypeCode, "")
		validTrackID := isValidTrackID(req.trackID)

		// Reserve the trackId at once, so that a second call with it is a
		// duplicate even while this one is still being processed; a call
		// that passes the checks draws its fault now. A late call is not
		// reserved: Finnotech does not have it yet.
		s.mu.Lock()
		s.requests[op]++
		_, duplicate := s.calls[req.trackID]
		f := faultNone
		if authMsg == "" && validTrackID && !duplicate {
			f = s.nextFault()
		}
		reserved := validTrackID && !duplicate && f != faultLateDelivery
		if reserved {
			s.record(req.trackID, &sandboxCall{op: op, clientID: req.clientID, status: finnotech.CallPending})
		}
		s.mu.Unlock()

		s.faults.Delay()

		switch {
		case authMsg != "":
			s.finish(req.trackID, reserved, finnotech.CallFailed)
			writeRefusedToken(w, req.trackID, authMsg)
			return
		case !validTrackID:
			writeFailure(w, http.StatusBadRequest, req.trackID, wire.CodeValidation, wire.MsgBadTrackID)
			return
		case duplicate:
			// Nothing applied, and the earlier call's record is left as it is.
			writeFailure(w, http.StatusBadRequest, req.trackID, wire.CodeValidation, wire.MsgDuplicateTrackID)
			return
		}

		switch f {
		case faultUnavailable:
			s.finish(req.trackID, true, finnotech.CallFailed)
			writeFailure(w, http.StatusServiceUnavailable, req.trackID, "SERVICE_UNAVAILABLE", "service unavailable")
			return
		case faultTooManyRequests:
			// ASSUMPTION (finnotech/doc.go, "Error codes"): Finnotech's "try again later"
			// refusal, sent before the call reaches the bank, is HTTP 429.
			// The pages document none; "provider not responding" is not one,
			// it leaves the bank's outcome unknown.
			s.finish(req.trackID, true, finnotech.CallFailed)
			writeFailure(w, http.StatusTooManyRequests, req.trackID, wire.CodeTooManyRequests, wire.MsgTooManyRequests)
			return
		case faultTokenExpired:
			s.revoke(bearerToken(r))
			s.finish(req.trackID, true, finnotech.CallFailed)
			writeFailure(w, http.StatusForbidden, req.trackID, wire.CodeUnauthorized, wire.MsgBadToken)
			return
		case faultTimeout:
			// The call shows PENDING while it hangs.
			s.faults.Hang(r.Context())
			s.finish(req.trackID, true, finnotech.CallFailed)
			writeFailure(w, http.StatusGatewayTimeout, req.trackID, "GATEWAY_TIMEOUT", "gateway timeout")
			return
		case faultNestedFailed:
			// The nested failure envelope of the pages (finnotech/doc.go,
			// "Envelope"), on HTTP 200 under an outer DONE, with the
			// SERVICE_CALL_ERROR text the pages show in it. Not applied.
			s.finish(req.trackID, true, finnotech.CallFailed)
			writeJSON(w, http.StatusOK, wire.Envelope[wire.NestedFailure]{Status: wire.StatusDone, TrackID: req.trackID,
				Result: wire.NestedFailure{Status: wire.StatusFailed,
					Error: &wire.APIError{Code: wire.CodeServiceCall, Message: wire.MsgMinimumAmount}}})
			return
		case faultLateDelivery:
			// Finnotech has not got the call: wages knows nothing of it
			// while the client waits. It arrives LateBy after the client
			// gave up, and is applied then; nobody is left to answer.
			s.faults.DeliverLate(w, r, func(late *http.Request) {
				if s.reserve(op, req.clientID, req.trackID) {
					s.apply(late, req, body, readErr)
				}
			})
			return
		}

		status, result, code, msg := s.apply(r, req, body, readErr)
		switch f {
		case faultDrop:
			// Applied (or refused) and recorded; the answer is lost.
			sandboxfault.DropConnection(w)
			return
		case faultStatusLags:
			// Applied and recorded, the answer lost, and wages says
			// UNKNOWN about the call for StatusLag.
			s.lagStatus(req.trackID)
			sandboxfault.DropConnection(w)
			return
		case faultApplyThenTimeout:
			// ASSUMPTION (finnotech/doc.go, "Error codes"): the pages name HTTP 408 a
			// timeout of a money call; its code and text are not shown.
			writeFailure(w, http.StatusRequestTimeout, req.trackID, wire.CodeRequestTimeout, wire.MsgRequestTimeout)
			return
		case faultApplyThenNotResponding:
			// "Provider not responding" as the pages show their failures:
			// HTTP 400, the outer FAILED envelope, with SERVICE_CALL_ERROR,
			// the code of errors of the bank behind Finnotech (package
			// doc, errors). A 400 that only its text tells from a refusal.
			writeFailure(w, http.StatusBadRequest, req.trackID, wire.CodeServiceCall, wire.MsgProviderNotResponding)
			return
		}
		if code != "" {
			writeFailure(w, status, req.trackID, code, msg)
			return
		}
		writeJSON(w, status, wire.Envelope[any]{Result: result, Status: wire.StatusDone, TrackID: req.trackID})
	}
}

// lagStatus makes wages say UNKNOWN about the call sent with trackID for
// the plan's StatusLag, on the real clock.
func (s *Sandbox) lagStatus(trackID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[trackID].unknownUntil = time.Now().Add(s.faults.StatusLag())
}

// apply checks the body of a reserved money call and carries it out. It
// returns the HTTP status and either the result or an error code and
// message, and records the call DONE (with its result, for wages) or
// FAILED.
func (s *Sandbox) apply(r *http.Request, req moneyRequest, body []byte, readErr error) (status int, result any, code, msg string) {
	if msg := req.parse(r.Header.Get("Content-Type"), body, readErr); msg != "" {
		s.finish(req.trackID, true, finnotech.CallFailed)
		return http.StatusBadRequest, nil, wire.CodeValidation, msg
	}
	today := jalali.FormatYYMMDD(s.now().In(jalali.Tehran()))

	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[req.trackID]
	c.recorded, c.amount = s.now(), req.amount
	refuse := func(code, msg string) (int, any, string, string) {
		c.status = finnotech.CallFailed
		return http.StatusBadRequest, nil, code, msg
	}
	switch req.op {
	case OpBlock:
		h := &Hold{
			BlockTrackID: req.trackID,
			ClientID:     req.clientID,
			Deposit:      DepositOf(req.clientID),
			Amount:       req.amount,
			Description:  req.body.Description,
			Days:         req.days,
			BlockDate:    today,
			State:        HoldBlocked,
		}
		s.holds[h.BlockTrackID] = h
		s.order = append(s.order, h.BlockTrackID)
		c.deposit = h.Deposit
		result = wire.BlockResult{Amount: wire.LenientInt{V: h.Amount, Set: true}, Description: h.Description, Deposit: h.Deposit,
			BlockDate: h.BlockDate, Days: wire.NumericString(h.Days)}

	case OpUnblock:
		// ASSUMPTION (finnotech/doc.go, "Unblock"): an unblock names its block by
		// the block call's trackId, with the block's deposit and blockDate,
		// and must release the whole amount.
		h, ok := s.holds[req.body.BlockTrackID]
		if !ok || h.ClientID != req.clientID || h.State != HoldBlocked ||
			h.Deposit != req.body.Deposit || h.BlockDate != req.body.BlockDate {
			return refuse(wire.CodeValidation, wire.MsgTransactionNotFound)
		}
		// The seed: the unblock amount must equal the block's; the block's
		// description and days are sent again and must be the block's too.
		if msg := h.differs(req); msg != "" {
			return refuse(wire.CodeValidation, msg)
		}
		c.deposit = h.Deposit
		h.State = HoldUnblocked
		h.UnblockTrackID = req.trackID
		h.UnblockDate = today
		s.byUnblock[req.trackID] = h.BlockTrackID
		result = wire.UnblockResult{Amount: wire.LenientInt{V: h.Amount, Set: true}, Deposit: h.Deposit, UnblockDate: today}

	case OpTransfer:
		// ASSUMPTION (finnotech/doc.go, "Unblock-transfer"): a transfer names
		// the unblock it follows by the unblock call's trackId. The rules are
		// the seed's: a successful unblock first, at most the unblocked
		// amount, one successful transfer per block and unblock.
		c.amount, c.destination = req.amount, req.body.Destination
		h, ok := s.holds[s.byUnblock[req.body.UnblockTrackID]]
		switch {
		case !ok || h.ClientID != req.clientID:
			return refuse(wire.CodeValidation, wire.MsgTransactionNotFound)
		case h.State == HoldTransferred:
			return refuse(wire.CodeValidation, wire.MsgAlreadyTransferred)
		case req.amount > h.Amount:
			return refuse(wire.CodeValidation, wire.MsgInvalidAmount)
		case req.days != h.Days:
			return refuse(wire.CodeValidation, wire.MsgDaysMismatch)
		case req.body.Description != h.Description:
			return refuse(wire.CodeValidation, wire.MsgDescriptionMismatch)
		case req.body.Destination == h.Deposit:
			return refuse(wire.CodeValidation, wire.MsgSameAccounts)
		case s.lowBalance[h.Deposit] && req.amount > h.Amount-bankFloor:
			return refuse(wire.CodeServiceCall, wire.MsgInsufficientBalance)
		}
		c.deposit = h.Deposit
		h.State = HoldTransferred
		h.TransferTrackID = req.trackID
		h.TransferAmount = req.amount
		h.TransferDestination = req.body.Destination
		h.TransferDate = today
		c.source, c.transferDate = h.Deposit, today
		result = wire.TransferResult{Amount: wire.LenientInt{V: req.amount, Set: true}, Source: h.Deposit, Destination: req.body.Destination,
			TransferDate: today}
	}
	c.status = finnotech.CallDone
	s.applied[req.op]++
	return http.StatusOK, result, "", ""
}

// differs returns the refusal of an unblock whose amount, days or
// description are not the block's h, or "".
func (h *Hold) differs(req moneyRequest) string {
	switch {
	case req.amount != h.Amount:
		return wire.MsgInvalidAmount
	case req.days != h.Days:
		return wire.MsgDaysMismatch
	case req.body.Description != h.Description:
		return wire.MsgDescriptionMismatch
	}
	return ""
}

// parse reads and checks the body of a money call; it returns the
// VALIDATION_ERROR message, or "" when the body is good.
func (req *moneyRequest) parse(contentType string, body []byte, readErr error) string {
	if msg := decodeJSONBody(contentType, body, readErr, &req.body); msg != "" {
		return msg
	}
	var amount providers.FlexInt
	if len(req.body.Amount) == 0 || json.Unmarshal(req.body.Amount, &amount) != nil || amount <= 0 {
		return wire.MsgBadAmount
	}
	req.amount = int64(amount)

	// Every money call carries the block's days (the seed: needed again by
	// unblock and unblock-transfer).
	var days providers.FlexInt
	if len(req.body.Days) == 0 || json.Unmarshal(req.body.Days, &days) != nil || days < 1 || days > 90 {
		return wire.MsgBadDays
	}
	req.days = int(days)
	switch req.op {
	case OpBlock:
		if strings.TrimSpace(req.body.Description) == "" {
			return wire.MsgNoDescription
		}
	case OpUnblock:
		if req.body.BlockTrackID == "" {
			return wire.MsgNoBlockTrackID
		}
	case OpTransfer:
		if req.body.UnblockTrackID == "" {
			return wire.MsgNoUnblockTrackID
		}
		if strings.TrimSpace(req.body.Destination) == "" {
			return wire.MsgNoDestination
		}
	}
	return ""
}

// wages serves GET /dev/v2/clients/{clientId}/wages (finnotech/doc.go, "Wages"):
// with a client-credential token of scope boomrang:wages:get, the entries
// of the client's calls, filtered by trackId when one is given, as
// {"wages":[...],"total":n}; an empty list when the sandbox never received
// that trackId (or has not yet: a FaultLateDelivery call). Each entry's
// status is the call's: PENDING while it is being processed, DONE or
// FAILED once it is, UNKNOWN during a FaultStatusLags lag. The answer is
// the state when the request arrives, sent after the latency.
func (s *Sandbox) wages(w http.ResponseWriter, r *http.Request) {
	clientID, trackID := r.PathValue("clientId"), r.URL.Query().Get("trackId")
	authMsg := s.authorize(r, wire.TokenTypeCC, finnotech.ScopeWages)
	// The answer is the state when the request arrives; the latency comes
	// after, so that a call under way (in its own latency) shows PENDING.
	res := wire.WagesResult{Wages: []wire.WagesEntry{}}
	s.mu.Lock()
	s.requests[OpWages]++
	for _, id := range s.callOrder {
		if c := s.calls[id]; c.clientID == clientID && (trackID == "" || id == trackID) {
			res.Wages = append(res.Wages, s.wagesEntry(id, c))
		}
	}
	s.mu.Unlock()
	res.Total = wire.LenientInt{V: int64(len(res.Wages)), Set: true}

	s.faults.Delay()
	if authMsg != "" {
		writeRefusedToken(w, trackID, authMsg)
		return
	}
	if trackID != "" && !isValidTrackID(trackID) {
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, wire.MsgBadTrackID)
		return
	}
	writeJSON(w, http.StatusOK, wire.Envelope[wire.WagesResult]{Result: res, Status: wire.StatusDone, TrackID: uuid.NewString()})
}

// Values of the sandbox's wages entries.
const (
	// sandboxFee is the fee of a DONE call; a call that is not DONE is
	// charged nothing.
	sandboxFee    = 2500
	sandboxTariff = "sandbox"
)

// wagesEntry is the wages entry of call c, sent with trackID. s.mu is held.
func (s *Sandbox) wagesEntry(trackID string, c *sandboxCall) wire.WagesEntry {
	status := c.status
	if time.Now().Before(c.unknownUntil) {
		status = finnotech.CallUnknown
	}
	var fee int64
	if status == finnotech.CallDone {
		fee = sandboxFee
	}
	return wire.WagesEntry{
		TrackID:           wire.LenientString(trackID),
		Status:            string(status),
		Amount:            wire.LenientInt{V: fee, Set: true},
		TransactionAmount: wire.LenientInt{V: c.amount, Set: true},
		ServiceName:       c.op,
		ScopeName:         opScopes()[c.op],
		TariffName:        sandboxTariff,
		UID:               wire.LenientString(c.uid),
		Deposit:           wire.LenientString(c.deposit),
		Date:              wire.LenientString(jalaliDateTime(c.recorded)),
	}
}

// opScopes are the scopes of the services the sandbox lists in wages.
func opScopes() map[string]string {
	return map[string]string{
		OpBlock: "oak:block:*", OpUnblock: "oak:unblock:*", OpTransfer: "oak:unblock-transfer:*",
		OpTransferInquiry: "oak:unblock-transfer-inquiry:get", OpFacility: finnotech.ScopeFacilityInquiry,
	}
}

// ledger is what GET /_sandbox/ledger shows: the holds (with their
// transfers), the applied calls by operation, the requests received by
// operation, and the number of tokens issued.
func (s *Sandbox) ledger() any {
	holds := s.Holds()
	s.mu.Lock()
	defer s.mu.Unlock()
	return struct {
		Holds        []Hold         `json:"holds"`
		Calls        map[string]int `json:"calls"`
		Requests     map[string]int `json:"requests"`
		TokensIssued int            `json:"tokensIssued"`
	}{holds, maps.Clone(s.applied), maps.Clone(s.requests), s.tokensIssued}
}

// reserve records a new call with trackID as PENDING; false when trackID
// is already taken.
func (s *Sandbox) reserve(op, clientID, trackID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.calls[trackID]; dup {
		return false
	}
	s.record(trackID, &sandboxCall{op: op, clientID: clientID, status: finnotech.CallPending})
	return true
}

// record files the new call c under trackID, received now. s.mu is held.
func (s *Sandbox) record(trackID string, c *sandboxCall) {
	c.recorded, c.uid = s.now(), uuid.NewString()
	if c.op == OpBlock {
		c.deposit = DepositOf(c.clientID)
	}
	s.calls[trackID] = c
	s.callOrder = append(s.callOrder, trackID)
}

// finish records the final status of a reserved call.
func (s *Sandbox) finish(trackID string, reserved bool, st finnotech.CallStatus) {
	if !reserved {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[trackID]
	c.status, c.recorded = st, s.now()
}

// fault is what the sandbox does to one money call.
type fault int

const (
	faultNone fault = iota
	// faultUnavailable (ErrorRate): 503, not applied.
	faultUnavailable
	// faultTooManyRequests (FaultRetryable): 429, not applied.
	faultTooManyRequests
	// faultTokenExpired (FaultTokenExpired): 403 UNAUTHORIZED, not applied.
	faultTokenExpired
	// faultTimeout (TimeoutRate, FaultTimeout): hang, not applied.
	faultTimeout
	// faultDrop (ApplyThenDropRate, FaultApplyThenDrop): apply, answer nothing.
	faultDrop
	// faultLateDelivery (FaultLateDelivery): hang unseen, apply LateBy after
	// the client gave up, answer nothing.
	faultLateDelivery
	// faultApplyThenTimeout (FaultApplyThenTimeout): apply, answer 408.
	faultApplyThenTimeout
	// faultApplyThenNotResponding (FaultApplyThenNotResponding): apply,
	// answer 400 "provider not responding".
	faultApplyThenNotResponding
	// faultStatusLags (FaultStatusLags): apply, answer nothing, wages says
	// UNKNOWN for StatusLag.
	faultStatusLags
	// faultNestedFailed (FaultNestedFailed): 200 with the nested FAILED
	// envelope, not applied.
	faultNestedFailed
)

// nextFault returns the fault of a money call, as Finnotech answers it: an
// injected "try again" is a 429, a drawn one a 503.
func (s *Sandbox) nextFault() fault {
	f, injected := s.faults.Next()
	switch f {
	case sandboxfault.FaultRetryable:
		if injected {
			return faultTooManyRequests
		}
		return faultUnavailable
	case sandboxfault.FaultTokenExpired:
		return faultTokenExpired
	case sandboxfault.FaultTimeout:
		return faultTimeout
	case sandboxfault.FaultApplyThenDrop:
		return faultDrop
	case sandboxfault.FaultLateDelivery:
		return faultLateDelivery
	case sandboxfault.FaultApplyThenTimeout:
		return faultApplyThenTimeout
	case sandboxfault.FaultApplyThenNotResponding:
		return faultApplyThenNotResponding
	case sandboxfault.FaultStatusLags:
		return faultStatusLags
	case sandboxfault.FaultNestedFailed:
		return faultNestedFailed
	default:
		return faultNone
	}
}

// isValidTrackID: 1–40 characters of letters, digits, '-' and '_'.
func isValidTrackID(id string) bool {
	if id == "" || len(id) > 40 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// DepositOf returns the one deposit number the sandbox gives clientID: the
// source of its blocks and transfers, "0201" and nine digits of an FNV-1a
// hash, like the seed's "0201698541000".
func DepositOf(clientID string) string {
	h := fnv.New64a()
	h.Write([]byte(clientID))
	return fmt.Sprintf("0201%09d", h.Sum64()%1_000_000_000)
}

func writeFailure(w http.ResponseWriter, status int, trackID, code, msg string) {
	writeJSON(w, status, wire.Envelope[any]{Status: wire.StatusFailed, TrackID: trackID, Error: &wire.APIError{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ClientCredentialPrefix starts the tokens the sandbox takes, when
// Config.Tokens is empty, for client-credential tokens: a Bearer token it
// never issued works for the services of its kind only, a client-credential
// one (facility inquiry, wages) when it starts with "cc-", an
// authorization-code one (the oak calls) otherwise.
const ClientCredentialPrefix = "cc-"

// StaticToken returns a finnotech.TokenSource for tests that need no token
// endpoint: it hands out tok as every clientId's authorization-code token
// and ClientCredentialPrefix+tok as the client-credential token of every
// scope set; its Invalidate methods do nothing.
func StaticToken(tok string) finnotech.TokenSource {
	return staticToken(tok)
}

type staticToken string

func (s staticToken) Token(context.Context, string) (string, error) { return string(s), nil }
func (staticToken) Invalidate(string)                               {}

func (s staticToken) ClientCredential(context.Context, ...string) (string, error) {
	return ClientCredentialPrefix + string(s), nil
}
func (staticToken) InvalidateClientCredential(...string) {}
