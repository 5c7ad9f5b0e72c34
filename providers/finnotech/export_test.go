package finnotech

// What the external tests (package finnotech_test, which may import
// finnotechfake) need of this package's internals.

// BlockResponseOf is blockResponse: the BlockResponse a block result reads as.
var BlockResponseOf = blockResponse
