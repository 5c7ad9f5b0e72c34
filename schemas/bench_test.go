package schemas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// commandExample is one command of schemas/examples, named after its file.
type commandExample struct {
	name string
	kind Kind
	raw  []byte
}

// commandExamples reads every command example (the result examples are
// left out: ValidateResult runs only in tests, never on the hot path).
func commandExamples(b *testing.B) []commandExample {
	b.Helper()
	files, err := filepath.Glob("examples/*.json")
	if err != nil {
		b.Fatal(err)
	}
	var out []commandExample
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		kind := Kind(strings.Split(name, ".")[0])
		if kind == "result" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, commandExample{name: name, kind: kind, raw: raw})
	}
	if len(out) == 0 {
		b.Fatal("no command examples")
	}
	return out
}

// BenchmarkDecodeCommand measures validating and decoding one consumed
// command, for each example kind and provider.
func BenchmarkDecodeCommand(b *testing.B) {
	v := newValidator(b)
	for _, ex := range commandExamples(b) {
		b.Run(ex.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(ex.raw)))
			for b.Loop() {
				if _, err := v.DecodeCommand(ex.kind, ex.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCanonicalHash measures the dedup hash stored with each command.
func BenchmarkCanonicalHash(b *testing.B) {
	v := newValidator(b)
	for _, ex := range commandExamples(b) {
		cmd, err := v.DecodeCommand(ex.kind, ex.raw)
		if err != nil {
			b.Fatalf("%s: %v", ex.name, err)
		}
		b.Run(ex.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(cmd.CanonicalHash()) != 32 {
					b.Fatal("hash is not 32 bytes")
				}
			}
		})
	}
}
