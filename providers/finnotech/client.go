package finnotech

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
)

// maxBody is the largest answer the Client reads; a longer one is
// unreadable.
const maxBody = 1 << 20

// Client calls Finnotech's oak, credit and wages services for any
// clientId. It is safe for concurrent use.
//
// The Client sends each call once and never retries: a retry needs a new
// trackId, which only the caller can record before sending. Every error it
// returns holds a *providers.Error (use errors.As or providers.ClassOf):
//
//   - Permanent: Finnotech refused the call; sending it again cannot help.
//   - Retryable: the call was certainly not applied; retry with a NEW
//     trackId. On a dead token (IsTokenExpired) the Client has already
//     called TokenSource.Invalidate for the clientId.
//   - Unknown: the call may have been applied; ask CallStatus with the same
//     trackId instead of sending it again.
//
// No error holds a token, a secret or a national id.
type Client struct {
	baseURL string
	http    *http.Client
	tokens  TokenSource
}

// ClientConfig says where Finnotech is and where the Client's tokens come
// from.
type ClientConfig struct {
	// BaseURL is Finnotech's base URL, for example
	// https://apibeta.finnotech.ir. Required.
	BaseURL string
	// HTTPClient sends the calls. Default http.DefaultClient; give it a
	// Timeout or pass contexts with deadlines.
	HTTPClient *http.Client
	// Tokens hands out the Bearer tokens (Tokens in production). Required.
	Tokens TokenSource
}

// Validate reports a config a Client cannot work with.
func (c ClientConfig) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("finnotech client: BaseURL is required"))
	}
	if c.Tokens == nil {
		errs = append(errs, errors.New("finnotech client: Tokens is required"))
	}
	return errors.Join(errs...)
}

// NewClient returns a Client for the Finnotech API cfg names. It does not
// check cfg; call Validate first.
func NewClient(cfg ClientConfig) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	return &Client{baseURL: strings.TrimRight(cfg.BaseURL, "/"), http: cfg.HTTPClient, tokens: cfg.Tokens}
}

// Block holds req.Amount rials on the account of clientID's token for
// req.Days days. trackID must be new: Finnotech refuses a reused one.
func (c *Client) Block(ctx context.Context, clientID, trackID string, req BlockRequest) (BlockResponse, error) {
	body := wire.BlockBody{Amount: req.Amount, Description: req.Description, Days: strconv.Itoa(req.Days)}
	env, err := call[wire.BlockResult](ctx, c, http.MethodPost, wire.BlockPath, clientID, trackID, body)
	if err != nil {
		return BlockResponse{}, fmt.Errorf("sending block: %w", err)
	}
	return blockResponse(env.Result, env.TrackID, req), nil
}

// blockResponse reads a block's answer r; the description and days it
// does not echo are the request's.
func blockResponse(r wire.BlockResult, trackID string, req BlockRequest) BlockResponse {
	resp := BlockResponse{
		Amount:      r.Amount.V,
		Description: r.Description,
		Deposit:     r.Deposit,
		BlockDate:   r.BlockDate,
		Days:        int(r.Days),
		TrackID:     trackID,
	}
	if resp.Description == "" {
		resp.Description = req.Description
	}
	if resp.Days == 0 {
		resp.Days = req.Days
	}
	return resp
}

// Unblock releases the block req.BlockTrackID; req.Amount must equal the
// blocked amount. trackID must be new.
func (c *Client) Unblock(ctx context.Context, clientID, trackID string, req UnblockRequest) (UnblockResponse, error) {
	body := wire.UnblockBody{Amount: req.Amount, Description: req.Description, Days: strconv.Itoa(req.Days),
		BlockTrackID: req.BlockTrackID, Deposit: req.Deposit, BlockDate: req.BlockDate}
	env, err := call[wire.UnblockResult](ctx, c, http.MethodPost, wire.UnblockPath, clientID, trackID, body)
	if err != nil {
		return UnblockResponse{}, fmt.Errorf("sending unblock: %w", err)
	}
	resp := UnblockResponse{Amount: env.Result.Amount.V, Deposit: env.Result.Deposit, UnblockDate: env.Result.UnblockDate, TrackID: env.TrackID}
	if resp.Deposit == "" {
		resp.Deposit = req.Deposit
	}
	return resp, nil
}

