// Package golden compares what a test produced with a golden file — the
// expected output, committed in testdata — and rewrites the golden files
// when the tests run with -update:
//
//	go test ./internal/report -update   # one package
//	make golden                         # every package with golden files
//
// Read the diff (git diff -- '*/testdata/*') before committing what it
// wrote: a golden file changes only where the output is meant to.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/diff"
)

// update is the -update flag of every test binary that imports golden.
var update = flag.Bool("update", false, "rewrite the golden files in testdata with what the tests produce")

// Assert compares got with the golden file at path (relative to the test's
// package directory, such as "testdata/sample.json.golden") and fails the
// test with a unified diff of the two when they differ. With -update it writes got to
// path instead, creating its directory.
func Assert[T ~string | ~[]byte](t testing.TB, got T, path string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the golden file: %v (go test -update writes it)", err)
	}
	if d := diff.Diff(path, want, "got", []byte(got)); d != nil {
		t.Errorf("%s differs from what the test produced (go test -update rewrites it):\n%s", path, d)
	}
}
