package schemas

import (
	"errors"
	"time"
)

// Sentinel errors of the durable command phases.
var (
	// ErrNotClaimed: the caller no longer holds the command's claim (its
	// lease expired and another worker took it over, or it finished).
	ErrNotClaimed = errors.New("command is not claimed by this worker")
	// ErrHoldTaken: another unblock already reserved or released the hold.
	ErrHoldTaken = errors.New("hold already taken by another unblock")
	// ErrUnstorable: the database refused what it was given to store (a
	// data error: a character or value it cannot hold, a constraint the
	// data breaks). Trying again cannot succeed; it is no outage.
	ErrUnstorable = errors.New("the database refused the data")
)

// Claimed is a stored, unfinished command handed to a worker to carry on.
type Claimed struct {
	Command    Command
	Claim      string
	ReceivedAt time.Time
	Attempts   int
}

// ReceiptStatus says what storing a consumed command found.
type ReceiptStatus int

const (
	// ReceiptNew: the command was stored now and is claimed by the caller.
	ReceiptNew ReceiptStatus = iota + 1
	// ReceiptResumed: the command was stored earlier, no provider call was
	// sent, and its previous owner is gone; the caller now holds the claim.
	ReceiptResumed
	// ReceiptFinished: the command already has a terminal result; it was
	// queued for publishing again with the same eventId.
	ReceiptFinished
	// ReceiptBusy: another live worker holds the command's lease.
	ReceiptBusy
	// ReceiptInDoubt: a provider call may have been sent and its outcome is
	// not recorded; the command waits for resolution and is never re-sent.
	ReceiptInDoubt
	// ReceiptConflict: the trackId is used by a different command.
	ReceiptConflict
)

// SourceMeta says where a command was consumed from.
type SourceMeta struct {
	Topic       string
	Partition   int
	Offset      int64
	Traceparent string
}

// Receipt is the answer to storing a consumed command.
type Receipt struct {
	Status ReceiptStatus
	// Claim is the caller's token for this piece of work (New, Resumed).
	Claim string
	// State of the stored command.
	State State
	// Attempts already made (Resumed, InDoubt, Finished).
	Attempts   int
	ReceivedAt time.Time
	// FirstCall is set when the command was stored now (New) together with
	// its first provider call's intent (Store.ReceiveAndBegin): the command
	// is CALLING and the call, attempt 1, SENDING.
	FirstCall bool
}

// HoldState is where a money hold is in its life.
type HoldState string

// Hold states.
const (
	HoldBlocked      HoldState = "BLOCKED"
	HoldUnblocking   HoldState = "UNBLOCKING"
	HoldUnblocked    HoldState = "UNBLOCKED"
	HoldTransferring HoldState = "TRANSFERRING"
	HoldTransferred  HoldState = "TRANSFERRED"
)

// Hold is one money hold's life in the ledger: blocked, unblocked, then at
// most one successful transfer.
type Hold struct {
	Block                   BlockRef
	State                   HoldState
	UnblockTrackID          string
	UnblockProviderTrackID  string
	UnblockDate             string
	TransferTrackID         string
	TransferProviderTrackID string
	TransferAmount          int64
}

// Lookup is what blockd stored about a command another command refers to
// (the block of an unblock, the unblock of a transfer, the transfer of an
// inquiry).
type Lookup struct {
	// Found is false when blockd never received that trackId.
	Found    bool
	Kind     Kind
	Provider Provider
	State    State
	// Hold is the ledger entry the command belongs to, if any.
	Hold *Hold
	// ProviderTrackID is the trackId of the command's latest provider call.
	ProviderTrackID string
	// ClientID is the Finnotech client the command was made for: its own,
	// or its hold's.
	ClientID string
	// AccountID is the account an Arhivaar or card command acts on.
	AccountID string
	// CodeSlot is, for a card block that is DONE, the slot its code went
	// into (result.codeSlot); 0 otherwise.
	CodeSlot int
}

// CallStart records a provider call attempt before it is sent.
type CallStart struct {
	TrackID         string
	Claim           string
	ProviderTrackID string
	// ReserveHold, when set, reserves that block's hold for this unblock in
	// the same transaction; the call is not started if another unblock holds it.
	ReserveHold string
	// ReserveTransfer, when set, reserves the hold released by that unblock
	// for this transfer; the call is not started if another transfer holds it.
	ReserveTransfer string
	// Before is the provider's state as read before this call (Preparer);
	// the command keeps the one read before its FIRST call.
	Before []byte
}

