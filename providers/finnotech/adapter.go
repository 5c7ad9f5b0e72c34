package finnotech

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/jalali"
	"github.com/blockd/blockd/schemas"
)

// Inquiries an inquiry command may ask (schemas.Command.Inquiry).
const (
	InquiryTransfer = "transfer"
	InquiryFacility = "facility"
)

// Adapter carries out blockd commands at Finnotech through a Client.
type Adapter struct {
	client *Client
}

// NewAdapter returns an Adapter that calls c.
func NewAdapter(c *Client) *Adapter {
	return &Adapter{client: c}
}

// Warm makes sure a block for cmd can be sent at once: the customer's
// token is at hand (renewed now if it must be). blockd records a block's
// intent with the command itself; warming first keeps a batch of intents
// from waiting, unsent, for a token.
func (a *Adapter) Warm(ctx context.Context, cmd schemas.Command) error {
	if cmd.Kind != schemas.KindBlock {
		return nil
	}
	return a.client.WarmToken(ctx, cmd.ClientID)
}

// Execute sends one call for req with trackId req.ProviderTrackID and
// returns the normalised result:
//
//   - block: a schemas.FinnotechBlockResult;
//   - unblock: a schemas.FinnotechUnblockResult, the call built from
//     req.Block, the stored block (its amount, description, days, deposit,
//     blockDate and call trackId), which must be set (else CodeMissingBlock);
//   - transfer: a schemas.FinnotechTransferResult, the unblock-transfer built
//     from req.Hold (its block's clientId, description and days, its unblock
//     call's trackId), which must be set (else CodeMissingHold), and the
//     command's amount and destination;
//   - inquiry "transfer": a schemas.FinnotechTransferInquiryResult about the
//     transfer call req.InquiredTrackID of client req.InquiredClientID
//     (else CodeMissingTransfer);
//   - inquiry "facility": a schemas.FinnotechFacilityResult.
//
// Other kinds and inquiries fail Permanent with Code CodeUnsupported.
// Errors are classified as the Client's are.
func (a *Adapter) Execute(ctx context.Context, req providers.Request) (json.RawMessage, error) {
	cmd := req.Command
	switch cmd.Kind {
	case schemas.KindBlock:
		resp, err := a.client.Block(ctx, cmd.ClientID, req.ProviderTrackID, BlockRequest{
			Amount:      cmd.Amount,
			Description: cmd.Description,
			Days:        cmd.Days,
		})
		if err != nil {
			return nil, err
		}
		return encodeResult(blockResultOf(req, resp))

	case schemas.KindUnblock:
		b := req.Block
		if b == nil {
			return nil, errMissingBlock()
		}
		resp, err := a.client.Unblock(ctx, b.ClientID, req.ProviderTrackID, UnblockRequest{
			Amount:       b.Amount,
			BlockTrackID: b.ProviderTrackID,
			Deposit:      b.Deposit,
			BlockDate:    b.BlockDate,
			Description:  b.Description,
			Days:         b.Days,
		})
		if err != nil {
			return nil, err
		}
		return encodeResult(unblockResultOf(req, resp))

	case schemas.KindTransfer:
		h := req.Hold
		if h == nil || h.UnblockProviderTrackID == "" {
			return nil, errMissingHold()
		}
		resp, err := a.client.UnblockTransfer(ctx, h.Block.ClientID, req.ProviderTrackID, UnblockTransferRequest{
			Amount:         cmd.Amount,
			UnblockTrackID: h.UnblockProviderTrackID,
			Destination:    cmd.Destination,
			Description:    h.Block.Description,
			Days:           h.Block.Days,
		})
		if err != nil {
			return nil, err
		}
		return encodeResult(transferResultOf(req, resp))

	case schemas.KindInquiry:
		switch cmd.Inquiry {
		case InquiryTransfer:
			if req.InquiredTrackID == "" || req.InquiredClientID == "" {
				return nil, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeMissingTransfer,
					Message: "transfer inquiry without the transfer call's trackId and clientId"}
			}
			resp, err := a.client.UnblockTransferInquiry(ctx, req.InquiredClientID, req.ProviderTrackID, req.InquiredTrackID)
			if err != nil {
				return nil, err
			}
			return encodeResult(schemas.FinnotechTransferInquiryResult{
				TransferTrackID: cmd.TransferTrackID,
				Status:          string(resp.Status),
				Amount:          resp.Amount,
				Destination:     resp.Destination,
				TransferDate:    resp.TransferDate,
				ProviderTrackID: req.InquiredTrackID,
			})
		case InquiryFacility:
			resp, err := a.client.FacilityInquiry(ctx, cmd.ClientID, req.ProviderTrackID, cmd.NationalID)
			if err != nil {
				return nil, err
			}
			return encodeResult(resp.Result)
		}
		return nil, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeUnsupported,
			Message: fmt.Sprintf("finnotech adapter does not answer %q inquiries", cmd.Inquiry)}

	default:
		return nil, errUnsupported(cmd.Kind)
	}
}

