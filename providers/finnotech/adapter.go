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

// Execute sends one call for req with trackId req.ProviderTrackID and
// returns the normalised result:
//
//   - block: a schemas.FinnotechBlockResult;
//   - unblock: a schemas.FinnotechUnblockResult, the call built from
//     req.Block, the stored block, which must be set (else CodeMissingBlock);
//   - transfer: a schemas.FinnotechTransferResult, the unblock-transfer built
//     from req.Hold (its block's clientId, its unblock call's trackId), which
//     must be set (else CodeMissingHold), and the command's amount,
//     destination and description;
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
			Description:    cmd.Description,
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
// (Client.CallStatusDetail):
//
//   - DONE: Applied, with the result Execute would have returned, built from
//     the call's answer that wages carries;
//   - PENDING: Pending; ask again later;
//   - FAILED, or UNKNOWN (Finnotech never saw the trackId): not applied.
//     For a transfer, UNKNOWN is checked with the unblock-transfer inquiry,
//     whose DONE, FAILED or PENDING is trusted.
//
// An inquiry is a read and is never in doubt: Resolve answers not applied,
// and the caller simply sends it again. An error means nothing is known
// yet; ask again later.
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
	switch st.Status {
	case CallDone:
		out, err := a.resultFromWages(req, st.Response)
		if err != nil {
			return Resolution{}, fmt.Errorf("resolving call: %w", err)
		}
		return Resolution{Verdict: providers.Applied, Result: out, Evidence: "wages DONE"}, nil
	case CallPending:
		return Resolution{Verdict: providers.Unproven, Evidence: "wages PENDING"}, nil
	case CallFailed:
		return Resolution{Verdict: providers.NotApplied, Evidence: "wages FAILED"}, nil
	case CallUnknown:
		if req.Command.Kind == schemas.KindTransfer {
			return a.resolveTransfer(ctx, req, clientID)
		}
		return Resolution{Verdict: providers.NotApplied, Evidence: "wages UNKNOWN"}, nil
	default:
		return Resolution{}, fmt.Errorf("resolving call: %w", &providers.Error{Provider: provider, Class: providers.Unknown,
			Code: CodeUnreadableResponse, Message: fmt.Sprintf("wages answered status %q", st.Status), HTTPStatus: http.StatusOK})
	}
}

// resolveTransfer asks the unblock-transfer inquiry about a transfer call
// wages does not know.
func (a *Adapter) resolveTransfer(ctx context.Context, req providers.Request, clientID string) (Resolution, error) {
	inq, err := a.client.UnblockTransferInquiry(ctx, clientID, uuid.NewString(), req.ProviderTrackID)
	var pe *providers.Error
	switch {
	case errors.As(err, &pe) && pe.Class == providers.Permanent && pe.Code == wire.CodeValidation &&
		containsAny(normalize(pe.Message), wire.MsgTransactionNotFound):
		// Finnotech does not know the transfer either.
		return Resolution{Verdict: providers.NotApplied, Evidence: "transfer inquiry: transaction not found"}, nil
	case err != nil:
		return Resolution{}, fmt.Errorf("resolving transfer: %w", err)
	}
	switch inq.Status {
	case CallDone:
		resp := UnblockTransferResponse{Amount: inq.Amount, Source: inq.Source, Destination: inq.Destination,
			TransferDate: inq.TransferDate}
		if resp.Source == "" {
			resp.Source = req.Hold.Block.Deposit
		}
		out, err := encodeResult(transferResultOf(req, resp))
		if err != nil {
			return Resolution{}, err
		}
		return Resolution{Verdict: providers.Applied, Result: out, Evidence: "transfer inquiry DONE"}, nil
	case CallPending:
		return Resolution{Verdict: providers.Unproven, Evidence: "transfer inquiry PENDING"}, nil
	default:
		return Resolution{Verdict: providers.NotApplied, Evidence: "transfer inquiry " + string(inq.Status)}, nil
	}
}

// resultFromWages builds the result of an applied call from the answer
// wages carries, exactly as Execute builds it from the call's own answer.
func (a *Adapter) resultFromWages(req providers.Request, response json.RawMessage) (json.RawMessage, error) {
	if len(response) == 0 {
		return nil, &providers.Error{Provider: provider, Class: providers.Unknown, Code: CodeUnreadableResponse,
			Message: "wages says the call is DONE but does not carry its answer", HTTPStatus: http.StatusOK}
	}
	unreadable := func(err error) error {
		return &providers.Error{Provider: provider, Class: providers.Unknown, Code: CodeUnreadableResponse,
			Message: "reading the call's answer in wages", HTTPStatus: http.StatusOK, Err: err}
	}
	switch req.Command.Kind {
	case schemas.KindBlock:
		var r wire.BlockResult
		if err := json.Unmarshal(response, &r); err != nil {
			return nil, unreadable(err)
		}
		return encodeResult(blockResultOf(req, blockResponse(r, req.ProviderTrackID, BlockRequest{})))
	case schemas.KindUnblock:
		var r wire.UnblockResult
		if err := json.Unmarshal(response, &r); err != nil {
			return nil, unreadable(err)
		}
		return encodeResult(unblockResultOf(req, UnblockResponse{Amount: r.Amount.V, Deposit: r.Deposit, UnblockDate: r.UnblockDate}))
	default: // schemas.KindTransfer
		var r wire.TransferResult
		if err := json.Unmarshal(response, &r); err != nil {
			return nil, unreadable(err)
		}
		return encodeResult(transferResultOf(req, UnblockTransferResponse{Amount: r.Amount.V, Source: r.Source, Destination: r.Destination, TransferDate: r.TransferDate}))
	}
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