// UnblockTransfer moves req.Amount rials, at most the unblocked amount, from
// the deposit the unblock req.UnblockTrackID released to req.Destination.
// Finnotech allows one successful transfer per block and unblock. trackID
// must be new. An insufficient balance fails Permanent with Code
// CodeInsufficientBalance (see IsInsufficientBalance).
func (c *Client) UnblockTransfer(ctx context.Context, clientID, trackID string, req UnblockTransferRequest) (UnblockTransferResponse, error) {
	body := wire.TransferBody{Amount: req.Amount, Description: req.Description, Days: strconv.Itoa(req.Days),
		UnblockTrackID: req.UnblockTrackID, Destination: req.Destination}
	env, err := call[wire.TransferResult](ctx, c, http.MethodPost, wire.TransferPath, clientID, trackID, body)
	if err != nil {
		return UnblockTransferResponse{}, fmt.Errorf("sending unblock-transfer: %w", err)
	}
	r := env.Result
	resp := UnblockTransferResponse{Amount: r.Amount.V, Source: r.Source, Destination: r.Destination, TransferDate: r.TransferDate,
		TrackID: env.TrackID}
	if resp.Destination == "" {
		resp.Destination = req.Destination
	}
	return resp, nil
}

// WarmToken fetches (or renews) the authorization-code token of clientID
// now, so that the next call for it need not.
func (c *Client) WarmToken(ctx context.Context, clientID string) error {
	if _, err := c.tokens.Token(ctx, clientID); err != nil {
		return fmt.Errorf("getting the token of %s: %w", clientID, err)
	}
	return nil
}

// UnblockTransferInquiry asks what became of the unblock-transfer sent with
// inquiryTrackID. trackID is the inquiry's own, new trackId. A transfer
// Finnotech never saw is refused Permanent (VALIDATION_ERROR "تراکنش یافت
// نشد", transaction not found).
func (c *Client) UnblockTransferInquiry(ctx context.Context, clientID, trackID, inquiryTrackID string) (TransferInquiryResponse, error) {
	q := url.Values{"trackId": {trackID}, "inquiryTrackId": {inquiryTrackID}}
	env, err := send[wire.TransferInquiryResult](ctx, c, request{
		method: http.MethodGet,
		path:   fmt.Sprintf(wire.TransferInquiryPath, url.PathEscape(clientID)),
		query:  q,
		// The result's status is the transfer's; FAILED there is an answer.
		statusInResult: true,
		token:          func(ctx context.Context) (string, error) { return c.tokens.Token(ctx, clientID) },
		invalidate: func() {
			c.tokens.Invalidate(clientID)
		},
	})
	if err != nil {
		return TransferInquiryResponse{}, fmt.Errorf("inquiring unblock-transfer: %w", err)
	}
	r := env.Result
	switch st := CallStatus(r.Status); st {
	case CallDone, CallFailed, CallPending:
		return TransferInquiryResponse{Status: st, Amount: r.Amount.V, Source: r.Source, Destination: r.Destination,
			TransferDate: r.TransferDate, TrackID: env.TrackID}, nil
	default:
		return TransferInquiryResponse{}, fmt.Errorf("inquiring unblock-transfer: %w", &providers.Error{
			Provider:   provider,
			Class:      providers.Unknown,
			Code:       CodeUnreadableResponse,
			Message:    fmt.Sprintf("inquiry answered transfer status %q", r.Status),
			HTTPStatus: http.StatusOK,
		})
	}
}

// FacilityInquiry asks Finnotech for the current loans, at all banks, of
// the person (10-digit national code) or legal entity (11-digit national
// id) nationalID. It is a read: retrying it, with a new trackID, is safe.
// It uses a client-credential token for ScopeFacilityInquiry. The "no
// facility" answer is a success with Result.NoFacility set and no
// facilities.
//
// nationalID must be digits only (else Permanent CodeBadRequest, nothing
// sent); Finnotech checks its length. It never appears in an error.
func (c *Client) FacilityInquiry(ctx context.Context, clientID, trackID, nationalID string) (FacilityResponse, error) {
	if nationalID == "" || strings.Trim(nationalID, "0123456789") != "" {
		return FacilityResponse{}, fmt.Errorf("inquiring facilities: %w", &providers.Error{Provider: provider,
			Class: providers.Permanent, Code: CodeBadRequest, Message: "national id must be digits"})
	}
	r := c.clientCredential(ScopeFacilityInquiry, request{
		method: http.MethodGet,
		path:   fmt.Sprintf(wire.FacilityPath, url.PathEscape(clientID), nationalID),
		query:  url.Values{"trackId": {trackID}},
		redact: nationalID,
	})
	env, err := send[wire.FacilityResult](ctx, c, r)
	if err != nil {
		return FacilityResponse{}, fmt.Errorf("inquiring facilities: %w", err)
	}
	return FacilityResponse{Result: normalizeFacilities(env.Result, nationalID), Message: env.Result.Message, TrackID: env.TrackID}, nil
}

// CallStatus asks the wages service for the last status of the call sent
// with callTrackID. It is CallStatusDetail without the entry.
func (c *Client) CallStatus(ctx context.Context, clientID, callTrackID string) (CallStatus, error) {
	r, err := c.CallStatusDetail(ctx, clientID, callTrackID)
	return r.Status, err
}

