// Package sqlite is the state.Store kept in a local SQLite file, through
// the pure-Go modernc.org/sqlite driver (no cgo). It is keywarden's
// default state (sqlite://keywarden.db).
//
// The schema is versioned with PRAGMA user_version and migrated forward on
// Open, in one immediate transaction, so two processes opening an old file
// at once migrate it once. Writes are single statements whose WHERE clause
// carries the cadence and the claim rules, so two runs sharing the file
// cannot both claim a notice.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/keywarden/keywarden/internal/state"
)

// Store is a state.Store in a SQLite file.
type Store struct {
	db       *sql.DB
	path     string
	readOnly bool
}

var _ state.Store = (*Store)(nil)

// Options configure Open.
type Options struct {
	// ReadOnly opens an existing file without changing it (dry runs): a
	// missing file is an error wrapping os.ErrNotExist, and a file whose
	// schema is older than this build's is an error (migrating writes).
	ReadOnly bool
	// BusyTimeout is how long a write waits for another process's write
	// to finish before it fails with SQLITE_BUSY ("database is locked");
	// 0 is DefaultBusyTimeout.
	BusyTimeout time.Duration
}

// DefaultBusyTimeout is how long a write waits for another process's.
const DefaultBusyTimeout = 15 * time.Second

// timeLayout is how timestamps are stored: UTC, fixed width, so they
// compare as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// migrations[i] moves the schema from version i to i+1.
var migrations = []string{
	// 1: notices, one row per (finding, audience).
	`CREATE TABLE notices (
		finding_id  TEXT    NOT NULL,
		audience    TEXT    NOT NULL,
		account     TEXT    NOT NULL DEFAULT '',
		user_name   TEXT    NOT NULL DEFAULT '',
		key_id      TEXT    NOT NULL DEFAULT '',
		rule        TEXT    NOT NULL DEFAULT '',
		stage       INTEGER NOT NULL DEFAULT 0,
		first_day   TEXT    NOT NULL DEFAULT '',
		last_day    TEXT    NOT NULL DEFAULT '',
		count       INTEGER NOT NULL DEFAULT 0,
		claim_run   TEXT    NOT NULL DEFAULT '',
		claimed_at  TEXT    NOT NULL DEFAULT '',
		claim_stage INTEGER NOT NULL DEFAULT 0,
		closed_day  TEXT    NOT NULL DEFAULT '',
		updated_at  TEXT    NOT NULL DEFAULT '',
		PRIMARY KEY (finding_id, audience)
	) WITHOUT ROWID;
	CREATE INDEX notices_open_by_account ON notices (account) WHERE closed_day = '';`,
	// 2: runs, one row per run that changed state.
	`CREATE TABLE runs (
		id          TEXT    PRIMARY KEY,
		mode        TEXT    NOT NULL DEFAULT '',
		as_of       TEXT    NOT NULL DEFAULT '',
		started_at  TEXT    NOT NULL DEFAULT '',
		finished_at TEXT    NOT NULL DEFAULT '',
		accounts    INTEGER NOT NULL DEFAULT 0,
		findings    INTEGER NOT NULL DEFAULT 0,
		sent        INTEGER NOT NULL DEFAULT 0,
		failed      INTEGER NOT NULL DEFAULT 0,
		error       TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX runs_by_start ON runs (started_at);`,
	// 3: the audit trail of actions, and when keys were first known inactive.
	`CREATE TABLE actions (
		id          TEXT    PRIMARY KEY,
		run         TEXT    NOT NULL DEFAULT '',
		account     TEXT    NOT NULL,
		user_name   TEXT    NOT NULL,
		credential  TEXT    NOT NULL DEFAULT '',
		key_id      TEXT    NOT NULL DEFAULT '',
		kind        TEXT    NOT NULL,
		rule        TEXT    NOT NULL DEFAULT '',
		stage       INTEGER NOT NULL DEFAULT 0,
		finding_id  TEXT    NOT NULL DEFAULT '',
		status      TEXT    NOT NULL,
		reason      TEXT    NOT NULL DEFAULT '',
		before      TEXT    NOT NULL DEFAULT '',
		after       TEXT    NOT NULL DEFAULT '',
		undo_of     TEXT    NOT NULL DEFAULT '',
		target      TEXT    NOT NULL,
		at          TEXT    NOT NULL,
		finished_at TEXT    NOT NULL DEFAULT '',
		seq         INTEGER NOT NULL
	);
	CREATE INDEX actions_by_time ON actions (at, seq);
	CREATE UNIQUE INDEX actions_in_flight ON actions (target) WHERE status = 'planned';
	CREATE TABLE inactive_keys (
		account   TEXT NOT NULL,
		key_id    TEXT NOT NULL,
		user_name TEXT NOT NULL DEFAULT '',
		since_day TEXT NOT NULL,
		PRIMARY KEY (account, key_id)
	) WITHOUT ROWID;`,
	// 4: the --as-of a run was forced to act at (--force-as-of), on the run
	// and on each of its actions ('': the wall clock).
	`ALTER TABLE runs ADD COLUMN forced_as_of TEXT NOT NULL DEFAULT '';
	ALTER TABLE actions ADD COLUMN forced_as_of TEXT NOT NULL DEFAULT '';`,
	// 5: who must hear each action's outcome (a JSON array of audiences):
	// finishing it records their owed notices.
	`ALTER TABLE actions ADD COLUMN audiences TEXT NOT NULL DEFAULT '';`,
	// 6: rotations: the new key (never its secret), where it was written,
	// and the rotation a disable or delete of the old key retires.
	`ALTER TABLE actions ADD COLUMN new_key_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE actions ADD COLUMN secret_target TEXT NOT NULL DEFAULT '';
	ALTER TABLE actions ADD COLUMN rotation_of TEXT NOT NULL DEFAULT '';`,
}

