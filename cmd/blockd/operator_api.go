package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/blockd/blockd/schemas"
)

// maxVerdictBody bounds the body of a resolve request.
const maxVerdictBody = 8 << 10

// commandEndpoints are the operator endpoints on one command: what is
// stored about it, an operator's verdict on it, and publishing its result
// again. Every answer passes writeJSON's redaction.
func (h *healthServer) commandEndpoints(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/commands/{trackId}", func(w http.ResponseWriter, r *http.Request) {
		d, err := h.store.CommandDetail(r.Context(), r.PathValue("trackId"))
		if err != nil {
			writeOperatorError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("POST /v1/commands/{trackId}/replay", func(w http.ResponseWriter, r *http.Request) {
		trackID := r.PathValue("trackId")
		eventID, err := h.store.ReplayResult(r.Context(), trackID)
		if err != nil {
			writeOperatorError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"trackId": trackID, "eventId": eventID, "queued": true})
	})
	mux.HandleFunc("POST /v1/commands/{trackId}/resolve", h.resolve)
}

// resolve records an operator's verdict on a command: it settles an
// IN_DOUBT command (publishing its result through the outbox), or clears
// the reconciliation flag of a finished one (publishing nothing). Any
// other state is refused with 409; the same verdict again answers 200 with
// "repeated": true and changes nothing.
func (h *healthServer) resolve(w http.ResponseWriter, r *http.Request) {
	var v schemas.OperatorVerdict
	body, err := io.ReadAll(io.LimitReader(r.Body, maxVerdictBody+1))
	if err != nil || len(body) > maxVerdictBody {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON object of at most 8 KiB"})
		return
	}
	if err := json.Unmarshal(body, &v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be {\"verdict\",\"reason\",\"by\"[,\"codeSlot\"]}"})
		return
	}
	if err := v.Validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	v.TrackID = r.PathValue("trackId")
	ctx := r.Context()
	d, err := h.store.CommandDetail(ctx, v.TrackID)
	if err != nil {
		writeOperatorError(w, err)
		return
	}
	var repeated bool
	switch d.State {
	case schemas.StateInDoubt:
		st, err := h.operatorSettlement(d, v)
		if err != nil {
			writeOperatorError(w, err)
			return
		}
		st.CallTimeout, st.LandingMargin = h.callTimeout, h.landingMargin
		out, err := h.store.SettleInDoubtByOperator(ctx, st)
		if err != nil {
			writeOperatorError(w, err)
			return
		}
		repeated = out.Repeated
	default:
		// A finished command flagged for reconciliation, or one already
		// resolved (a repeat): the store decides under the row lock.
		repeat := d.Verdict != nil && d.Verdict.Verdict == v.Verdict && !d.NeedsReconciliation
		if v.CodeSlot != 0 && !repeat {
			writeOperatorError(w, fmt.Errorf("%w: a code slot is taken only when settling an IN_DOUBT card block; "+
				"the command is %s", schemas.ErrOperatorRefused, d.State))
			return
		}
		out, err := h.store.RecordReconcileVerdict(ctx, v)
		if err != nil {
			writeOperatorError(w, err)
			return
		}
		repeated = out.Repeated
	}
	d, err = h.store.CommandDetail(ctx, v.TrackID)
	if err != nil {
		writeOperatorError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"repeated": repeated, "command": d})
}

// writeOperatorError answers err: 404 for an unknown trackId, 409 for what
// the command's state does not allow, 500 for anything else.
func writeOperatorError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, schemas.ErrCommandNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, schemas.ErrOperatorRefused):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
}
