package schemas

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Kind is what a command asks for. It is given by the topic the command
// arrives on, not by the message body.
type Kind string

// The command kinds, one per command topic.
const (
	KindBlock    Kind = "block"
	KindUnblock  Kind = "unblock"
	KindTransfer Kind = "transfer"
	KindInquiry  Kind = "inquiry"
)

// Provider names the bank or account provider a command is carried out at.
type Provider string

// The providers blockd knows.
const (
	ProviderFinnotech Provider = "finnotech"
	ProviderArhivaar  Provider = "arhivaar"
	ProviderCard      Provider = "card"
)

// Status is the terminal status of a result event.
type Status string

// Result statuses. REJECTED means blockd refused the command before any
// provider call (bad input or a broken rule); FAILED means the provider said
// no, or blockd could not get a provable answer from it.
const (
	StatusDone     Status = "DONE"
	StatusFailed   Status = "FAILED"
	StatusRejected Status = "REJECTED"
)

// State is where a command is in its life inside blockd. Each state is
// committed to PostgreSQL before the next step is taken, so after a crash the
// row tells exactly what may have happened.
type State string

// Command states.
const (
	// StateReceived: stored, no provider call has been sent.
	StateReceived State = "RECEIVED"
	// StateCalling: a provider call attempt was recorded and may have been sent.
	StateCalling State = "CALLING"
	// StateInDoubt: a call may have reached the provider but its outcome was
	// never recorded (crash, timeout). The command is never blindly re-sent;
	// it waits for resolution by inquiry or an operator.
	StateInDoubt  State = "IN_DOUBT"
	StateDone     State = "DONE"
	StateFailed   State = "FAILED"
	StateRejected State = "REJECTED"
)

// Terminal reports whether no further work will be done for a command in s.
func (s State) Terminal() bool {
	return s == StateDone || s == StateFailed || s == StateRejected
}

// Command is one block, unblock, transfer or inquiry command as published by
// an upstream service. The JSON Schema for its Kind decides which fields are
// required for each provider; fields that do not apply are left empty.
type Command struct {
	// Kind comes from the topic, never from the body.
	Kind Kind `json:"-"`

	// TrackID identifies the command end to end; results are keyed by it.
	TrackID  string   `json:"trackId"`
	Provider Provider `json:"provider"`

	// Finnotech: the Finnotech application (client) id the call is made for.
	ClientID string `json:"clientId,omitempty"`
	// Amount in rials (block, transfer; optional on unblock, where it must
	// equal the block's amount).
	Amount int64 `json:"amount,omitempty"`
	// Description of a Finnotech block or transfer.
	Description string `json:"description,omitempty"`
	// Days a Finnotech block lasts, 1–90.
	Days int `json:"days,omitempty"`
	// BlockTrackID is the trackId of the block command an unblock releases.
	BlockTrackID string `json:"blockTrackId,omitempty"`
	// UnblockTrackID is the trackId of the unblock command a transfer follows.
	UnblockTrackID string `json:"unblockTrackId,omitempty"`
	// Destination deposit number or IBAN of a Finnotech transfer.
	Destination string `json:"destination,omitempty"`
	// Inquiry names what an inquiry command asks: "transfer" or "facility".
	Inquiry string `json:"inquiry,omitempty"`
	// TransferTrackID is the trackId of the transfer command a transfer
	// inquiry asks about.
	TransferTrackID string `json:"transferTrackId,omitempty"`
	// NationalID of the person (10 digits) or legal entity (11 digits) a
	// facility inquiry asks about.
	NationalID string `json:"nationalId,omitempty"`

	// AccountID: the Arhivaar encoded account id, or the card platform's
	// 19-character account id.
	AccountID string `json:"accountId,omitempty"`
	// Note: why an Arhivaar account is blocked or activated, 1–1000 characters.
	Note string `json:"note,omitempty"`
	// BlockCodeSlot is the card platform's block code slot, 1 or 2.
	BlockCodeSlot int `json:"blockCodeSlot,omitempty"`
	// BlockCode is the card platform's block code letter, A–Z.
	BlockCode string `json:"blockCode,omitempty"`
	// BusinessUnit is the card platform's organisation, 1–998.
	BusinessUnit int `json:"businessUnit,omitempty"`
}

