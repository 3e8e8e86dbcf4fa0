package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestProgressOnlyOnATerminal: no bar in a pipe or with --quiet; on a
// terminal, the bar on stderr counts accounts and users done, and failures.
func TestProgressOnlyOnATerminal(t *testing.T) {
	f, _, _ := testFactory(false)
	if p := newProgress(f, false); p != nil {
		t.Errorf("newProgress(stderr not a terminal) = %T; want none", p)
	}
	f, _, _ = testFactory(true)
	if p := newProgress(f, true); p != nil {
		t.Errorf("newProgress(--quiet) = %T; want none", p)
	}

	f, out, errOut := testFactory(true)
	p := newProgress(f, false)
	if p == nil {
		t.Fatal("newProgress(terminal) = nil; want a progress bar")
	}
	p.Start(3)
	p.AccountDone("111111111111", 1200, nil)
	p.AccountDone("222222222222", 0, errors.New("denied"))
	p.AccountDone("333333333333", 34, nil)
	p.Finish()
	for _, s := range []string{"3/3", "1234 users", "1 failed"} {
		if !strings.Contains(errOut.String(), s) {
			t.Errorf("stderr = %q; want the bar to show %q", errOut.String(), s)
		}
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q; want nothing (progress goes to stderr)", out.String())
	}
}

func TestScanQuietFlag(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *ScanOptions
	cmd := NewCmdScan(f, func(_ context.Context, o *ScanOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--quiet"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.Quiet {
		t.Error("scan --quiet: Quiet = false; want true")
	}
	var run *RunOptions
	rc := NewCmdRun(f, func(_ context.Context, o *RunOptions) error { run = o; return nil })
	rc.SetArgs([]string{"-q"})
	if err := rc.Execute(); err != nil {
		t.Fatal(err)
	}
	if !run.Quiet {
		t.Error("run -q: Quiet = false; want true")
	}
}
