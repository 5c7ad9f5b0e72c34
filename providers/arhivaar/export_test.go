package arhivaar

// What the external tests (package arhivaar_test, which may import
// arhivaarfake) need of this package's internals.

// MaxBody is the largest answer the Client reads.
const MaxBody = maxBody