// CanonicalHash is a SHA-256 over the command's kind and its canonical JSON
// form (known fields only, in a fixed order). Two messages with the same
// trackId are the same command exactly when their hashes are equal.
//
// The hash is stored with each command, so its bytes are a contract: the
// kind, a newline, and the command as json.Marshal writes it. When every
// string of the command is plain ASCII those bytes are written here
// without reflection; otherwise json.Marshal writes them.
func (c Command) CanonicalHash() []byte {
	var buf [512]byte
	b := append(append(buf[:0], c.Kind...), '\n')
	if body, plain := c.appendPlainJSON(b); plain {
		b = body
	} else {
		marshalled, err := json.Marshal(c)
		if err != nil {
			// A Command holds only strings and numbers; Marshal cannot fail.
			panic(fmt.Sprintf("marshalling command: %v", err))
		}
		b = append(b, marshalled...)
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// appendPlainJSON appends c to b exactly as json.Marshal writes it (the
// fields in order, empty omitempty fields left out) and answers true, or
// answers false when a string of c is not plain ASCII (see isPlainJSON),
// whose escaping is left to encoding/json.
func (c Command) appendPlainJSON(b []byte) ([]byte, bool) {
	for _, s := range [...]string{c.TrackID, string(c.Provider), c.ClientID, c.Description, c.BlockTrackID, c.UnblockTrackID,
		c.Destination, c.Inquiry, c.TransferTrackID, c.NationalID, c.AccountID, c.Note, c.BlockCode} {
		if !isPlainJSON(s) {
			return b, false
		}
	}
	// trackId and provider are never omitted.
	b = append(b, `{"trackId":"`...)
	b = append(b, c.TrackID...)
	b = append(b, `","provider":"`...)
	b = append(b, c.Provider...)
	b = append(b, '"')
	b = appendStringMember(b, "clientId", c.ClientID)
	b = appendIntMember(b, "amount", c.Amount)
	b = appendStringMember(b, "description", c.Description)
	b = appendIntMember(b, "days", int64(c.Days))
	b = appendStringMember(b, "blockTrackId", c.BlockTrackID)
	b = appendStringMember(b, "unblockTrackId", c.UnblockTrackID)
	b = appendStringMember(b, "destination", c.Destination)
	b = appendStringMember(b, "inquiry", c.Inquiry)
	b = appendStringMember(b, "transferTrackId", c.TransferTrackID)
	b = appendStringMember(b, "nationalId", c.NationalID)
	b = appendStringMember(b, "accountId", c.AccountID)
	b = appendStringMember(b, "note", c.Note)
	b = appendIntMember(b, "blockCodeSlot", int64(c.BlockCodeSlot))
	b = appendStringMember(b, "blockCode", c.BlockCode)
	b = appendIntMember(b, "businessUnit", int64(c.BusinessUnit))
	return append(b, '}'), true
}

// appendStringMember appends `,"name":"s"`, or nothing when s is empty
// (omitempty); s must be plain (isPlainJSON).
func appendStringMember(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendIntMember appends `,"name":n`, or nothing when n is 0 (omitempty).
func appendIntMember(b []byte, name string, n int64) []byte {
	if n == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, n, 10)
}

// isPlainJSON reports whether encoding/json writes s between its quotes
// byte for byte: printable ASCII other than '"' and '\\', and other than
// '<', '>' and '&', which json.Marshal escapes for HTML; and well-formed
// UTF-8 other than U+2028 and U+2029, which it escapes for JavaScript
// (bytes that are not UTF-8 it replaces with U+FFFD).
func isPlainJSON(s string) bool {
	for i := 0; i < len(s); {
		b := s[i]
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
				return false
			}
			i += size
			continue
		}
		if b < 0x20 || b == 0x7f || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
			return false
		}
		i++
	}
	return true
}

