package examples

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestReadGivesEveryExampleAsOnDisk: the embedded examples are the files.
func TestReadGivesEveryExampleAsOnDisk(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) < 9 {
		t.Fatalf("found %d examples (%v), want the nine commands at least", len(files), err)
	}
	for _, name := range files {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Read(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Read(%s) = %d bytes, %v; want the file's %d bytes", name, len(got), err, len(want))
		}
	}
	if _, err := Read("block.nobody.json"); err == nil {
		t.Error("Read of a missing example gave no error")
	}
}