// CallBegun is what recording a call attempt returns.
type CallBegun struct {
	// Attempt is the attempt's number, from 1.
	Attempt int
	// Before is the provider's state before the command's first call, if
	// one was read (see CallStart.Before).
	Before []byte
}

// MarkInDoubtParams names a CALLING command whose provider call may have
// been applied and whose outcome is not known.
type MarkInDoubtParams struct {
	// TrackID is the command's trackId.
	TrackID string
	// Claim is the caller's claim on the command; the caller keeps it.
	Claim string
	// Reason says why the outcome is unknown; it is stored for operators.
	Reason string
}

// RecordAttemptNotAppliedParams names a provider call attempt that certainly
// did not apply (the provider said so, or it was never sent) and how it
// failed.
type RecordAttemptNotAppliedParams struct {
	// TrackID is the command's trackId.
	TrackID string
	// Claim is the caller's claim on the command; the caller keeps it.
	Claim string
	// ProviderTrackID is the trackId of the failed attempt's call.
	ProviderTrackID string
	// ErrorCode is the provider's error code, "" when it gave none.
	ErrorCode string
	// HTTPStatus is the provider's HTTP status, 0 when there was no answer.
	HTTPStatus int
}

// RecordInDoubtNotAppliedParams names an IN_DOUBT command whose provider
// confirmed that its unknown call was not applied.
type RecordInDoubtNotAppliedParams struct {
	// TrackID is the command's trackId.
	TrackID string
	// Claim is the caller's claim on the command; the caller keeps it.
	Claim string
	// ProviderTrackID is the in-doubt call the verdict is about; only its
	// row changes.
	ProviderTrackID string
	// Evidence says what proves the call was not applied ("wages FAILED",
	// "never sent", …); it is kept on the call row.
	Evidence string
	// Superseded says the call is not proven unapplied, but can no longer
	// land and its state-setting effect is safe to set again: its row stays
	// UNKNOWN, and a new attempt supersedes it (providers.SafeToRepeat).
	Superseded bool
}

// ReleaseClaimParams names a claimed command whose claim the caller gives
// up for a while, leaving the command in its state.
type ReleaseClaimParams struct {
	// TrackID is the command's trackId.
	TrackID string
	// Claim is the caller's claim on the command, given up.
	Claim string
	// RetryIn is how long no instance takes the command over or claims it.
	RetryIn time.Duration
}

// EarlierOpenParams names a command for an account whose earlier commands
// without an outcome are looked for.
type EarlierOpenParams struct {
	// Provider is the provider the account is at.
	Provider Provider
	// AccountID is the account the command acts on.
	AccountID string
	// TrackID is the command itself: only commands that come before it in
	// the account's order count (received before it; an unblock naming its
	// block comes right after that block).
	TrackID string
}

// Completion records a command's terminal outcome together with the result
// event for the outbox, in one transaction.
type Completion struct {
	TrackID string
	Claim   string
	State   State // DONE, FAILED or REJECTED
	// ProviderTrackID of the call whose answer this is; "" when no call was made.
	ProviderTrackID string
	CallState       string // DONE, FAILED or UNKNOWN for the call row
	ErrorCode       string
	HTTPStatus      int
	// CallAnswer is the normalised answer of a DONE call, kept on the call
	// row; CallEvidence says what the call's state rests on when it was not
	// the call's own answer (e.g. "wages DONE").
	CallAnswer   []byte
	CallEvidence string
	EventID      string
	// Result is the result event message; it is stored with the command (so
	// a redelivery can publish it again unchanged) and queued in the outbox.
	Result Outbound
	// CreateHold records a successful block in the holds ledger.
	CreateHold *BlockRef
	// ReleaseHold marks the named block's hold UNBLOCKED (a successful unblock).
	ReleaseHold string
	// UnreserveHold gives back the named block's hold after an unblock that
	// certainly did not apply.
	UnreserveHold string
	UnblockDate   string
	// TransferDone marks the hold released by the named unblock TRANSFERRED.
	TransferDone        string
	TransferAmount      int64
	TransferDestination string
	TransferDate        string
	// UnreserveTransfer gives back the hold released by the named unblock
	// after a transfer that certainly did not apply.
	UnreserveTransfer string
	// NeedsReconciliation flags an OUTCOME_UNKNOWN answer for an operator.
	// A command flagged earlier (see LateAnswer) stays flagged.
	NeedsReconciliation bool
	// ReconcileReason says why, for the reconciliation list; a reason
	// recorded earlier is kept.
	ReconcileReason string
}

