package run

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
)

var wall = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// TestSetClock: when a run acts, by what it is asked.
func TestSetClock(t *testing.T) {
	applyCfg := config.Default()
	applyCfg.Enforce.Mode = config.ModeApply
	for _, tt := range []struct {
		name       string
		cfg        *config.Config
		apply, dry bool
		force      bool
		asOf       time.Time
		err        string // "" : no error
		actAt      time.Time
		forced     time.Time
		note       string
	}{
		{name: "notify: nothing acts", cfg: config.Default(), asOf: wall.AddDate(0, 0, 55), actAt: wall.AddDate(0, 0, 55)},
		{name: "apply, as-of now", cfg: config.Default(), apply: true, asOf: wall, actAt: wall},
		{name: "apply, as-of 24 hours ahead: acts on the wall clock", cfg: config.Default(), apply: true, asOf: wall.Add(24 * time.Hour), actAt: wall},
		{name: "apply, as-of 24 hours back", cfg: config.Default(), apply: true, asOf: wall.Add(-24 * time.Hour), actAt: wall},
		{name: "apply, as-of a second more than a day ahead", cfg: config.Default(), apply: true, asOf: wall.Add(24*time.Hour + time.Second),
			err: "--as-of 2026-12-03T10:00:01Z is 24 hours from the wall clock (2026-12-02T10:00:00Z): a run that acts (--apply, or " +
				"enforce.mode: apply) acts on the wall clock, and takes --as-of only within 24 hours of it. To act at that time anyway, add " +
				"--force-as-of (it is recorded in the run and every audit record); to see what it would do, add --dry-run"},
		{name: "enforce.mode apply, 55 days ahead", cfg: applyCfg, asOf: wall.AddDate(0, 0, 55), err: "--as-of 2027-01-26T10:00:00Z is 55 days from the wall clock"},
		{name: "apply, 30 days back", cfg: config.Default(), apply: true, asOf: wall.AddDate(0, 0, -30), err: "--as-of 2026-11-02T10:00:00Z is 30 days from the wall clock"},
		{name: "forced", cfg: config.Default(), apply: true, force: true, asOf: wall.AddDate(0, 0, 55), actAt: wall.AddDate(0, 0, 55),
			forced: wall.AddDate(0, 0, 55),
			note:   "--force-as-of: the run acts at 2027-01-26T10:00:00Z, 55 days from the wall clock (2026-12-02T10:00:00Z); recorded in the run and every audit record"},
		{name: "forced, close to the wall clock: still recorded", cfg: applyCfg, force: true, asOf: wall.Add(time.Minute), actAt: wall.Add(time.Minute),
			forced: wall.Add(time.Minute), note: "--force-as-of: the run acts at 2026-12-02T10:01:00Z, less than an hour from the wall clock"},
		{name: "dry run of an apply, far off: acts at the as-of", cfg: applyCfg, dry: true, asOf: wall.AddDate(0, 0, 6), actAt: wall.AddDate(0, 0, 6),
			note: "--as-of 2026-12-08T10:00:00Z is 6 days from the wall clock (2026-12-02T10:00:00Z): a run that acts refuses it without --force-as-of; " +
				"this dry run acts at it, as a forced run would"},
		{name: "dry run of an apply, close: the wall clock", cfg: applyCfg, dry: true, asOf: wall.Add(2 * time.Hour), actAt: wall, note: NotePreview},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newRunner(RunOptions{Scan: ScanOptions{Config: tt.cfg, AsOf: tt.asOf, Now: wall}, Apply: tt.apply, DryRun: tt.dry, ForceAsOf: tt.force})
			if tt.err != "" {
				if !errors.Is(err, ErrAsOfSkew) || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("newRunner error = %v; want ErrAsOfSkew starting %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !r.actAt.Equal(tt.actAt) || !r.forced.Equal(tt.forced) || !r.res.ForcedAsOf.Equal(tt.forced) {
				t.Errorf("acts at %s, forced %s (result %s); want %s, %s", r.actAt, r.forced, r.res.ForcedAsOf, tt.actAt, tt.forced)
			}
			switch notes := strings.Join(r.res.Notes, "\n"); {
			case tt.note == "" && notes != "":
				t.Errorf("notes %q; want none", notes)
			case !strings.HasPrefix(notes, tt.note):
				t.Errorf("notes %q; want %q", notes, tt.note)
			}
		})
	}
}

