package arhivaar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/arhivaar/internal/wire"
)

// maxBody is the largest answer the Client reads; a longer one is
// unreadable.
const maxBody = 1 << 20

// Client calls Arhivaar's partner API with one partner's acc_key and
// secret. It is safe for concurrent use, and it never logs nor puts the
// secret or a signature in an error.
//
// The Client sends each call once and never retries. Every error it
// returns holds a *providers.Error (use errors.As or providers.ClassOf):
//
//   - Permanent: Arhivaar refused the call with a documented code
//     (INVALID_ID, INVALID_BLOCK, INVALID_NOTE, or the assumed
//     INVALID_SIGNATURE); sending it again cannot help.
//   - Retryable: the call was not applied (a dial error, a context done
//     before sending, HTTP 429 or 503).
//   - Unknown: the call may have been applied (a timeout, a lost answer, a
//     408, 500, 502, 504, or any answer the page does not list). Arhivaar
//     has no call to ask which (arhivaar/doc.go, "Unknown outcomes").
type Client struct {
	baseURL string
	accKey  string
	secret  string
	http    *http.Client
}

// ClientConfig says where Arhivaar is and which partner the Client signs
// as.
type ClientConfig struct {
	// BaseURL is Arhivaar's base URL, for example https://api.arhivaar.ee.
	// Required.
	BaseURL string
	// AccKey is the partner's acc_key, sent with every call. Required.
	AccKey string
	// Secret is the partner secret every call is signed with; it is never
	// sent. Required.
	Secret string
	// HTTPClient sends the calls. Default http.DefaultClient; give it a
	// Timeout or pass contexts with deadlines.
	HTTPClient *http.Client
}

// Validate reports a config a Client cannot work with.
func (c ClientConfig) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("arhivaar client: BaseURL is required"))
	}
	if c.AccKey == "" {
		errs = append(errs, errors.New("arhivaar client: AccKey is required"))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("arhivaar client: Secret is required"))
	}
	return errors.Join(errs...)
}

// NewClient returns a Client for the Arhivaar API cfg names. It does not
// check cfg; call Validate first.
func NewClient(cfg ClientConfig) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	return &Client{baseURL: strings.TrimRight(cfg.BaseURL, "/"), accKey: cfg.AccKey, secret: cfg.Secret, http: cfg.HTTPClient}
}

// SetBlocked blocks (block true) or activates (block false) the account
// with the encoded id, giving note as the reason. The values are sent as
// given; Arhivaar checks them (a note must be 1–1000 characters).
func (c *Client) SetBlocked(ctx context.Context, id string, block bool, note string) error {
	if err := c.send(ctx, id, block, note); err != nil {
		// The error holds no account id, note, secret or signature.
		if block {
			return fmt.Errorf("blocking account: %w", err)
		}
		return fmt.Errorf("activating account: %w", err)
	}
	return nil
}

// send makes one call and classifies its answer.
func (c *Client) send(ctx context.Context, id string, block bool, note string) error {
	if err := ctx.Err(); err != nil {
		// Nothing was sent.
		return &providers.Error{Provider: provider, Class: providers.Retryable,
			Message: "context done before sending", Err: err}
	}
	body := wire.SignedBody(wire.UnsignedBody(id, block, note, c.accKey), c.secret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+wire.BlockPath, strings.NewReader(body))
	if err != nil {
		// The error names the URL only; the body is not in it.
		return &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeBadRequest,
			Message: "building request", Err: err}
	}
	req.Header.Set("Content-Type", wire.FormContentType)
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		return providers.TransportError(provider, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		// Answered, then the connection broke: the call may have been
		// applied.
		pe := providers.TransportError(provider, err)
		pe.HTTPStatus = resp.StatusCode
		return pe
	}
	if len(data) > maxBody {
		data = nil // too long to be Arhivaar's reply: unreadable
	}
	if pe := classify(resp.StatusCode, data); pe != nil {
		return pe
	}
	return nil
}