// Result is the event blockd publishes on the results topic, keyed by
// TrackID, once a command reaches a terminal status.
type Result struct {
	EventID  string   `json:"eventId"`
	TrackID  string   `json:"trackId"`
	Type     Kind     `json:"type"`
	Provider Provider `json:"provider,omitempty"`
	Status   Status   `json:"status"`
	// Result is the provider's normalised answer; present on DONE only.
	Result json.RawMessage `json:"result,omitempty"`
	// Error says why; present on FAILED and REJECTED only.
	Error *ErrorInfo `json:"error,omitempty"`
	// Attempts is the number of provider calls sent for the command.
	Attempts    int       `json:"attempts"`
	ReceivedAt  time.Time `json:"receivedAt"`
	CompletedAt time.Time `json:"completedAt"`
}

// ErrorInfo is the typed error of a FAILED or REJECTED result.
type ErrorInfo struct {
	// Code is one of the Code* constants.
	Code    string `json:"code"`
	Message string `json:"message"`
	// Retryable tells the upstream whether sending the command again (with a
	// new trackId) can succeed.
	Retryable bool `json:"retryable"`
	// ProviderCode and HTTPStatus are the provider's own, where there is one.
	ProviderCode string `json:"providerCode,omitempty"`
	HTTPStatus   int    `json:"httpStatus,omitempty"`
	// NeedsReconciliation is set when the provider-side effect is not known
	// and an operator must check it.
	NeedsReconciliation bool `json:"needsReconciliation,omitempty"`
}

