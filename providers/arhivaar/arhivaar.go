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
	// StateFrom says what the Result rests on: always StateFromAnswer, the
	// OK of a call of this command (a call whose answer was lost is
	// superseded by a new, recorded attempt: see Adapter.Resolve).
	StateFrom string `json:"stateFrom"`
}

// StateFromAnswer is Result.StateFrom: a call's own answer was OK.
const StateFromAnswer = "answer"
