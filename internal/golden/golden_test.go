package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures; Fatal stops its
// goroutine as testing's does.
type recorder struct {
	testing.TB
	errs  []string
	fatal bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatal(args ...any) {
	r.errs, r.fatal = append(r.errs, fmt.Sprint(args...)), true
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

// assert runs Assert(got, path) against a recorder.
func assert[T ~string | ~[]byte](t *testing.T, got T, path string) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Assert(r, got, path)
	}()
	<-done
	return r
}

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// setUpdate runs the rest of the test as under go test -update=on,
// whatever the flag says.
func setUpdate(t *testing.T, on bool) {
	was := flag.Lookup("update").Value.String()
	if err := flag.Set("update", strconv.FormatBool(on)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("update", was) })
}

func TestAssertSameContentPasses(t *testing.T) {
	setUpdate(t, false)
	path := write(t, "a\nb\n")
	if r := assert(t, "a\nb\n", path); len(r.errs) != 0 {
		t.Errorf("Assert(same string) failed: %q", r.errs)
	}
	if r := assert(t, []byte("a\nb\n"), path); len(r.errs) != 0 {
		t.Errorf("Assert(same bytes) failed: %q", r.errs)
	}
}

func TestAssertDifferenceShowsTheDiff(t *testing.T) {
	setUpdate(t, false)
	const want = "one\ntwo\nthree\nfour\nfive\n"
	path := write(t, want)
	r := assert(t, strings.Replace(want, "two", "TWO", 1), path)
	if len(r.errs) != 1 || r.fatal {
		t.Fatalf("Assert(different) failures = %q (fatal %v); want one error", r.errs, r.fatal)
	}
	for _, want := range []string{"--- " + path, "+++ got", "\n-two\n+TWO\n", "-update"} {
		if !strings.Contains(r.errs[0], want) {
			t.Errorf("failure message does not contain %q:\n%s", want, r.errs[0])
		}
	}
	if b, _ := os.ReadFile(path); string(b) != want {
		t.Errorf("the golden file was changed without -update: %q", b)
	}
}

func TestAssertMissingFileSaysHowToCreateIt(t *testing.T) {
	setUpdate(t, false)
	r := assert(t, "x", filepath.Join(t.TempDir(), "missing.golden"))
	if !r.fatal || len(r.errs) != 1 || !strings.Contains(r.errs[0], "missing.golden") || !strings.Contains(r.errs[0], "go test -update writes it") {
		t.Errorf("Assert(missing file) failures = %q (fatal %v); want one fatal naming the file and -update", r.errs, r.fatal)
	}
}

func TestUpdateWritesTheGoldenFile(t *testing.T) {
	setUpdate(t, true)
	path := write(t, "old\n")
	if r := assert(t, []byte("new\n"), path); len(r.errs) != 0 {
		t.Errorf("Assert with -update failed: %q", r.errs)
	}
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Errorf("golden file after -update = %q; want %q", b, "new\n")
	}
	created := filepath.Join(t.TempDir(), "testdata", "sub", "y.golden")
	if r := assert(t, "made\n", created); len(r.errs) != 0 {
		t.Errorf("Assert with -update on a new file failed: %q", r.errs)
	}
	if b, err := os.ReadFile(created); err != nil || string(b) != "made\n" {
		t.Errorf("new golden file after -update = %q, %v; want %q", b, err, "made\n")
	}
}