// Error codes carried in ErrorInfo.Code.
const (
	// CodeMalformed: the message is not a JSON object.
	CodeMalformed = "MALFORMED_MESSAGE"
	// CodeEmptyMessage: the message has no value (an empty value, or a
	// tombstone). It is dead-lettered; there is no trackId to answer.
	CodeEmptyMessage = "EMPTY_MESSAGE"
	// CodeUnstorableCharacter: a string of the command holds the NUL
	// character (U+0000), which PostgreSQL cannot store; the reason names
	// the field. Nothing of the command is stored.
	CodeUnstorableCharacter = "UNSUPPORTED_CHARACTER"
	// CodeUnstorable: PostgreSQL refused to store what the message carries
	// (a data error: SQLSTATE class 22 or 23); the reason gives the
	// SQLSTATE, never a value. The message is dead-lettered, not retried.
	CodeUnstorable = "UNSTORABLE_MESSAGE"
	// CodeTooLarge: the message is larger than the configured limit.
	CodeTooLarge = "MESSAGE_TOO_LARGE"
	// CodeSchemaInvalid: the command does not match its JSON Schema.
	CodeSchemaInvalid = "SCHEMA_INVALID"
	// CodeUnknownTopic: the message came from a topic with no command kind.
	CodeUnknownTopic = "UNKNOWN_TOPIC"
	// CodeTrackIDConflict: the trackId is already used by a different command.
	CodeTrackIDConflict = "TRACK_ID_CONFLICT"
	// CodeProviderUnsupported: the provider does not offer this kind.
	CodeProviderUnsupported = "PROVIDER_UNSUPPORTED"
	// CodeBlockNotFound: an unblock names a block blockd never received (within the wait).
	CodeBlockNotFound = "BLOCK_NOT_FOUND"
	// CodeBlockNotDone: an unblock names a block that did not succeed.
	CodeBlockNotDone = "BLOCK_NOT_DONE"
	// CodeBlockPending: the block an unblock names had no outcome within the wait.
	CodeBlockPending = "BLOCK_PENDING"
	// CodeProviderMismatch: an unblock names a block at another provider.
	CodeProviderMismatch = "PROVIDER_MISMATCH"
	// CodeSlotMismatch: a card unblock names a slot other than the one its
	// block's code went into (the platform puts a code into the unused slot
	// when the one asked for is in use); removing that slot would remove
	// another party's code.
	CodeSlotMismatch = "SLOT_MISMATCH"
	// CodeAccountMismatch: an Arhivaar or card unblock names a block of
	// another account.
	CodeAccountMismatch = "ACCOUNT_MISMATCH"
	// CodeAmountMismatch: an unblock's amount differs from its block's.
	CodeAmountMismatch = "AMOUNT_MISMATCH"
	// CodeAlreadyUnblocked: the block was already released by another unblock.
	CodeAlreadyUnblocked = "ALREADY_UNBLOCKED"
	// CodeUnblockNotFound: a transfer names an unblock blockd never received (within the wait).
	CodeUnblockNotFound = "UNBLOCK_NOT_FOUND"
	// CodeUnblockPending: the unblock a transfer names had no outcome within the wait.
	CodeUnblockPending = "UNBLOCK_PENDING"
	// CodeUnblockNotDone: a transfer names an unblock that did not succeed.
	CodeUnblockNotDone = "UNBLOCK_NOT_DONE"
	// CodeTransferExceedsUnblocked: a transfer asks for more than was unblocked.
	CodeTransferExceedsUnblocked = "TRANSFER_EXCEEDS_UNBLOCKED"
	// CodeAlreadyTransferred: the block/unblock pair already has its one transfer.
	CodeAlreadyTransferred = "ALREADY_TRANSFERRED"
	// CodeTransferNotFound: an inquiry names a transfer for which no call was made.
	CodeTransferNotFound = "TRANSFER_NOT_FOUND"
	// CodeAccountBusy: an earlier command for the same account (Arhivaar,
	// card) had no outcome within the wait.
	CodeAccountBusy = "ACCOUNT_BUSY"
	// CodeProviderRejected: the provider refused the call (permanent).
	CodeProviderRejected = "PROVIDER_REJECTED"
	// CodeProviderUnavailable: the provider could not be reached or answered
	// with a retryable error.
	CodeProviderUnavailable = "PROVIDER_UNAVAILABLE"
	// CodeOutcomeUnknown: a call may have been applied and its outcome could
	// not be proven.
	CodeOutcomeUnknown = "OUTCOME_UNKNOWN"
	// CodeTransferNotApplied: an unblock-transfer's answer was lost and the
	// provider's inquiry then said it was not applied. blockd never sends a
	// transfer again on its own (the provider's pages say to check the
	// account statement first): the upstream decides, with a new trackId.
	CodeTransferNotApplied = "TRANSFER_NOT_APPLIED"
	// CodeAnswerMismatch: the provider applied the call, but its answer
	// does not match the command (e.g. another amount blocked). Known, not
	// in doubt; not retryable; flagged for an operator.
	CodeAnswerMismatch = "PROVIDER_ANSWER_MISMATCH"
	// CodeResultTooLarge: the provider answered, but its answer makes a
	// result event larger than blockd may publish (BLOCKD_MAX_MESSAGE_BYTES).
	// For an inquiry nothing changed: ask again when the limit allows it.
	// For any other command the call was applied: flagged
	// needsReconciliation for an operator, never re-sent.
	CodeResultTooLarge = "RESULT_TOO_LARGE"
	// CodeOperatorNotApplied: the command's call was in doubt and an
	// operator, having checked the provider's statement, found it was not
	// applied (blockd resolve --not-applied); what it reserved in the
	// ledger was given back. Send a new command with a new trackId to try
	// again.
	CodeOperatorNotApplied = "OPERATOR_NOT_APPLIED"
)

// FinnotechBlockResult is the normalised result of a Finnotech block.
type FinnotechBlockResult struct {
	Amount      int64  `json:"amount"`
	Description string `json:"description"`
	Deposit     string `json:"deposit"`
	// BlockDate is the provider's Jalali date, YYMMDD, kept as sent.
	BlockDate string `json:"blockDate"`
	Days      int    `json:"days"`
	// ProviderTrackID is the trackId the successful call was sent with.
	ProviderTrackID string `json:"providerTrackId"`
	// Inquiry is set when the call's own answer was lost and the result
	// was established by asking Finnotech about the call.
	Inquiry *FinnotechInquiry `json:"inquiry,omitempty"`
}

