package providers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// FlexInt is an integer sent as a JSON number or as a numeric string
// ("amount": 1 or "amount": "1"; "days": "12"). Fractions are refused: money
// is whole rials and is never held in a float. Finnotech sends amount as a
// number and days as a string (finnotech/doc.go, "Platform"); the card
// platform's expires_in and businessUnit are read the same way.
type FlexInt int64

func (n *FlexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decoding integer: %w", err)
		}
		s = strings.TrimSpace(s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("decoding integer %s: %w", b, err)
	}
	*n = FlexInt(v)
	return nil
}
