package card

import "time"

// What the external tests (package card_test, which may import cardfake)
// need of this package's internals.

// InvalidateToken is invalidate: it drops the cached token if it is still
// tok.
func (ts *TokenSource) InvalidateToken(tok string) { ts.invalidate(tok) }

// SetTokenClock sets the clock of c's TokenSource.
func SetTokenClock(c *Client, now func() time.Time) { c.tokens.now = now }
