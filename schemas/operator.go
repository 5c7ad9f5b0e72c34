package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The verdicts an operator gives on a command after checking the
// provider's statement (blockd resolve).
const (
	VerdictApplied    = "applied"
	VerdictNotApplied = "not-applied"
)

// Bounds of what an operator's verdict records.
const (
	MaxVerdictReasonBytes = 1000
	MaxVerdictByBytes     = 128
)

// ErrOperatorRefused: the command's state does not allow what the operator
// asked; the error's text says why.
var ErrOperatorRefused = errors.New("refused")

// ErrCommandNotFound: no command is stored under the trackId.
var ErrCommandNotFound = errors.New("no command is stored under this trackId")

// OperatorVerdict is an operator's verdict on one command: whether its
// effect was applied at the provider, who says so and why.
type OperatorVerdict struct {
	TrackID string `json:"-"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	By      string `json:"by"`
	// CodeSlot is, for "applied" on a card block, the slot (1 or 2) the
	// platform shows the block's code in; 0 otherwise.
	CodeSlot int `json:"codeSlot,omitempty"`
}

// Validate checks the verdict is one of the two, that the reason and who
// are given, printable and bounded, and that a code slot is 1 or 2 and
// comes only with "applied".
func (v OperatorVerdict) Validate() error {
	if v.Verdict != VerdictApplied && v.Verdict != VerdictNotApplied {
		return fmt.Errorf("verdict must be %q or %q", VerdictApplied, VerdictNotApplied)
	}
	switch {
	case v.CodeSlot != 0 && v.CodeSlot != 1 && v.CodeSlot != 2:
		return errors.New("codeSlot must be 1 or 2")
	case v.CodeSlot != 0 && v.Verdict != VerdictApplied:
		return fmt.Errorf("codeSlot goes only with %q", VerdictApplied)
	}
	if err := printable("reason", v.Reason, MaxVerdictReasonBytes); err != nil {
		return err
	}
	return printable("by", v.By, MaxVerdictByBytes)
}

func printable(name, s string, limit int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("%s is required", name)
	case len(s) > limit:
		return fmt.Errorf("%s must be at most %d bytes", name, limit)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s must be UTF-8 text", name)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s must not contain control characters", name)
		}
	}
	return nil
}

// OperatorSettlement is how an operator's verdict ends an IN_DOUBT
// command: its terminal state and the result event to publish, built for
// the command as it was read (Attempts: it is refused if another call was
// made meanwhile).
type OperatorSettlement struct {
	Verdict  OperatorVerdict
	Attempts int
	State    State // DONE or FAILED
	EventID  string
	Result   Outbound
	// CallTimeout and LandingMargin are the service's BLOCKD_CALL_TIMEOUT
	// and BLOCKD_LANDING_MARGIN: an open call may land at the provider
	// until its intent + 2 × CallTimeout + LandingMargin (intent to sent
	// within CallTimeout, the call lasting up to CallTimeout, plus the
	// margin), and "not-applied" is refused until then.
	CallTimeout   time.Duration
	LandingMargin time.Duration
}

// CommandDetail is what is stored about one command, for an operator
// (blockd status). Texts in it may quote a provider: show it only through
// the redaction.
type CommandDetail struct {
	TrackID             string          `json:"trackId"`
	Kind                string          `json:"type"`
	Provider            string          `json:"provider"`
	State               State           `json:"state"`
	Attempts            int             `json:"attempts"`
	ReceivedAt          time.Time       `json:"receivedAt"`
	CompletedAt         *time.Time      `json:"completedAt,omitempty"`
	InDoubtReason       string          `json:"inDoubtReason,omitempty"`
	InDoubtSince        *time.Time      `json:"inDoubtSince,omitempty"`
	NeedsReconciliation bool            `json:"needsReconciliation"`
	ReconcileReason     string          `json:"reconcileReason,omitempty"`
	Verdict             *VerdictRecord  `json:"operatorVerdict,omitempty"`
	Calls               []CallDetail    `json:"calls"`
	EventID             string          `json:"eventId,omitempty"`
	ResultTopic         string          `json:"resultTopic,omitempty"`
	Result              json.RawMessage `json:"result,omitempty"`
	ResultHeaders       json.RawMessage `json:"resultHeaders,omitempty"`
	Traceparent         string          `json:"-"`
}

// VerdictRecord is an operator's recorded verdict.
type VerdictRecord struct {
	Verdict string    `json:"verdict"`
	By      string    `json:"by"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// CallDetail is one provider call of a command, as recorded.
type CallDetail struct {
	ProviderTrackID string     `json:"providerTrackId"`
	Attempt         int        `json:"attempt"`
	State           string     `json:"state"`
	ErrorCode       string     `json:"errorCode,omitempty"`
	HTTPStatus      int        `json:"httpStatus,omitempty"`
	Evidence        string     `json:"evidence,omitempty"`
	StartedAt       time.Time  `json:"startedAt"`
	FinishedAt      *time.Time `json:"finishedAt,omitempty"`
	LateState       string     `json:"lateState,omitempty"`
}