// FinnotechUnblockResult is the normalised result of a Finnotech unblock.
type FinnotechUnblockResult struct {
	Amount      int64  `json:"amount"`
	Deposit     string `json:"deposit"`
	UnblockDate string `json:"unblockDate"`
	// BlockTrackID is the command trackId of the released block.
	BlockTrackID    string `json:"blockTrackId"`
	ProviderTrackID string `json:"providerTrackId"`
	// Inquiry: as in FinnotechBlockResult.
	Inquiry *FinnotechInquiry `json:"inquiry,omitempty"`
}

// FinnotechTransferResult is the normalised result of a Finnotech
// unblock-transfer.
type FinnotechTransferResult struct {
	Amount       int64  `json:"amount"`
	Source       string `json:"source"`
	Destination  string `json:"destination"`
	TransferDate string `json:"transferDate"`
	// UnblockTrackID is the command trackId of the unblock the transfer follows.
	UnblockTrackID  string `json:"unblockTrackId"`
	ProviderTrackID string `json:"providerTrackId"`
	// Inquiry: as in FinnotechBlockResult.
	Inquiry *FinnotechInquiry `json:"inquiry,omitempty"`
}

// FinnotechInquiry says that a Finnotech block, unblock or transfer result
// was established by asking Finnotech about a call whose own answer was
// lost, rather than read from that answer, and which of its fields the
// inquiry supplied. Every other field of the result is what blockd sent:
// the command's, or the stored block's or hold's.
type FinnotechInquiry struct {
	// Service is the inquiry that was asked: FinnotechInquiryWages (the
	// call status) or FinnotechInquiryTransfer (the unblock-transfer
	// inquiry).
	Service string `json:"service"`
	// Status is the status the inquiry gave for the call: DONE.
	Status string `json:"status"`
	// Fields are the JSON names of the result fields whose values came from
	// the inquiry, e.g. ["deposit","blockDate"].
	Fields []string `json:"fields"`
}

// Services a FinnotechInquiry names.
const (
	FinnotechInquiryWages    = "wages"
	FinnotechInquiryTransfer = "unblockTransferInquiry"
)

// FinnotechTransferInquiryResult is the normalised result of a Finnotech
// unblock-transfer inquiry.
type FinnotechTransferInquiryResult struct {
	// TransferTrackID is the command trackId of the transfer asked about.
	TransferTrackID string `json:"transferTrackId"`
	// Status is the provider's answer: DONE, FAILED or PENDING.
	Status       string `json:"status"`
	Amount       int64  `json:"amount,omitempty"`
	Destination  string `json:"destination,omitempty"`
	TransferDate string `json:"transferDate,omitempty"`
	// ProviderTrackID is the trackId of the transfer call asked about.
	ProviderTrackID string `json:"providerTrackId"`
}

// FinnotechFacilityResult is the normalised result of a Finnotech credit
// facility inquiry. Amounts are integer rials whatever the provider sent.
type FinnotechFacilityResult struct {
	NationalID string `json:"nationalId"`
	Name       string `json:"name,omitempty"`
	// NoFacility is true for the provider's "no facility" answer
	// (result.result == 120); Facilities is then empty.
	NoFacility bool `json:"noFacility"`
	// Message is the provider's text with its "no facility" answer ("هیچ
	// تسهیلات و تعهدی یافت نشد", no facility or obligation found), as sent.
	Message             string     `json:"message,omitempty"`
	TotalAmount         int64      `json:"totalAmount"`
	DebtTotalAmount     int64      `json:"debtTotalAmount"`
	PastExpiredTotal    int64      `json:"pastExpiredTotalAmount"`
	DeferredTotalAmount int64      `json:"deferredTotalAmount"`
	SuspiciousTotal     int64      `json:"suspiciousTotalAmount"`
	Dishonored          string     `json:"dishonored,omitempty"`
	Facilities          []Facility `json:"facilities"`
}

// Facility is one loan of a facility inquiry. Finnotech describes each loan
// twice, in two families of fields that do not always agree (in its own
// example: other branch codes, and debts of 101017180 and 1151155953
// rials), and does not say which is right; both are kept, each under its
// own name, nil when the provider sent none of its fields.
type Facility struct {
	// Summary is the loan as the plain fields give it (bankCode ...
	// benefitAmount). In the provider's example the result's
	// debtTotalAmount is the sum of these debtorTotalAmount.
	Summary *FacilitySummary `json:"summary,omitempty"`
	// Contract is the loan as the "Facility"-prefixed fields give it
	// (FacilityBankCode ... FacilityMoratoriumDate): the fuller record,
	// with the request number, status, currency and dates.
	Contract *FacilityContract `json:"contract,omitempty"`
}

