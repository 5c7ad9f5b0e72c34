package processor

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/blockd/blockd/schemas"
)

// OperatorSettlement builds how an operator's verdict v ends the IN_DOUBT
// command d: its terminal state and its result event, exactly as this
// processor would publish it (headers, the sandbox mark, traceparent).
//
// "not-applied" ends it FAILED OPERATOR_NOT_APPLIED. "applied" ends it
// DONE only where blockd's ledger needs nothing from the provider's answer
// (Arhivaar and card commands: the result says stateFrom "operator"); a
// Finnotech block, unblock or transfer needs the provider's deposit, dates
// and amounts to keep the holds ledger, which an operator's word does not
// give: refused (schemas.ErrOperatorRefused). "applied" on a card block
// needs the slot its code is in (v.CodeSlot, put in the result as
// codeSlot): an unblock of it must name that slot (SLOT_MISMATCH). Who gave
// the verdict is never put in the result.
func (p *Processor) OperatorSettlement(d schemas.CommandDetail, v schemas.OperatorVerdict) (schemas.OperatorSettlement, error) {
	if d.State != schemas.StateInDoubt {
		return schemas.OperatorSettlement{}, fmt.Errorf("%w: the command is %s, not IN_DOUBT", schemas.ErrOperatorRefused, d.State)
	}
	kind, provider := schemas.Kind(d.Kind), schemas.Provider(d.Provider)
	var res schemas.Result
	switch v.Verdict {
	case schemas.VerdictNotApplied:
		// Who gave the verdict is free text: the record keeps it, the
		// published result does not.
		res = p.result(d.TrackID, kind, provider, schemas.StatusFailed, nil, &schemas.ErrorInfo{Code: schemas.CodeOperatorNotApplied,
			Message: "the call's outcome was unknown; an operator checked the provider and found it was not applied; " +
				"what the command reserved was given back; send a new command with a new trackId to try again"},
			d.Attempts, d.ReceivedAt, uuid.NewString())
	case schemas.VerdictApplied:
		if provider == schemas.ProviderFinnotech {
			return schemas.OperatorSettlement{}, fmt.Errorf("%w: a Finnotech %s keeps the provider's deposit, dates and amounts in the holds ledger, "+
				"which an operator's verdict does not give; blockd keeps asking the provider (wages) until its deadline, "+
				"then answers OUTCOME_UNKNOWN; resolve it then to record the verdict", schemas.ErrOperatorRefused, kind)
		}
		out := []byte(`{"stateFrom":"operator"}`)
		switch {
		case provider == schemas.ProviderCard && kind == schemas.KindBlock && v.CodeSlot == 0:
			return schemas.OperatorSettlement{}, fmt.Errorf("%w: a card block needs the slot (1 or 2) the platform shows its code in "+
				"(--code-slot): its unblock must name that slot", schemas.ErrOperatorRefused)
		case provider == schemas.ProviderCard && kind == schemas.KindBlock:
			out = fmt.Appendf(nil, `{"stateFrom":"operator","codeSlot":%d}`, v.CodeSlot)
		case v.CodeSlot != 0:
			return schemas.OperatorSettlement{}, fmt.Errorf("%w: a code slot is given only for a card block", schemas.ErrOperatorRefused)
		}
		res = p.result(d.TrackID, kind, provider, schemas.StatusDone, out, nil, d.Attempts, d.ReceivedAt, uuid.NewString())
	default:
		return schemas.OperatorSettlement{}, fmt.Errorf("verdict must be %q or %q", schemas.VerdictApplied, schemas.VerdictNotApplied)
	}
	return schemas.OperatorSettlement{Verdict: v, Attempts: d.Attempts, State: schemas.State(res.Status), EventID: res.EventID,
		Result: p.resultMessage(res, d.Traceparent)}, nil
}