// SchemaVersion is the schema version this build writes.
var SchemaVersion = len(migrations)

// Open opens (creating and migrating, unless read-only) the state file at
// path. A new file is made only where none exists: an existing file that
// is empty, cannot be read, is not a SQLite database or fails PRAGMA
// quick_check is an error that names it and says what to do, and is left
// as it is (ErrUnusable).
func Open(ctx context.Context, path string, o Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open state: empty SQLite path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open state %s: the path may not contain ? or #", path)
	}
	created := false
	switch err := existing(path); {
	case errors.Is(err, fs.ErrNotExist) && o.ReadOnly:
		return nil, fmt.Errorf("open state %s: %w", path, err)
	case errors.Is(err, fs.ErrNotExist):
		if err := create(ctx, path); err != nil {
			return nil, fmt.Errorf("open state %s: create it: %w", path, err)
		}
		created = true
	case err != nil:
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(path, o.ReadOnly, o.BusyTimeout))
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	s := &Store{db: db, path: path, readOnly: o.ReadOnly}
	if !created {
		if err := s.check(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := s.migrate(ctx, migrations); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// ErrUnusable is wrapped by Open's error for a state file that exists but
// cannot be read, is empty, is not a SQLite database or fails PRAGMA
// quick_check. Open changes nothing in such a file.
var ErrUnusable = errors.New("state file cannot be used")

// Advice for an unusable state file.
const (
	adviceRestore = "keywarden stopped and left it as it is: it holds the notices told, the runs, the audit trail of " +
		"actions and the days keys became inactive, and a new state would tell and act as if none of that had " +
		"happened. Restore it from a backup (or, if it never held keywarden's state, delete it: keywarden then " +
		"creates a new one)"
	adviceAccess = "keywarden stopped and left it as it is. Give the user keywarden runs as read and write access " +
		"to it (and to its directory)"
)

// unusable is Open's error for the file at path: what is wrong (why, and
// the underlying error) and what to do.
func unusable(path, why string, err error, advice string) error {
	if err != nil {
		why += " (" + err.Error() + ")"
	}
	return fmt.Errorf("open state: %w: %s %s. %s", ErrUnusable, path, why, advice)
}

// existing checks the state file at path before SQLite opens it: an error
// wrapping fs.ErrNotExist when there is none, and ErrUnusable when it is
// not a regular file, cannot be read, or is empty (SQLite would take an
// empty file for a new database, and a lost state for a fresh one).
func existing(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return err
	case err != nil:
		return unusable(path, "cannot be read", err, adviceAccess)
	case !fi.Mode().IsRegular():
		return unusable(path, "is not a regular file ("+fi.Mode().Type().String()+")", nil, adviceRestore)
	case fi.Size() == 0:
		return unusable(path, "is empty (0 bytes)", nil, adviceRestore)
	}
	f, err := os.Open(path)
	if err != nil {
		return unusable(path, "cannot be read", err, adviceAccess)
	}
	return f.Close()
}

// create makes a new state file at path, with the current schema, readable
// by its owner only (0600): it names users and credentials (SQLite gives
// the -wal and -shm files it makes beside it the same mode). The file is
// built under a temporary name beside path and linked into place, so that
// path never names an empty or half-made file, and a file another process
// created meanwhile is kept (and opened) rather than replaced.
func create(ctx context.Context, path string) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(cmp.Or(dir, "."), base+".new-*") // 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"} {
			_ = os.Remove(p)
		}
	}()
	if err := f.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(tmp, false, 0))
	if err != nil {
		return err
	}
	err = (&Store{db: db, path: tmp}).migrate(ctx, migrations)
	if cerr := db.Close(); err == nil {
		err = cerr // the last connection closed: the WAL is checkpointed into tmp
	}
	if err != nil {
		return err
	}
	err = os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) {
		return nil // another process created it first: Open opens that one
	}
	if err != nil {
		// A file system without hard links: rename, unless path appeared
		// meanwhile.
		if _, serr := os.Lstat(path); !errors.Is(serr, fs.ErrNotExist) {
			return nil
		}
		return os.Rename(tmp, path)
	}
	return nil
}