// CallStatusDetail asks the wages service about the call sent with
// callTrackID, with a client-credential token for ScopeWages
// (finnotech/doc.go, "Wages"): GET /dev/v2/clients/{clientId}/wages?trackId=.
// Finnotech answers a list of entries; the entries of callTrackID decide,
// DONE before any other (only that call was ever sent with the trackId),
// then PENDING or UNKNOWN, then FAILED. No entry is CallAbsent. An entry of another status, or an
// answer without the list, is an Unknown CodeUnreadableResponse error.
func (c *Client) CallStatusDetail(ctx context.Context, clientID, callTrackID string) (CallStatusResult, error) {
	env, err := send[wire.WagesResult](ctx, c, c.clientCredential(ScopeWages, request{
		method: http.MethodGet,
		path:   fmt.Sprintf(wire.WagesPath, url.PathEscape(clientID)),
		query:  url.Values{"trackId": {callTrackID}},
	}))
	if err != nil {
		return CallStatusResult{}, fmt.Errorf("asking call status: %w", err)
	}
	var found *WagesEntry
	for _, w := range env.Result.Wages {
		if string(w.TrackID) != callTrackID {
			continue
		}
		e := wagesEntry(w)
		switch e.Status {
		case CallDone, CallFailed, CallPending, CallUnknown:
		default:
			return CallStatusResult{}, fmt.Errorf("asking call status: %w", &providers.Error{
				Provider:   provider,
				Class:      providers.Unknown,
				Code:       CodeUnreadableResponse,
				Message:    fmt.Sprintf("wages answered status %q", w.Status),
				HTTPStatus: http.StatusOK,
			})
		}
		if found == nil || statusRank(e.Status) > statusRank(found.Status) {
			found = &e
		}
	}
	if found == nil {
		return CallStatusResult{Status: CallAbsent}, nil
	}
	return CallStatusResult{Status: found.Status, Entry: found}, nil
}

// statusRank orders the statuses of several entries of one trackId: what
// proves the most wins.
func statusRank(s CallStatus) int {
	switch s {
	case CallDone:
		return 3
	case CallPending, CallUnknown:
		return 2
	default:
		return 1
	}
}

func wagesEntry(w wire.WagesEntry) WagesEntry {
	return WagesEntry{
		TrackID:           string(w.TrackID),
		Status:            CallStatus(w.Status),
		Fee:               w.Amount.V,
		TransactionAmount: w.TransactionAmount.V,
		ServiceName:       w.ServiceName,
		ScopeName:         w.ScopeName,
		TariffName:        w.TariffName,
		UID:               string(w.UID),
		Deposit:           string(w.Deposit),
		Date:              string(w.Date),
	}
}

// clientCredential makes r use the client-credential token of scope: got
// from, and dropped at, the TokenSource's client-credential side only.
func (c *Client) clientCredential(scope string, r request) request {
	r.token = func(ctx context.Context) (string, error) { return c.tokens.ClientCredential(ctx, scope) }
	r.invalidate = func() { c.tokens.InvalidateClientCredential(scope) }
	return r
}

// request is one call to Finnotech.
type request struct {
	method string
	// path is below the base URL, its verbs already escaped.
	path  string
	query url.Values
	// body is sent as JSON; nil sends none.
	body any
	// token gets the Bearer token; invalidate drops it after Finnotech
	// refused it.
	token      func(context.Context) (string, error)
	invalidate func()
	// redact is a secret in the path (a national id), masked in transport
	// errors, which quote the URL.
	redact string
	// statusInResult: the operation's result has a status of its own (the
	// unblock-transfer inquiry's status of the transfer), so a FAILED
	// result.status is a failure only beside a result.error.
	statusInResult bool
}

// call sends one request to the path pathFmt (holding one %s for the
// clientId) with trackID as its query parameter and the clientId's token,
// and returns the envelope of a successful answer. body nil sends no body.
func call[T result](ctx context.Context, c *Client, method, pathFmt, clientID, trackID string, body any) (wire.Envelope[T], error) {
	return send[T](ctx, c, request{
		method:     method,
		path:       fmt.Sprintf(pathFmt, url.PathEscape(clientID)),
		query:      url.Values{"trackId": {trackID}},
		body:       body,
		token:      func(ctx context.Context) (string, error) { return c.tokens.Token(ctx, clientID) },
		invalidate: func() { c.tokens.Invalidate(clientID) },
	})
}

// result is what a DONE answer of an operation holds; Missing names the
// fields the operation must return and the answer lacks.
type result interface {
	Missing() []string
}

