package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/keywarden/keywarden/internal/run"
)

// emptyJoin is an error that joins no others.
type emptyJoin struct{}

func (emptyJoin) Error() string   { return "nothing joined" }
func (emptyJoin) Unwrap() []error { return nil }

func TestExitFor(t *testing.T) {
	plain := errors.New("GetCredentialReport: AccessDenied")
	accounts := &exitError{code: ExitAccountsFailed, err: errors.New("1 of 3 accounts could not be scanned")}
	guard := &exitError{code: ExitGuard, err: errors.New("a guard stopped every change")}
	findings := &exitError{code: ExitFindings, err: errors.New("findings at or above high severity")}
	usage := usageError(errors.New(`--format "xml"`))
	intr := &exitError{code: ExitInterrupted, err: errors.New("interrupted by SIGINT: 3 actions not started")}
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"an error", plain, ExitError},
		{"usage", usage, ExitUsage},
		{"usage, wrapped", fmt.Errorf("config: %w", usage), ExitUsage},
		{"accounts failed", accounts, ExitAccountsFailed},
		{"guard", guard, ExitGuard},
		{"findings", findings, ExitFindings},
		{"an error wrapped", fmt.Errorf("undo:\n%w", errors.Join(plain, plain)), ExitError},
		// The documented precedence: 4, 1, 5, 3.
		{"findings and guard", errors.Join(findings, guard), ExitGuard},
		{"guard and an error", errors.Join(guard, plain), ExitError},
		{"an error and accounts failed", errors.Join(plain, accounts), ExitAccountsFailed},
		{"all four", errors.Join(findings, guard, fmt.Errorf("2 notifications failed:\n%w", plain), accounts), ExitAccountsFailed},
		{"three, any order", errors.Join(guard, findings, plain), ExitError},
		{"a join of nothing", emptyJoin{}, ExitError},
		// An interrupted command: 6 before 4, 1, 5, 3, after a usage error.
		{"interrupted", intr, ExitInterrupted},
		{"the signal, wrapped", fmt.Errorf("scan: %w", &run.Interrupted{Signal: syscall.SIGTERM}), ExitInterrupted},
		{"all four and interrupted", errors.Join(findings, guard, plain, accounts, intr), ExitInterrupted},
		{"usage and interrupted", errors.Join(intr, usage), ExitUsage},
		{"an error joined inside a typed one", &exitError{code: ExitGuard, err: errors.Join(plain)}, ExitGuard},
	} {
		if got := exitFor(tt.err); got != tt.want {
			t.Errorf("exitFor(%s) = %d; want %d", tt.name, got, tt.want)
		}
	}
}

// TestUsageErrorsAreTyped: a bad flag, an unknown command (of keywarden,
// of a group, of help) and a wrong argument count are each exit 2 with
// the reason, whatever cobra's wording.
func TestUsageErrorsAreTyped(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--nope"}, "unknown flag: --nope"},
		{[]string{"scan", "--fail-on"}, "flag needs an argument: --fail-on"},
		{[]string{"--log-level", "loud", "version"}, `--log-level "loud"`},
		{[]string{"scna"}, "unknown command \"scna\" for \"keywarden\"\n\nDid you mean this?\n\tscan"},
		{[]string{"config", "chek"}, "unknown command \"chek\" for \"keywarden config\"\n\nDid you mean this?\n\tcheck"},
		{[]string{"help", "nope"}, `unknown help topic "nope"`},
		{[]string{"scan", "extra"}, `unknown command "extra" for "keywarden scan"`},
		{[]string{"config", "check", "a.yaml", "b.yaml"}, "accepts at most 1 arg(s), received 2"},
		{[]string{"undo"}, "give the IDs of the actions to undo, or --run RUN_ID (see keywarden history)"},
		{[]string{"undo", "--run", "20261201-1a2b3c4d", "20261201-1a2b3c4d.3"}, "give action IDs or --run RUN_ID, not both"},
		{[]string{"completion", "bash", "x"}, `unknown command "x" for "keywarden completion bash"`},
	} {
		f, _, errOut := testFactory(false)
		if code := Main(context.Background(), f, tt.args); code != ExitUsage || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("Main(%q) = %d, %q; want %d and %q", tt.args, code, errOut, ExitUsage, tt.want)
		}
	}
}

// TestGroupsPrintTheirHelp: keywarden and keywarden config without a
// subcommand print their help (exit 0), whose usage names the
// subcommands, not a command line of the group's own.
func TestGroupsPrintTheirHelp(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		usage string
	}{
		{nil, "Usage:\n  keywarden [command]\n"},
		{[]string{"config"}, "Usage:\n  keywarden config [command]\n"},
		{[]string{"help", "config"}, "Usage:\n  keywarden config [command]\n"},
		{[]string{"config", "check", "--help"}, "Usage:\n  keywarden config check [FILE] [flags]\n"},
	} {
		f, out, errOut := testFactory(false)
		if code := Main(context.Background(), f, tt.args); code != ExitOK || !strings.Contains(out.String(), tt.usage) {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0 and %q", tt.args, code, out, errOut, tt.usage)
		}
	}
}

// TestErrorLines: Main prints each outcome a command returned joined
// (errors.Join) on a line of its own.
func TestErrorLines(t *testing.T) {
	got := errorLines(errors.Join(errors.New("a"), &exitError{code: ExitFindings, err: errors.New("b")}))
	if len(got) != 2 || got[0].Error() != "a" || got[1].Error() != "b" {
		t.Errorf("errorLines = %v; want a, b", got)
	}
	if got := errorLines(errors.New("one")); len(got) != 1 || got[0].Error() != "one" {
		t.Errorf("errorLines(one) = %v", got)
	}
}

// TestMainNamesTheSignal: a command whose context a signal ended, and
// which failed for it, exits 6 with a first line naming the signal; one
// that finished all the same exits as it would have.
func TestMainNamesTheSignal(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&run.Interrupted{Signal: syscall.SIGTERM})
	f, _, errOut := testFactory(false)
	code := Main(ctx, f, []string{"scan", "--credential-report", "/nonexistent/report.csv"})
	if lines := strings.Split(errOut.String(), "\n"); code != ExitInterrupted || !strings.HasPrefix(lines[0], "keywarden: interrupted by SIGTERM") {
		t.Errorf("Main after SIGTERM, failed = %d\n%s\nwant %d, the first line naming SIGTERM", code, errOut, ExitInterrupted)
	}
	f, _, _ = testFactory(false)
	if code := Main(ctx, f, []string{"version"}); code != ExitOK {
		t.Errorf("Main after SIGTERM, version = %d; want 0 (it finished)", code)
	}
}