// check runs PRAGMA quick_check on an existing file, so that a damaged
// page is found when the state is opened, before a run acts on what it
// read, not when the run is recorded. While no process has the file open
// (no -wal file beside it) the check reads it immutable, which creates no
// -wal or -shm file beside a file that turns out damaged; if the file
// changed during that check (another process opened and wrote it), the
// check is made again through the store's own connection.
func (s *Store) check(ctx context.Context) error {
	before, err := os.Stat(s.path)
	if err == nil && !walInUse(s.path) {
		db, err := sql.Open("sqlite", "file:"+escape(s.path)+"?mode=ro&immutable=1")
		if err != nil {
			return fmt.Errorf("open state %s: %w", s.path, err)
		}
		err = quickCheck(ctx, db, s.path)
		db.Close()
		after, serr := os.Stat(s.path)
		unchanged := serr == nil && after.Size() == before.Size() && after.ModTime().Equal(before.ModTime()) && !walInUse(s.path)
		if err == nil || unchanged {
			return err
		}
	}
	return quickCheck(ctx, s.db, s.path)
}

// walInUse reports whether path has a -wal file that is not empty: a
// process has the database open, or one was killed with changes in it.
func walInUse(path string) bool {
	fi, err := os.Stat(path + "-wal")
	return err == nil && fi.Size() > 0
}

// quickCheck runs PRAGMA quick_check on db, the state file at path.
func quickCheck(ctx context.Context, db *sql.DB, path string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return unusable(path, "is not a SQLite database keywarden can read", err, adviceRestore)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return unusable(path, "is damaged: PRAGMA quick_check failed", err, adviceRestore)
		}
		if line != "ok" {
			problems = append(problems, strings.Split(line, "\n")...)
		}
	}
	if err := rows.Err(); err != nil {
		return unusable(path, "is damaged: PRAGMA quick_check failed", err, adviceRestore)
	}
	if len(problems) > 0 {
		return unusable(path, "is damaged: PRAGMA quick_check found", errors.New(strings.Join(problems, "; ")), adviceRestore)
	}
	return nil
}

// escape makes path the path of a file: URI.
func escape(path string) string { return strings.ReplaceAll(path, "%", "%25") }

func dsn(path string, readOnly bool, busy time.Duration) string {
	p := escape(path)
	q := fmt.Sprintf("_pragma=busy_timeout(%d)&_txlock=immediate", cmp.Or(busy, DefaultBusyTimeout).Milliseconds())
	if readOnly {
		return "file:" + p + "?mode=ro&" + q
	}
	return "file:" + p + "?" + q + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
}

