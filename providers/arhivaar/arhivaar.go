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
// state the account was set to.
type Result struct {
	AccountID string `json:"accountId"`
	Blocked   bool   `json:"blocked"`
	Note      string `json:"note"`
}