// TestClockProblem: an account's own data against the run's clock.
func TestClockProblem(t *testing.T) {
	const acct = "123456789012"
	snap := func(generated time.Time, users ...inventory.User) *inventory.Snapshot {
		return &inventory.Snapshot{AccountID: acct, ReportGeneratedAt: generated, Users: users}
	}
	used := func(name string, created, lastUsed time.Time) inventory.User {
		return inventory.User{Name: name, CreatedAt: created,
			AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: created, LastUsedAt: lastUsed}}}
	}
	long := wall.AddDate(0, 0, -200)
	for _, tt := range []struct {
		name      string
		snap      *inventory.Snapshot
		asOf, now time.Time
		want      string
	}{
		{"fresh report, as-of now", snap(wall.Add(-time.Hour), used("alice", long, wall.Add(-2*time.Hour))), wall, wall, ""},
		{"as-of a day back: the report is a day after it, not more", snap(wall, used("alice", long, wall)), wall.Add(-24 * time.Hour), wall, ""},
		{"forced as-of in the past: the report is after it", snap(wall.Add(-time.Hour)), wall.AddDate(0, 0, -30), wall,
			"account 123456789012: its own data contradicts the run's clock: the credential report was generated at 2026-12-02T09:00:00Z, " +
				"30 days after the run's as-of time (2026-11-02T10:00:00Z); nothing is changed in this account; check --as-of and this machine's clock"},
		{"a key used after the as-of", snap(wall.AddDate(0, 0, -20).Add(-time.Hour), used("alice", long, wall.AddDate(0, 0, -18)),
			used("bob", long, wall.AddDate(0, 0, -40))), wall.AddDate(0, 0, -20), wall,
			"account 123456789012: its own data contradicts the run's clock: access key 1 of alice was last used at 2026-11-14T10:00:00Z, " +
				"2 days after the run's as-of time (2026-11-12T10:00:00Z); nothing is changed in this account; check --as-of and this machine's clock"},
		{"a user created after the as-of", snap(time.Time{}, inventory.User{Name: "carol", CreatedAt: wall.Add(-time.Hour)}), wall.Add(-41 * time.Hour), wall,
			"account 123456789012: its own data contradicts the run's clock: user carol was created at 2026-12-02T09:00:00Z, 40 hours after the run's as-of time"},
		{"a password used after the as-of", snap(time.Time{}, inventory.User{Name: "dan", CreatedAt: long, PasswordEnabled: true, PasswordLastUsed: wall}),
			wall.AddDate(0, 0, -3), wall, "account 123456789012: its own data contradicts the run's clock: the password of dan was last used at 2026-12-02T10:00:00Z, 3 days after"},
		{"the machine's clock is behind AWS's", snap(wall.AddDate(0, 0, 2)), wall, wall,
			"account 123456789012: its own data contradicts the run's clock: the credential report was generated at 2026-12-04T10:00:00Z, " +
				"2 days after the run's as-of time (2026-12-02T10:00:00Z); nothing is changed in this account; check --as-of and this machine's clock"},
		{"forced as-of ahead, the machine's clock behind AWS's", snap(wall.AddDate(0, 0, 2)), wall.AddDate(0, 0, 30), wall,
			"account 123456789012: its own data contradicts the run's clock: the credential report was generated at 2026-12-04T10:00:00Z, " +
				"2 days after this machine's clock (2026-12-02T10:00:00Z); nothing is changed in this account; check this machine's clock"},
		{"a report of 28 hours: the most IAM serves, and a day", snap(wall.Add(-28 * time.Hour)), wall, wall, ""},
		{"a report older than IAM serves: the machine's clock is ahead", snap(wall.Add(-28*time.Hour - time.Minute)), wall, wall,
			"account 123456789012: its own data contradicts the run's clock: the credential report was generated at 2026-12-01T05:59:00Z, " +
				"28 hours before this machine's clock (2026-12-02T10:00:00Z), and IAM serves no report older than 4 hours; " +
				"nothing is changed in this account; check this machine's clock"},
		{"forced as-of ahead, report fresh", snap(wall.Add(-time.Hour)), wall.AddDate(0, 0, 55), wall, ""},
		{"the root user's data counts", &inventory.Snapshot{AccountID: acct, ReportGeneratedAt: wall.AddDate(0, 0, -5),
			Root: &inventory.User{Name: inventory.RootUserName, CreatedAt: long, PasswordEnabled: true, PasswordLastUsed: wall}},
			wall.AddDate(0, 0, -5), wall, "account 123456789012: its own data contradicts the run's clock: the password of <root_account> was last used at 2026-12-02T10:00:00Z, 5 days after"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := clockProblem(acct, clockOf(tt.snap), tt.asOf, tt.now)
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Errorf("clockProblem = %q;\nwant %q", got, tt.want)
			}
		})
	}
}
