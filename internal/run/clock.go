package run

import (
	"errors"
	"fmt"
	"time"

	"github.com/keywarden/keywarden/internal/inventory"
)

// The clock of a run that acts (docs/enforcement.md#the-clock): it acts on
// the wall clock. --as-of moves what is evaluated, by a day at most, unless
// it is forced (RunOptions.ForceAsOf, recorded); and an account whose own
// data contradicts the clock is left unchanged.

// MaxAsOfSkew is how far from the wall clock --as-of may be in a run that
// acts, unless it is forced; and how much later than the run's clock an
// account's own data may be.
const MaxAsOfSkew = 24 * time.Hour

// IAMReportMaxAge is the age of the oldest credential report IAM serves:
// GenerateCredentialReport builds a new one when the last is older.
const IAMReportMaxAge = 4 * time.Hour

// ErrAsOfSkew is the cause of a run that would act refused because its
// --as-of is more than MaxAsOfSkew from the wall clock.
var ErrAsOfSkew = errors.New("--as-of too far from the wall clock for a run that acts")

// skewError is ErrAsOfSkew, said in full.
type skewError struct{ msg string }

func (e *skewError) Error() string { return e.msg }

func (e *skewError) Unwrap() error { return ErrAsOfSkew }

// checkAsOf refuses a run that acts (not a dry run) at an --as-of more
// than MaxAsOfSkew from the wall clock, unless it is forced.
func checkAsOf(asOf, now time.Time, force, dry bool) error {
	skew := asOf.Sub(now).Abs()
	if skew <= MaxAsOfSkew || force || dry {
		return nil
	}
	return &skewError{fmt.Sprintf("--as-of %s is %s from the wall clock (%s): a run that acts (--apply, or enforce.mode: apply) "+
		"acts on the wall clock, and takes --as-of only within 24 hours of it. To act at that time anyway, add --force-as-of "+
		"(it is recorded in the run and every audit record); to see what it would do, add --dry-run",
		stamp(asOf), span(skew), stamp(now))}
}

// accountClock is what an account's own data says of the time: the latest
// moment it records (and what that is), and when its credential report
// was generated.
type accountClock struct {
	latest    time.Time
	what      string
	generated time.Time
}

// clockOf reads an account's latest moment from its snapshot: the credential
// report's generation, and every creation, change and last use it records.
func clockOf(snap *inventory.Snapshot) accountClock {
	c := accountClock{generated: snap.ReportGeneratedAt}
	see := func(t time.Time, what func() string) {
		if t.After(c.latest) {
			c.latest, c.what = t, what()
		}
	}
	see(snap.ReportGeneratedAt, func() string { return "the credential report was generated" })
	users := snap.Users
	if snap.Root != nil {
		users = append([]inventory.User{*snap.Root}, users...)
	}
	for _, u := range users {
		see(u.CreatedAt, func() string { return fmt.Sprintf("user %s was created", u.Name) })
		if u.PasswordEnabled {
			see(u.PasswordLastChanged, func() string { return fmt.Sprintf("the password of %s was last changed", u.Name) })
			see(u.PasswordLastUsed, func() string { return fmt.Sprintf("the password of %s was last used", u.Name) })
		}
		for _, k := range u.AccessKeys {
			see(k.CreatedAt, func() string { return fmt.Sprintf("access key %d of %s was created", k.Slot, u.Name) })
			see(k.LastUsedAt, func() string { return fmt.Sprintf("access key %d of %s was last used", k.Slot, u.Name) })
		}
	}
	return c
}

// clockProblem says why account's own data contradicts the run's clock
// ("" when it does not): a moment it records is more than MaxAsOfSkew
// after the earlier of the as-of time and the wall clock (the clock is
// behind AWS's, or --as-of is in the past); or its credential report is
// older than IAM serves by more than MaxAsOfSkew (the wall clock is ahead
// of AWS's).
func clockProblem(account string, c accountClock, asOf, now time.Time) string {
	const prefix, suffix = "account %s: its own data contradicts the run's clock: ", "; nothing is changed in this account; "
	ref, refName, check := asOf, "the run's as-of time", "check --as-of and this machine's clock"
	if now.Before(asOf) {
		ref, refName, check = now, "this machine's clock", "check this machine's clock"
	}
	if ahead := c.latest.Sub(ref); ahead > MaxAsOfSkew {
		return fmt.Sprintf(prefix+"%s at %s, %s after %s (%s)"+suffix+check, account, c.what, stamp(c.latest), span(ahead),
			refName, stamp(ref))
	}
	if age := now.Sub(c.generated); !c.generated.IsZero() && age > IAMReportMaxAge+MaxAsOfSkew {
		return fmt.Sprintf(prefix+"the credential report was generated at %s, %s before this machine's clock (%s), "+
			"and IAM serves no report older than 4 hours"+suffix+"check this machine's clock", account, stamp(c.generated),
			span(age), stamp(now))
	}
	return ""
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// span words a duration of a day or more, rounded: in days from 48 hours
// on, else in hours.
func span(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d.Round(24*time.Hour)/(24*time.Hour)))
	}
	return fmt.Sprintf("%d hours", int(d.Round(time.Hour)/time.Hour))
}

// setClock decides when the run acts, and refuses a run that would act at
// an --as-of too far from the wall clock (checkAsOf).
func (r *runner) setClock() error {
	asOf, now := r.o.Scan.AsOf, r.o.Scan.Now
	r.actAt = now
	if !r.apply {
		r.actAt = asOf // nothing acts
		return nil
	}
	if err := checkAsOf(asOf, now, r.o.ForceAsOf, r.o.DryRun); err != nil {
		return err
	}
	skew := asOf.Sub(now).Abs()
	switch {
	case r.o.ForceAsOf:
		r.actAt, r.forced = asOf, asOf.UTC()
		r.res.ForcedAsOf = r.forced
		r.note(fmt.Sprintf("--force-as-of: the run acts at %s, %s from the wall clock (%s); recorded in the run and every audit record",
			stamp(asOf), spanOrLess(skew), stamp(now)))
	case skew > MaxAsOfSkew: // a dry run
		r.actAt = asOf
		r.note(fmt.Sprintf("--as-of %s is %s from the wall clock (%s): a run that acts refuses it without --force-as-of; "+
			"this dry run acts at it, as a forced run would", stamp(asOf), span(skew), stamp(now)))
	}
	return nil
}

// spanOrLess is span, or "less than an hour".
func spanOrLess(d time.Duration) string {
	if d < time.Hour {
		return "less than an hour"
	}
	return span(d)
}

// note adds a note to the run's output and logs it.
func (r *runner) note(s string) {
	r.res.Notes = append(r.res.Notes, s)
	r.log.Warn(s)
}

// clockProblems are, for a run that acts, the scanned accounts whose own
// data contradicts the run's clock (clockProblem), each logged: a guard
// leaves them unchanged.
func (r *runner) clockProblems() map[string]string {
	if !r.apply {
		return nil
	}
	r.accounts.mu.Lock()
	defer r.accounts.mu.Unlock()
	out := map[string]string{}
	for id, c := range r.accounts.clocks {
		if p := clockProblem(id, c, r.o.Scan.AsOf, r.o.Scan.Now); p != "" {
			out[id] = p
			r.log.Warn("an account's own data contradicts the run's clock: nothing is changed there", "account", id, "reason", p)
		}
	}
	return out
}