// Resolve says what became of the call sent for req with trackId
// req.ProviderTrackID whose outcome is unknown, by asking the wages service
// (Client.CallStatusDetail), following the documents' rule: a money call
// that failed, is unknown or timed out is never repeated but checked
// (finnotech/doc.go, "Unknown outcomes"):
//
//   - DONE: Applied, with the result Execute would have returned, built
//     from what blockd sent and what the wages entry says (block: deposit
//     and blockDate; unblock: unblockDate; transfer: transferDate, each
//     date the Jalali YYMMDD of the entry's date), its Inquiry naming those
//     fields;
//   - FAILED: NotApplied;
//   - PENDING, UNKNOWN, or no entry (ABSENT): Unproven; ask again later.
//     A transfer wages does not settle is asked about with the
//     unblock-transfer inquiry: DONE is Applied, FAILED NotApplied, PENDING
//     and "transaction not found" Unproven.
//
// An inquiry command is a read and is never in doubt: Resolve answers not
// applied, and the caller simply sends it again. An error means nothing is
// known yet (as Unproven); ask again later.
func (a *Adapter) Resolve(ctx context.Context, req providers.Request) (Resolution, error) {
	var clientID string
	switch req.Command.Kind {
	case schemas.KindInquiry:
		return Resolution{Verdict: providers.NotApplied, Evidence: "an inquiry only reads"}, nil
	case schemas.KindBlock:
		clientID = req.Command.ClientID
	case schemas.KindUnblock:
		if req.Block == nil {
			return Resolution{}, errMissingBlock()
		}
		clientID = req.Block.ClientID
	case schemas.KindTransfer:
		if req.Hold == nil {
			return Resolution{}, errMissingHold()
		}
		clientID = req.Hold.Block.ClientID
	default:
		return Resolution{}, errUnsupported(req.Command.Kind)
	}

	st, err := a.client.CallStatusDetail(ctx, clientID, req.ProviderTrackID)
	if err != nil {
		return Resolution{}, fmt.Errorf("resolving call: %w", err)
	}
	evidence := "wages " + string(st.Status)
	switch st.Status {
	case CallDone:
		out, err := resultFromWages(req, *st.Entry)
		if err != nil {
			return Resolution{}, fmt.Errorf("resolving call: %w", err)
		}
		return Resolution{Verdict: providers.Applied, Result: out, Evidence: evidence}, nil
	case CallFailed:
		return Resolution{Verdict: providers.NotApplied, Evidence: evidence}, nil
	}
	// PENDING, UNKNOWN or ABSENT: not settled.
	if req.Command.Kind == schemas.KindTransfer {
		return a.resolveTransfer(ctx, req, clientID, evidence)
	}
	return Resolution{Verdict: providers.Unproven, Evidence: evidence}, nil
}

