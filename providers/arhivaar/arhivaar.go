// Package arhivaar is blockd's Arhivaar partner API client and adapter for
// account block / activate.
//
// Arhivaar has one call that blockd uses: POST
// {base}/partner-api/account/block.html with the form fields id, block
// ("true" blocks the account, "false" activates it) and note, signed with
// the partner's acc_key and sig (package doc, Arhivaar). It answers
// {"response":"OK"}, or {"response":"ERROR","responseDescription":<code>}
// with one of the codes below, often with HTTP 200; the page types the
// description "Error", so the Client reads a string or an object. Every
// failure is a *providers.Error whose Class says whether the call may have
// been applied (see classify.go): an answer the page does not list is of
// unknown outcome, never a refusal.
//
// The call sets a state: blocking a blocked account or activating an active
// one is accepted and changes nothing. A timeout or a lost answer is
// Unknown: the account may now be in the state that was asked for, and
// Arhivaar has no call that tells it. The Adapter's Resolve then sends the
// same state again, but only once the original call can no longer land
// (providers.Request.CannotLandAfter; package doc, Unknown outcomes): a
// re-send is idempotent, but an original that lands after the account's
// next command would undo that command.
//
// The Adapter maps a providers.Request onto the Client. Package
// arhivaarfake, beside this one, simulates Arhivaar for tests and
// development; the path, fields, signature, replies and codes the two share
// are written once, in internal/wire.
//
// The seed documents the path, the fields and their order, the replies and
// the codes INVALID_ID, INVALID_BLOCK and INVALID_NOTE. The signature
// algorithm, INVALID_SIGNATURE and the validation rules beyond the seed's
// are blockd's assumptions, shared by the client and the sandbox and marked
// "ASSUMPTION (DECISIONS.md)" where they are used.
package arhivaar

import (
	"github.com/blockd/blockd/providers/arhivaar/internal/wire"
	"github.com/blockd/blockd/schemas"
)

// provider names Arhivaar in every *providers.Error of this package.
const provider = schemas.ProviderArhivaar

// Codes Arhivaar puts in responseDescription (see internal/wire); they are
// passed on as providers.Error.Code. Each is Permanent: sending the same
// call again cannot help.
const (
	// CodeInvalidID: id is missing or not a valid encoded account id.
	CodeInvalidID = wire.CodeInvalidID
	// CodeInvalidBlock: block is missing or neither true nor false.
	CodeInvalidBlock = wire.CodeInvalidBlock
	// CodeInvalidNote: note is missing, empty or longer than 1000
	// characters.
	CodeInvalidNote = wire.CodeInvalidNote
	// CodeInvalidSignature: acc_key is unknown or sig does not match (an
	// assumption, see internal/wire).
	CodeInvalidSignature = wire.CodeInvalidSignature
)

// Codes this package puts in providers.Error.Code where Arhivaar sends none.
const (
	// CodeUnsupported: the adapter does not carry out this command kind.
	CodeUnsupported = "UNSUPPORTED"
	// CodeBadRequest: the request could not be built; nothing was sent.
	CodeBadRequest = "BAD_REQUEST"
	// CodeUnreadableResponse: an answer with a 2xx status that is not
	// Arhivaar's JSON reply.
	CodeUnreadableResponse = "UNREADABLE_RESPONSE"
)

// Result is the normalised result of a successful block or activate: the
// state the account was set to. As JSON:
//
//	{"accountId":"6475736574794c4e2f594d3d","blocked":true,"note":"Maksmata arve.","stateFrom":"answer"}
type Result struct {
	AccountID string `json:"accountId"`
	Blocked   bool   `json:"blocked"`
	Note      string `json:"note"`
	// StateFrom says which call's OK the Result rests on: StateFromAnswer
	// or StateFromResend.
	StateFrom string `json:"stateFrom"`
}

// The values of Result.StateFrom.
const (
	// StateFromAnswer: the call's own answer was OK.
	StateFromAnswer = "answer"
	// StateFromResend: the call's answer was lost, and Resolve's re-send of
	// the same state, after the call could no longer land, was OK.
	StateFromResend = "resend"
)
