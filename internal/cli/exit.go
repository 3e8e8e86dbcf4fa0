package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/spf13/cobra"
)

// Exit codes. They are listed in the root command's help; change both together.
const (
	ExitOK             = 0 // success
	ExitError          = 1 // an error (AWS, I/O, a malformed report)
	ExitUsage          = 2 // bad flags or arguments, an invalid config file, or --as-of too far off for a run that acts
	ExitFindings       = 3 // findings at or above --fail-on
	ExitAccountsFailed = 4 // some accounts failed; the others completed
	ExitGuard          = 5 // a guard (the clock check among them) stopped every change in an account, or the emergency stop held
	ExitInterrupted    = 6 // a signal (SIGINT, SIGTERM) stopped the command; what was under way was finished and recorded
)

const exitCodesHelp = `Exit codes:
  0  success
  1  error (AWS, I/O, malformed credential report)
  2  usage error or invalid config file (also: a run that acts given an --as-of
     more than 24 hours from the wall clock, without --force-as-of)
  3  findings at or above --fail-on
  4  some accounts failed (the others completed)
  5  a guard (max_actions_per_run, max_fraction, the clock check) stopped every
     change in an account, or the emergency stop (enforce.stop_parameter) held
  6  interrupted by SIGINT or SIGTERM: no new work was started, what was under
     way was finished and recorded, the rest is left for the next run (a second
     signal stops at once, with 128 + the signal's number: 130, 143)
When several apply, the first of 6, 4, 1, 5, 3 wins.`

// precedence orders the codes for exitFor: a usage error stops a command
// before it does anything else; of the rest an interrupted command comes
// first (what else failed may be the interruption's doing), then an
// incomplete report, as the help says.
var precedence = []int{ExitUsage, ExitInterrupted, ExitAccountsFailed, ExitError, ExitGuard, ExitFindings}

// exitError carries an exit code out of a command, with the error that
// says why.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage error (exit 2).
func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

// exitFor is the process exit code for what a command returned: 0 for
// nil; else every error in err's tree counts (errors.Join and %w are
// followed) — an exitError its code, any other error ExitError — and the
// first of them in precedence wins. A command that has several things to
// say (accounts failed, and findings) returns them joined.
func exitFor(err error) int {
	if err == nil {
		return ExitOK
	}
	best := len(precedence)
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *exitError:
			best = min(best, slices.Index(precedence, e.code))
			return
		case *run.Interrupted:
			best = min(best, slices.Index(precedence, ExitInterrupted))
			return
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
			return
		case interface{ Unwrap() error }:
			if inner := e.Unwrap(); inner != nil {
				walk(inner)
				return
			}
		}
		best = min(best, slices.Index(precedence, ExitError))
	}
	walk(err)
	if best == len(precedence) { // an empty join: an error that says nothing more
		return ExitError
	}
	return precedence[best]
}

// accountsFailed is a command's first outcome: exit 4 when some of rep's
// accounts could not be scanned, saying so and what became of them (then).
func accountsFailed(rep *report.Report, then string) []error {
	n := rep.FailedAccounts()
	if n == 0 {
		return nil
	}
	return []error{&exitError{code: ExitAccountsFailed, err: fmt.Errorf("%d of %d accounts could not be scanned; %s", n, len(rep.Accounts), then)}}
}

// interrupted is what Main returns when a signal stopped the command
// (ctx's cause): err, with a first line naming the signal (exit 6) unless
// err already has one.
func interrupted(ctx context.Context, err error) error {
	intr := run.InterruptedBy(ctx)
	if intr == nil || err == nil || exitFor(err) == ExitInterrupted {
		return err
	}
	return errors.Join(&exitError{code: ExitInterrupted, err: fmt.Errorf("%w: stopped before it finished", intr)}, err)
}

// usageArgs makes a command's argument check return usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(err)
		}
		return nil
	}
}

// subcommand is the argument check of a command that only groups others
// (keywarden, keywarden config): an argument that names none of them is
// refused (a usage error, as every argument check's: NewCmdRoot).
func subcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errors.New(msg)
}

// errorLines are the lines Main prints for err: one per joined error.
func errorLines(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