// resolveTransfer asks the unblock-transfer inquiry about a transfer call
// wages does not settle (what wages said is in evidence).
func (a *Adapter) resolveTransfer(ctx context.Context, req providers.Request, clientID, evidence string) (Resolution, error) {
	inq, err := a.client.UnblockTransferInquiry(ctx, clientID, uuid.NewString(), req.ProviderTrackID)
	var pe *providers.Error
	switch {
	case errors.As(err, &pe) && pe.Class == providers.Permanent && containsAny(normalize(pe.Message), wire.MsgTransactionNotFound):
		// Finnotech does not know the transfer (yet): a late call may still
		// land, so this proves nothing.
		return Resolution{Verdict: providers.Unproven, Evidence: evidence + ", transfer inquiry: transaction not found"}, nil
	case err != nil:
		return Resolution{}, fmt.Errorf("resolving transfer (%s): %w", evidence, err)
	}
	evidence += ", transfer inquiry " + string(inq.Status)
	switch inq.Status {
	case CallDone:
		out, err := transferFromInquiry(req, inq)
		if err != nil {
			return Resolution{}, fmt.Errorf("resolving transfer (%s): %w", evidence, err)
		}
		return Resolution{Verdict: providers.Applied, Result: out, Evidence: evidence}, nil
	case CallFailed:
		return Resolution{Verdict: providers.NotApplied, Evidence: evidence}, nil
	default: // CallPending
		return Resolution{Verdict: providers.Unproven, Evidence: evidence}, nil
	}
}

// resultFromWages builds the result of a call wages says is DONE, as
// Execute builds it from the call's own answer: what blockd sent, and from
// the wages entry what only Finnotech knows (finnotech/doc.go, "Wages"). An entry
// without a usable date (or, for a block, without the deposit) cannot make
// the result blockd must record: its error is Unknown, the call is still
// never re-sent, and the command ends needing reconciliation.
func resultFromWages(req providers.Request, e WagesEntry) (json.RawMessage, error) {
	unreadable := func(msg string, err error) error {
		return &providers.Error{Provider: provider, Class: providers.Unknown, Code: CodeUnreadableResponse,
			Message: msg, HTTPStatus: http.StatusOK, Err: err}
	}
	day, err := jalaliDay(e.Date)
	if err != nil {
		return nil, unreadable("wages says the call is DONE with an unreadable date", err)
	}
	inquiry := func(fields ...string) *schemas.FinnotechInquiry {
		return &schemas.FinnotechInquiry{Service: schemas.FinnotechInquiryWages, Status: string(CallDone), Fields: fields}
	}
	cmd := req.Command
	switch cmd.Kind {
	case schemas.KindBlock:
		if e.Deposit == "" {
			return nil, unreadable("wages says the block is DONE without its deposit", nil)
		}
		return encodeResult(schemas.FinnotechBlockResult{Amount: cmd.Amount, Description: cmd.Description, Deposit: e.Deposit,
			BlockDate: day, Days: cmd.Days, ProviderTrackID: req.ProviderTrackID, Inquiry: inquiry("deposit", "blockDate")})
	case schemas.KindUnblock:
		b := req.Block
		return encodeResult(schemas.FinnotechUnblockResult{Amount: b.Amount, Deposit: b.Deposit, UnblockDate: day,
			BlockTrackID: b.TrackID, ProviderTrackID: req.ProviderTrackID, Inquiry: inquiry("unblockDate")})
	default: // schemas.KindTransfer
		h := req.Hold
		return encodeResult(schemas.FinnotechTransferResult{Amount: cmd.Amount, Source: h.Block.Deposit, Destination: cmd.Destination,
			TransferDate: day, UnblockTrackID: h.UnblockTrackID, ProviderTrackID: req.ProviderTrackID, Inquiry: inquiry("transferDate")})
	}
}