// send sends r and returns the envelope of a successful answer, or a
// *providers.Error classified by classify.
//
// An answer is a success only when it is a 2xx whose outer status is DONE,
// whose result holds neither a FAILED status nor an error, and whose result
// reads as T with every field T.Missing asks for. Any FAILED status, outer
// or nested, is a failure classified by its error's code and message; a 2xx
// that is neither (another status, DONE beside an error, an unreadable
// result, fields missing) is of unknown outcome, CodeUnreadableResponse.
// A dead-token signal anywhere in a readable error drops the token.
func send[T result](ctx context.Context, c *Client, r request) (wire.Envelope[T], error) {
	var env wire.Envelope[T]
	tok, err := r.token(ctx)
	if err != nil {
		return env, tokenError(err)
	}

	u := c.baseURL + r.path + "?" + r.query.Encode()
	var rd io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return env, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeBadRequest, Message: "encoding body", Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return env, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeBadRequest, Message: "building request",
			Err: redactURL(err, r.redact)}
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)

	resp, err := c.http.Do(req)
	if err != nil {
		return env, providers.TransportError(provider, redactURL(err, r.redact))
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if readErr == nil && len(data) > maxBody {
		readErr = fmt.Errorf("answer longer than %d bytes", maxBody)
	}
	var ans answer
	if readErr == nil {
		ans = readAnswer(data)
	}
	env.Status, env.TrackID = ans.status, ans.trackID

	status := resp.StatusCode
	ok := status >= 200 && status < 300
	if ans.deadTokenError(status) != nil || status == http.StatusUnauthorized {
		r.invalidate()
	}
	unknown := func(msg string, err error) (wire.Envelope[T], error) {
		return env, &providers.Error{Provider: provider, Class: providers.Unknown, Code: CodeUnreadableResponse,
			Message: msg, HTTPStatus: status, Err: err}
	}

	innerFailed := ans.innerStatus == wire.StatusFailed && (ans.innerErr != nil || !r.statusInResult)
	switch {
	case !ans.object && ok:
		// Sent and answered, but the answer cannot be read: it may have been
		// applied.
		if readErr == nil {
			readErr = errors.New("answer is not a JSON object")
		}
		return unknown("reading answer", redactURL(readErr, r.redact))

	case !ok || ans.status == wire.StatusFailed || innerFailed:
		// A failure. When the body could not be read, the HTTP status alone
		// decides.
		e := ans.failure(status)
		class, ourCode := classify(status, e.Code, e.Message)
		msg := e.Message
		if msg == "" {
			msg = http.StatusText(status)
		}
		return env, &providers.Error{Provider: provider, Class: class, Code: ourCode, Message: msg, HTTPStatus: status}

	case ans.status != wire.StatusDone:
		return unknown(fmt.Sprintf("answer has status %q", ans.status), nil)

	case ans.err != nil || ans.innerErr != nil:
		e := ans.failure(status)
		return unknown(fmt.Sprintf("answer says DONE beside error %s %q", e.Code, e.Message), nil)

	case ans.result == nil:
		return unknown("answer says DONE without a result", nil)
	}
	if err := json.Unmarshal(ans.result, &env.Result); err != nil {
		return unknown("reading answer", redactURL(err, r.redact))
	}
	if m := env.Result.Missing(); len(m) > 0 {
		return unknown("answer says DONE without "+strings.Join(m, ", "), nil)
	}
	return env, nil
}

// tokenError is the error of a call that was not sent for want of a token.
// It is Permanent when the token source says no token can be had, and
// Retryable otherwise.
func tokenError(err error) *providers.Error {
	class := providers.Retryable
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Class == providers.Permanent {
		class = providers.Permanent
	}
	return &providers.Error{Provider: provider, Class: class, Code: CodeNoToken, Message: "getting token", Err: err}
}

// redactURL masks secret in the URL a transport error quotes.
func redactURL(err error, secret string) error {
	if secret == "" {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.URL, secret) {
		masked := *ue
		masked.URL = strings.ReplaceAll(ue.URL, secret, maskDigits(secret))
		if ue == err { //nolint:errorlint // identity, not a sentinel: err itself is the *url.Error, so its masked copy replaces it whole
			return &masked
		}
		// Not reached: http.Client.Do returns its *url.Error unwrapped.
		return errors.New(strings.ReplaceAll(err.Error(), secret, maskDigits(secret)))
	}
	if strings.Contains(err.Error(), secret) {
		return errors.New(strings.ReplaceAll(err.Error(), secret, maskDigits(secret)))
	}
	return err
}

// maskDigits keeps the last two characters of s and stars the rest.
func maskDigits(s string) string {
	if len(s) <= 2 {
		return strings.Repeat("*", len(s))
	}
	return strings.Repeat("*", len(s)-2) + s[len(s)-2:]
}