// FacilitySummary is a loan's plain fields (bankCode, branchCode,
// branchDescription, type, amountOrginal, benefitAmount, debtorTotalAmount,
// pastExpiredAmount, deferredAmount, suspiciousAmount).
type FacilitySummary struct {
	BankCode          string `json:"bankCode,omitempty"`
	BranchCode        string `json:"branchCode,omitempty"`
	BranchDescription string `json:"branchDescription,omitempty"`
	Type              string `json:"type,omitempty"`
	AmountOriginal    int64  `json:"amountOriginal"`
	BenefitAmount     int64  `json:"benefitAmount"`
	DebtorTotalAmount int64  `json:"debtorTotalAmount"`
	PastExpiredAmount int64  `json:"pastExpiredAmount"`
	DeferredAmount    int64  `json:"deferredAmount"`
	SuspiciousAmount  int64  `json:"suspiciousAmount"`
}

// FacilityContract is a loan's "Facility"-prefixed fields.
type FacilityContract struct {
	BankCode          string `json:"bankCode,omitempty"`
	BranchCode        string `json:"branchCode,omitempty"`
	Branch            string `json:"branch,omitempty"`
	RequestNo         string `json:"requestNo,omitempty"`
	RequestType       string `json:"requestType,omitempty"`
	Currency          string `json:"currency,omitempty"`
	Type              string `json:"type,omitempty"`
	Status            string `json:"status,omitempty"`
	Group             string `json:"group,omitempty"`
	AmountOriginal    int64  `json:"amountOriginal"`
	BenefitAmount     int64  `json:"benefitAmount"`
	DebtorTotalAmount int64  `json:"debtorTotalAmount"`
	PastExpiredAmount int64  `json:"pastExpiredAmount"`
	DeferredAmount    int64  `json:"deferredAmount"`
	SuspiciousAmount  int64  `json:"suspiciousAmount"`
	ObligationAmount  int64  `json:"obligationAmount"`
	// SetDate and EndDate are the provider's Jalali YYYYMMDD, kept as sent;
	// SetDateGregorian and EndDateGregorian are the same days as YYYY-MM-DD.
	SetDate          string `json:"setDate,omitempty"`
	EndDate          string `json:"endDate,omitempty"`
	SetDateGregorian string `json:"setDateGregorian,omitempty"`
	EndDateGregorian string `json:"endDateGregorian,omitempty"`
	// MoratoriumDate is kept as sent ("0" when there is none).
	MoratoriumDate string `json:"moratoriumDate,omitempty"`
}

// BlockRef is what blockd stored about a successful block; an unblock (and
// later a transfer) is built from it rather than from upstream input.
type BlockRef struct {
	TrackID     string
	Provider    Provider
	ClientID    string
	Amount      int64
	Description string
	Days        int
	Deposit     string
	BlockDate   string
	// ProviderTrackID is the trackId the successful block call was sent with.
	ProviderTrackID string
}

// Outbound is one message waiting in the outbox for the relay to publish.
type Outbound struct {
	ID      int64
	Topic   string
	Key     []byte
	Value   []byte
	Headers map[string]string
}

// Kafka's framing, at most, as Outbound.Size counts it: a record batch's
// header (61 bytes) with one record's lengths, attributes and deltas; and
// a header's two lengths.
const (
	RecordOverhead = 128
	HeaderOverhead = 10
)

// Size is the most bytes the message can take in a Kafka record batch of
// its own: key, value, header keys and values, and the framing. Every
// message blockd writes has a Size within its configured limit, which is
// at most the broker's (max.message.bytes).
func (o Outbound) Size() int {
	n := RecordOverhead + len(o.Key) + len(o.Value)
	for k, v := range o.Headers {
		n += HeaderOverhead + len(k) + len(v)
	}
	return n
}