// transferFromInquiry builds the result of a transfer the unblock-transfer
// inquiry says is DONE: the amount and destination sent, the inquiry's
// date and (when it gives one) source. An answer without a date, or of
// another amount than was sent, is Unknown.
func transferFromInquiry(req providers.Request, inq TransferInquiryResponse) (json.RawMessage, error) {
	cmd, h := req.Command, req.Hold
	var msg string
	switch {
	case inq.TransferDate == "":
		msg = "transfer inquiry says DONE without the transfer's date"
	case inq.Amount != 0 && inq.Amount != cmd.Amount:
		msg = fmt.Sprintf("transfer inquiry says DONE of %d rials, the call asked for %d", inq.Amount, cmd.Amount)
	}
	if msg != "" {
		return nil, &providers.Error{Provider: provider, Class: providers.Unknown, Code: CodeUnreadableResponse, Message: msg,
			HTTPStatus: http.StatusOK}
	}
	out := schemas.FinnotechTransferResult{Amount: cmd.Amount, Source: h.Block.Deposit, Destination: cmd.Destination,
		TransferDate: inq.TransferDate, UnblockTrackID: h.UnblockTrackID, ProviderTrackID: req.ProviderTrackID,
		Inquiry: &schemas.FinnotechInquiry{Service: schemas.FinnotechInquiryTransfer, Status: string(CallDone)}}
	if inq.Source != "" {
		out.Source = inq.Source
		out.Inquiry.Fields = append(out.Inquiry.Fields, "source")
	}
	out.Inquiry.Fields = append(out.Inquiry.Fields, "transferDate")
	return encodeResult(out)
}

// jalaliDay returns the Jalali YYMMDD (the form of blockDate) of a wages
// date, Jalali YYYYMMDDHHMMSS.
func jalaliDay(date string) (string, error) {
	if len(date) != len("YYYYMMDDHHMMSS") {
		return "", fmt.Errorf("wages date %q is not YYYYMMDDHHMMSS", date)
	}
	d, err := jalali.Parse(date)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%02d%02d%02d", d.Year%100, d.Month, d.Day), nil
}

// Status asks Finnotech for the last status of the call sent with
// providerTrackID (see Client.CallStatus).
func (a *Adapter) Status(ctx context.Context, clientID, providerTrackID string) (CallStatus, error) {
	return a.client.CallStatus(ctx, clientID, providerTrackID)
}

func blockResultOf(req providers.Request, resp BlockResponse) schemas.FinnotechBlockResult {
	return schemas.FinnotechBlockResult{
		Amount:          resp.Amount,
		Description:     resp.Description,
		Deposit:         resp.Deposit,
		BlockDate:       resp.BlockDate,
		Days:            resp.Days,
		ProviderTrackID: req.ProviderTrackID,
	}
}

func unblockResultOf(req providers.Request, resp UnblockResponse) schemas.FinnotechUnblockResult {
	return schemas.FinnotechUnblockResult{
		Amount:          resp.Amount,
		Deposit:         resp.Deposit,
		UnblockDate:     resp.UnblockDate,
		BlockTrackID:    req.Block.TrackID,
		ProviderTrackID: req.ProviderTrackID,
	}
}

func transferResultOf(req providers.Request, resp UnblockTransferResponse) schemas.FinnotechTransferResult {
	return schemas.FinnotechTransferResult{
		Amount:          resp.Amount,
		Source:          resp.Source,
		Destination:     resp.Destination,
		TransferDate:    resp.TransferDate,
		UnblockTrackID:  req.Hold.UnblockTrackID,
		ProviderTrackID: req.ProviderTrackID,
	}
}

func errMissingBlock() *providers.Error {
	return &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeMissingBlock,
		Message: "unblock request without its stored block"}
}

func errMissingHold() *providers.Error {
	return &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeMissingHold,
		Message: "transfer request without a hold released by a successful unblock"}
}

func errUnsupported(kind schemas.Kind) *providers.Error {
	return &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeUnsupported,
		Message: fmt.Sprintf("finnotech adapter does not carry out %q commands", kind)}
}

func encodeResult(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		// Not reached: the results hold only strings and numbers. The call
		// was applied, so this is not a provider refusal.
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return b, nil
}