// Provider call states, as the provider_calls rows record them.
const (
	// CallSending: the intent is recorded; the call may be on its way.
	CallSending = "SENDING"
	// CallDone: the call was applied.
	CallDone = "DONE"
	// CallFailed: the call was not applied (the provider refused it, or
	// stated it did not take effect).
	CallFailed = "FAILED"
	// CallUnknown: the call may have been applied; nothing proves either way.
	CallUnknown = "UNKNOWN"
	// CallNotSent: the worker that recorded the intent never sent the call,
	// because it could no longer prove it held the command.
	CallNotSent = "NOT_SENT"
)

// CallNotSentParams names a call whose intent was recorded and that was
// then never sent.
type CallNotSentParams struct {
	// TrackID is the command's trackId.
	TrackID string
	// Claim is the caller's claim on the command, which it gives up.
	Claim string
	// ProviderTrackID is the trackId of the call that was not sent.
	ProviderTrackID string
	// Reason says why it was not sent, for operators.
	Reason string
}

// LateAnswer is a provider's answer to a call that arrived after the worker
// that sent it lost the command: it is kept against the call, and compared
// with what the command's record says.
type LateAnswer struct {
	// TrackID is the command's trackId.
	TrackID string
	// ProviderTrackID is the trackId of the call answered.
	ProviderTrackID string
	// State is CallDone (applied) or CallFailed (the provider refused it, or
	// stated it did not take effect).
	State string
	// Answer is the normalised answer of an applied call.
	Answer []byte
	// ErrorCode and HTTPStatus describe a refusal.
	ErrorCode  string
	HTTPStatus int
	// Evidence says what the answer rests on ("the call's own answer",
	// "wages FAILED", …).
	Evidence string
}

// LateAnswerVerdict is what recording a LateAnswer found.
type LateAnswerVerdict struct {
	// Contradicts is true when the answer contradicts what is recorded for
	// the command or its call; the command is then flagged for an operator.
	Contradicts bool
	// Reason says what contradicts what.
	Reason string
}

// CallRecord is what the store knows about one provider call.
type CallRecord struct {
	ProviderTrackID string
	// State is one of the Call* states.
	State string
	// Answer is the normalised answer of a DONE call, when one was kept.
	Answer []byte
	// ErrorCode is the refusal's code of a FAILED call.
	ErrorCode string
	// Evidence says what State rests on, when it was not the call's own answer.
	Evidence string
	// Age is how long ago the call's intent was recorded, by the database's
	// clock (so that no two instances' clocks need agree).
	Age time.Duration
}

// InDoubtClaim is an IN_DOUBT command claimed for resolution.
type InDoubtClaim struct {
	Command      Command
	Claim        string
	ReceivedAt   time.Time
	Attempts     int
	InDoubtSince time.Time
	Traceparent  string
	// ProviderTrackID is the trackId of the call whose outcome is unknown.
	ProviderTrackID string
	// Call is what the store knows about that call.
	Call CallRecord
	// Before is the provider's state before the command's first call, if
	// one was read (CallStart.Before).
	Before []byte
}

// InDoubtCommand is a command whose provider call may have been applied and
// whose outcome is not recorded.
type InDoubtCommand struct {
	TrackID          string    `json:"trackId" db:"track_id"`
	Kind             string    `json:"type" db:"kind"`
	Provider         string    `json:"provider" db:"provider"`
	Attempts         int       `json:"attempts" db:"attempts"`
	Reason           string    `json:"reason" db:"in_doubt_reason"`
	LastProviderCall string    `json:"lastProviderTrackId" db:"last_call"`
	ReceivedAt       time.Time `json:"receivedAt" db:"received_at"`
	UpdatedAt        time.Time `json:"updatedAt" db:"updated_at"`
}

// StoredToken is a provider authorization token as the store keeps it. Its
// String method never shows the secrets.
type StoredToken struct {
	Value, RefreshToken, Bank string
	Scopes                    []string
	ExpiresAt, IssuedAt       time.Time
}

func (t StoredToken) String() string {
	return "StoredToken{bank " + t.Bank + ", expires " + t.ExpiresAt.Format(time.RFC3339) + "}"
}
