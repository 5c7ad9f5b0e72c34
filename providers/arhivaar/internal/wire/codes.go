package wire

// Codes Arhivaar puts in responseDescription. Each is Permanent: sending
// the same call again cannot help.
const (
	// CodeInvalidID: id is missing or not a valid encoded account id.
	CodeInvalidID = "INVALID_ID"
	// CodeInvalidBlock: block is missing or neither true nor false.
	CodeInvalidBlock = "INVALID_BLOCK"
	// CodeInvalidNote: note is missing, empty or longer than 1000
	// characters.
	CodeInvalidNote = "INVALID_NOTE"
	// CodeInvalidSignature: acc_key is unknown or sig does not match.
	//
	// ASSUMPTION (arhivaar/doc.go, "Error codes"): the seed documents no
	// code for a bad signature; blockd and its sandbox use this one.
	CodeInvalidSignature = "INVALID_SIGNATURE"
)
