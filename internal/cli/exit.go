package cli

import (
	"errors"
	"fmt"
)

// Exit codes. They are listed in the root command's help; change both together.
const (
	ExitOK             = 0 // success
	ExitError          = 1 // an error (AWS, I/O, a malformed report)
	ExitUsage          = 2 // bad flags, or an invalid config file
	ExitFindings       = 3 // findings at or above --fail-on
	ExitAccountsFailed = 4 // some accounts failed; the others completed
	ExitGuard          = 5 // a guard stopped every change in an account
)

const exitCodesHelp = `Exit codes:
  0  success
  1  error (AWS, I/O, malformed credential report)
  2  usage error or invalid config file
  3  findings at or above --fail-on
  4  some accounts failed (the others completed)
  5  a guard (max_actions_per_run, max_fraction) stopped every change in an account
When several apply, the first of 4, 1, 5, 3 wins.`

// ExitError carries an exit code out of a command. A nil Err means the
// command already said everything it had to (for example exit 3).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage error (exit 2).
func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitError
}
