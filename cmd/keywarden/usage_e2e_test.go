package main

import (
	"strings"
	"testing"
)

// TestUsageErrorsExit2: the binary exits 2, saying why, for a bad flag,
// an unknown command and a wrong number of arguments.
func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--no-such-flag"}, "keywarden: unknown flag: --no-such-flag"},
		{[]string{"scna"}, `keywarden: unknown command "scna" for "keywarden"`},
		{[]string{"config", "validate"}, `keywarden: unknown command "validate" for "keywarden config"`},
		{[]string{"config", "check", "a.yaml", "b.yaml"}, "keywarden: accepts at most 1 arg(s), received 2"},
		{[]string{"undo"}, "keywarden: give the IDs of the actions to undo, or --run RUN_ID (see keywarden history)"},
		{[]string{"history", "extra"}, `keywarden: unknown command "extra" for "keywarden history"`},
	} {
		r := keywarden(t, nil, dir, tt.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("keywarden %v: exit %d, stdout %q, stderr %q; want 2, nothing on stdout, and %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
		}
	}
}
