// Package examples holds the message contract's examples (one command per
// kind and provider, and the result kinds), embedded, so that a tool builds
// its messages from the very bodies the README shows and the schema tests
// validate.
package examples

import (
	"embed"
	"fmt"
)

//go:embed *.json
var files embed.FS

// Read returns the example file name, e.g. "block.finnotech.json"
// (<kind>.<provider>.json).
func Read(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading example %s: %w", name, err)
	}
	return b, nil
}