// migrate brings the schema to len(ms).
func (s *Store) migrate(ctx context.Context, ms []string) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("open state %s: read schema version: %w", s.path, err)
	}
	switch {
	case v > len(ms):
		return fmt.Errorf("open state %s: schema version %d is newer than this keywarden understands (%d); use a newer keywarden", s.path, v, len(ms))
	case v == len(ms):
		return nil
	case s.readOnly:
		return fmt.Errorf("open state %s: schema version %d is older than this keywarden's (%d); run keywarden once without --dry-run to migrate it", s.path, v, len(ms))
	}
	tx, err := s.db.BeginTx(ctx, nil) // immediate (_txlock): one migrator at a time
	if err != nil {
		return fmt.Errorf("open state %s: migrate: %w", s.path, err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("open state %s: read schema version: %w", s.path, err)
	}
	for ; v < len(ms); v++ {
		if _, err := tx.ExecContext(ctx, ms[v]); err != nil {
			return fmt.Errorf("open state %s: migrate schema to version %d: %w", s.path, v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return fmt.Errorf("open state %s: set schema version: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("open state %s: migrate: %w", s.path, err)
	}
	return nil
}

// Version returns the file's schema version.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(timeLayout, s)
	return t
}

const noticeColumns = `finding_id, audience, account, user_name, key_id, rule, stage, first_day, last_day,
	count, claim_run, claimed_at, claim_stage, closed_day, updated_at`

// Notices implements state.Store.
func (s *Store) Notices(ctx context.Context, accounts []string) ([]state.Notice, error) {
	q := `SELECT ` + noticeColumns + ` FROM notices WHERE closed_day = ''`
	args := make([]any, len(accounts))
	if len(accounts) > 0 {
		q += ` AND account IN (?` + strings.Repeat(`, ?`, len(accounts)-1) + `)`
		for i, a := range accounts {
			args[i] = a
		}
	}
	q += ` ORDER BY finding_id, audience`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read notices: %w", err)
	}
	defer rows.Close()
	var out []state.Notice
	for rows.Next() {
		var n state.Notice
		var claimedAt, updatedAt string
		if err := rows.Scan(&n.Finding, &n.Audience, &n.Account, &n.User, &n.KeyID, &n.Rule, &n.Stage,
			&n.FirstDay, &n.LastDay, &n.Count, &n.ClaimRun, &claimedAt, &n.ClaimStage, &n.ClosedDay, &updatedAt); err != nil {
			return nil, fmt.Errorf("read notices: %w", err)
		}
		n.ClaimedAt, n.UpdatedAt = parseTime(claimedAt), parseTime(updatedAt)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read notices: %w", err)
	}
	return out, nil
}

// Claim implements state.Store: one upsert whose WHERE clause is
// state.Due (not due only when open, delivered, at the same stage and
// LastDay after the reminder cutoff; an action's notice once delivered)
// and the claim rule.
func (s *Store) Claim(ctx context.Context, c state.Claim) (bool, error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	now := fmtTime(c.Now)
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO notices (finding_id, audience, account, user_name, key_id, rule, claim_run, claimed_at, claim_stage, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (finding_id, audience) DO UPDATE SET
			account = excluded.account, user_name = excluded.user_name, key_id = excluded.key_id, rule = excluded.rule,
			claim_run = excluded.claim_run, claimed_at = excluded.claimed_at, claim_stage = excluded.claim_stage,
			updated_at = excluded.updated_at
		WHERE (notices.closed_day <> '' OR notices.last_day = '' OR notices.stage <> excluded.claim_stage OR notices.last_day <= ?)
		  AND (substr(notices.finding_id, 1, ?) <> ? OR notices.last_day = '')
		  AND (notices.claim_run = '' OR notices.claim_run = excluded.claim_run OR notices.claimed_at < ?)`,
		c.Key.Finding, c.Key.Audience, c.Account, c.User, c.KeyID, c.Rule, c.Run, now, c.Stage, now,
		state.RemindCutoff(c.Day, c.RemindEvery), len(state.ActionNoticePrefix), state.ActionNoticePrefix, fmtTime(c.LeaseCutoff()))
	if err != nil {
		return false, fmt.Errorf("claim notice %v: %w", c.Key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim notice %v: %w", c.Key, err)
	}
	return n == 1, nil
}

// Sent implements state.Store.
func (s *Store) Sent(ctx context.Context, key state.NoticeKey, run, day string, now time.Time) error {
	if run == "" {
		return state.ErrClaimLost
	}
	res, err := s.db.ExecContext(ctx, `
		UPDATE notices SET
			first_day = CASE WHEN closed_day <> '' OR last_day = '' OR stage <> claim_stage THEN ? ELSE first_day END,
			count     = CASE WHEN closed_day <> '' OR last_day = '' OR stage <> claim_stage THEN 1 ELSE count + 1 END,
			stage = claim_stage, last_day = ?, closed_day = '',
			claim_run = '', claimed_at = '', claim_stage = 0, updated_at = ?
		WHERE finding_id = ? AND audience = ? AND claim_run = ?`,
		day, day, fmtTime(now), key.Finding, key.Audience, run)
	if err != nil {
		return fmt.Errorf("record notice %v sent: %w", key, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record notice %v sent: %w", key, err)
	} else if n == 0 {
		var claimRun, lastDay, updatedAt string
		err := s.db.QueryRowContext(ctx, `SELECT claim_run, last_day, updated_at FROM notices WHERE finding_id = ? AND audience = ?`,
			key.Finding, key.Audience).Scan(&claimRun, &lastDay, &updatedAt)
		if err == nil && state.SentAt(&state.Notice{ClaimRun: claimRun, LastDay: lastDay, UpdatedAt: parseTime(updatedAt)}, day, now) {
			return nil // recorded already: a repeat
		}
		return fmt.Errorf("record notice %v sent: %w", key, state.ErrClaimLost)
	}
	return nil
}

// Release implements state.Store.
func (s *Store) Release(ctx context.Context, key state.NoticeKey, run string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE notices SET claim_run = '', claimed_at = '', claim_stage = 0
		WHERE finding_id = ? AND audience = ? AND claim_run = ? AND claim_run <> ''`,
		key.Finding, key.Audience, run)
	if err != nil {
		return fmt.Errorf("release notice %v: %w", key, err)
	}
	return nil
}

// Resolve implements state.Store.
func (s *Store) Resolve(ctx context.Context, findings []string, day string, now time.Time) (int, error) {
	if len(findings) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("resolve notices: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE notices SET closed_day = ?, updated_at = ? WHERE finding_id = ? AND closed_day = ''`)
	if err != nil {
		return 0, fmt.Errorf("resolve notices: %w", err)
	}
	defer stmt.Close()
	total := int64(0)
	for _, f := range findings {
		res, err := stmt.ExecContext(ctx, day, fmtTime(now), f)
		if err != nil {
			return 0, fmt.Errorf("resolve notices of %s: %w", f, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("resolve notices: %w", err)
	}
	return int(total), nil
}

// RecordRun implements state.Store.
func (s *Store) RecordRun(ctx context.Context, r state.Run) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO runs (id, mode, as_of, started_at, finished_at, accounts, findings, sent, failed, error, forced_as_of)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET mode = excluded.mode, as_of = excluded.as_of, started_at = excluded.started_at,
			finished_at = excluded.finished_at, accounts = excluded.accounts, findings = excluded.findings,
			sent = excluded.sent, failed = excluded.failed, error = excluded.error, forced_as_of = excluded.forced_as_of`,
		r.ID, r.Mode, fmtTime(r.AsOf), fmtTime(r.StartedAt), fmtTime(r.FinishedAt), r.Accounts, r.Findings, r.Sent, r.Failed, r.Error,
		fmtTime(r.ForcedAsOf))
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.ID, err)
	}
	return nil
}

// Runs implements state.Store.
func (s *Store) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	q := `SELECT id, mode, as_of, started_at, finished_at, accounts, findings, sent, failed, error, forced_as_of FROM runs
		ORDER BY started_at DESC, id DESC`
	var args []any
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []state.Run
	for rows.Next() {
		var r state.Run
		var asOf, started, finished, forced string
		if err := rows.Scan(&r.ID, &r.Mode, &asOf, &started, &finished, &r.Accounts, &r.Findings, &r.Sent, &r.Failed, &r.Error, &forced); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		r.AsOf, r.StartedAt, r.FinishedAt, r.ForcedAsOf = parseTime(asOf), parseTime(started), parseTime(finished), parseTime(forced)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	return out, nil
}

const actionColumns = `id, run, account, user_name, credential, key_id, kind, rule, stage, finding_id, status, reason,
	before, after, undo_of, at, finished_at, forced_as_of, audiences, new_key_id, secret_target, rotation_of`

func encodeAudiences(a []string) string {
	if len(a) == 0 {
		return ""
	}
	b, _ := json.Marshal(a) // a []string always marshals
	return string(b)
}

func decodeAudiences(s string) []string {
	var out []string
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out)
	}
	return out
}

// owe inserts the owed notices of a finished as status, in tx: those that
// exist are left as they are.
func owe(ctx context.Context, tx *sql.Tx, a *state.Action, status state.ActionStatus, now time.Time) error {
	for _, n := range state.OwedNotices(a, status, now) {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO notices (finding_id, audience, account, user_name, key_id, rule, stage, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (finding_id, audience) DO NOTHING`,
			n.Finding, n.Audience, n.Account, n.User, n.KeyID, n.Rule, n.Stage, fmtTime(n.UpdatedAt)); err != nil {
			return fmt.Errorf("record notice %v owed: %w", n.NoticeKey, err)
		}
	}
	return nil
}

// RecordAction implements state.Store. The partial unique index on planned
// actions' targets is the in-flight lock. An action recorded finished
// records its owed notices in the same transaction.
func (s *Store) RecordAction(ctx context.Context, a state.Action) error {
	if err := a.Validate(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record action %s: %w", a.ID, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `
		INSERT INTO actions (`+actionColumns+`, target, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM actions))`,
		a.ID, a.Run, a.Account, a.User, a.Credential, a.KeyID, a.Kind, a.Rule, a.Stage, a.FindingID, string(a.Status), a.Reason,
		a.Before, a.After, a.UndoOf, fmtTime(a.At), fmtTime(a.FinishedAt), fmtTime(a.ForcedAsOf), encodeAudiences(a.Audiences),
		a.NewKeyID, a.SecretTarget, a.RotationOf, a.Target())
	if err == nil {
		err = owe(ctx, tx, &a, a.Status, a.At)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		tx.Rollback()
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			if got, gerr := s.Actions(ctx, state.ActionFilter{IDs: []string{a.ID}}); gerr == nil && len(got) == 1 && state.SameRecord(&got[0], &a) {
				return nil // recorded already: a repeat
			}
		}
		if strings.Contains(err.Error(), "UNIQUE constraint failed: actions.target") {
			var other, run string
			_ = s.db.QueryRowContext(ctx, `SELECT id, run FROM actions WHERE target = ? AND status = 'planned'`, a.Target()).Scan(&other, &run)
			return fmt.Errorf("record action %s on %s: %w (%s of run %s)", a.ID, a.Target(), state.ErrActionInFlight, other, run)
		}
		return fmt.Errorf("record action %s: %w", a.ID, err)
	}
	return nil
}

// FinishAction implements state.Store: one transaction updates the
// planned action and records its outcome's owed notices.
func (s *Store) FinishAction(ctx context.Context, id string, o state.Outcome) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish action %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE actions SET status = ?, reason = ?, kind = COALESCE(NULLIF(?, ''), kind), before = ?, after = ?, finished_at = ?,
		secret_target = COALESCE(NULLIF(?, ''), secret_target)
		WHERE id = ? AND status = 'planned'`,
		string(o.Status), o.Reason, o.Kind, o.Before, o.After, fmtTime(o.At), o.SecretTarget, id)
	if err != nil {
		return fmt.Errorf("finish action %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish action %s: %w", id, err)
	} else if n == 0 {
		tx.Rollback()
		if got, gerr := s.Actions(ctx, state.ActionFilter{IDs: []string{id}}); gerr == nil && len(got) == 1 && state.FinishedWith(&got[0], o) {
			return nil // finished already with o: a repeat
		}
		return fmt.Errorf("finish action %s: %w", id, state.ErrActionNotPlanned)
	}
	a := state.Action{ID: id}
	var audiences string
	if err := tx.QueryRowContext(ctx, `SELECT account, user_name, key_id, rule, stage, audiences FROM actions WHERE id = ?`, id).
		Scan(&a.Account, &a.User, &a.KeyID, &a.Rule, &a.Stage, &audiences); err != nil {
		return fmt.Errorf("finish action %s: %w", id, err)
	}
	a.Audiences = decodeAudiences(audiences)
	if err := owe(ctx, tx, &a, o.Status, o.At); err != nil {
		return fmt.Errorf("finish action %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish action %s: %w", id, err)
	}
	return nil
}

// ProgressAction implements state.Store: one conditional update.
func (s *Store) ProgressAction(ctx context.Context, id, newKeyID string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE actions SET new_key_id = ? WHERE id = ? AND status = 'planned' AND new_key_id IN ('', ?)`,
		newKeyID, id, newKeyID)
	if err != nil {
		return fmt.Errorf("progress action %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("progress action %s: %w", id, err)
	} else if n == 1 {
		return nil
	}
	got, err := s.Actions(ctx, state.ActionFilter{IDs: []string{id}})
	if err != nil {
		return fmt.Errorf("progress action %s: %w", id, err)
	}
	if len(got) == 1 && got[0].Status == state.ActionPlanned {
		return fmt.Errorf("progress action %s: %w (%s)", id, state.ErrNewKeyRecorded, got[0].NewKeyID)
	}
	return fmt.Errorf("progress action %s: %w", id, state.ErrActionNotPlanned)
}

// Actions implements state.Store.
func (s *Store) Actions(ctx context.Context, f state.ActionFilter) ([]state.Action, error) {
	var where []string
	var args []any
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		where = append(where, col+` IN (?`+strings.Repeat(`, ?`, len(vals)-1)+`)`)
		for _, v := range vals {
			args = append(args, v)
		}
	}
	eq := func(col, val string) {
		if val != "" {
			where = append(where, col+` = ?`)
			args = append(args, val)
		}
	}
	in("id", f.IDs)
	in("account", f.Accounts)
	eq("user_name", f.User)
	eq("key_id", f.KeyID)
	eq("status", string(f.Status))
	eq("run", f.Run)
	if !f.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, fmtTime(f.Since))
	}
	q := `SELECT ` + actionColumns + ` FROM actions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY at DESC, seq DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	defer rows.Close()
	var out []state.Action
	for rows.Next() {
		var a state.Action
		var status, at, finished, forced, audiences string
		if err := rows.Scan(&a.ID, &a.Run, &a.Account, &a.User, &a.Credential, &a.KeyID, &a.Kind, &a.Rule, &a.Stage, &a.FindingID,
			&status, &a.Reason, &a.Before, &a.After, &a.UndoOf, &at, &finished, &forced, &audiences,
			&a.NewKeyID, &a.SecretTarget, &a.RotationOf); err != nil {
			return nil, fmt.Errorf("read actions: %w", err)
		}
		a.Audiences = decodeAudiences(audiences)
		a.Status, a.At, a.FinishedAt, a.ForcedAsOf = state.ActionStatus(status), parseTime(at), parseTime(finished), parseTime(forced)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	return out, nil
}

// InactiveSince implements state.Store.
func (s *Store) InactiveSince(ctx context.Context, k state.KeyRef) (string, error) {
	var since string
	err := s.db.QueryRowContext(ctx, `SELECT since_day FROM inactive_keys WHERE account = ? AND key_id = ?`, k.Account, k.KeyID).Scan(&since)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read when %s became inactive: %w", k.KeyID, err)
	}
	return since, nil
}

// RecordInactive implements state.Store.
func (s *Store) RecordInactive(ctx context.Context, k state.KeyRef, day string, replace bool) error {
	q := `INSERT INTO inactive_keys (account, key_id, user_name, since_day) VALUES (?, ?, ?, ?) ON CONFLICT (account, key_id) DO NOTHING`
	if replace {
		q = `INSERT INTO inactive_keys (account, key_id, user_name, since_day) VALUES (?, ?, ?, ?)
			ON CONFLICT (account, key_id) DO UPDATE SET since_day = excluded.since_day, user_name = excluded.user_name`
	}
	if _, err := s.db.ExecContext(ctx, q, k.Account, k.KeyID, k.User, day); err != nil {
		return fmt.Errorf("record when %s became inactive: %w", k.KeyID, err)
	}
	return nil
}

// ForgetInactive implements state.Store.
func (s *Store) ForgetInactive(ctx context.Context, k state.KeyRef) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM inactive_keys WHERE account = ? AND key_id = ?`, k.Account, k.KeyID); err != nil {
		return fmt.Errorf("forget when %s became inactive: %w", k.KeyID, err)
	}
	return nil
}

// Close implements state.Store.
func (s *Store) Close() error { return s.db.Close() }
