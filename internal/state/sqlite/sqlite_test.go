package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "modernc.org/sqlite"

	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/sqlite"
	"github.com/keywarden/keywarden/internal/state/statetest"
)

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		path := filepath.Join(t.TempDir(), "state.db")
		return func(t *testing.T) state.Store {
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			if err != nil {
				t.Fatalf("Open(%s) error: %v", path, err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

func TestOpenCreatesCurrentSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub dir", "state.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Version(context.Background()); err != nil || v != sqlite.SchemaVersion || v != 6 {
		t.Errorf("Version() = %d, %v; want %d", v, err, 6)
	}
}

// TestMigrateFromVersion1 opens a file written by the first schema (notices
// only, with a delivered notice) and checks it is migrated and kept.
func TestMigrateFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE notices (
			finding_id TEXT NOT NULL, audience TEXT NOT NULL, account TEXT NOT NULL DEFAULT '', user_name TEXT NOT NULL DEFAULT '',
			key_id TEXT NOT NULL DEFAULT '', rule TEXT NOT NULL DEFAULT '', stage INTEGER NOT NULL DEFAULT 0,
			first_day TEXT NOT NULL DEFAULT '', last_day TEXT NOT NULL DEFAULT '', count INTEGER NOT NULL DEFAULT 0,
			claim_run TEXT NOT NULL DEFAULT '', claimed_at TEXT NOT NULL DEFAULT '', claim_stage INTEGER NOT NULL DEFAULT 0,
			closed_day TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL DEFAULT '', PRIMARY KEY (finding_id, audience)) WITHOUT ROWID`,
		`INSERT INTO notices (finding_id, audience, account, stage, first_day, last_day, count) VALUES ('f1', 'a@example.com', '123456789012', 70, '2026-11-01', '2026-11-01', 1)`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	// Read-only (a dry run) refuses to migrate, and says what to do.
	if _, err := sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: true}); err == nil ||
		!strings.Contains(err.Error(), "schema version 1 is older than this keywarden's (6); run keywarden once without --dry-run") {
		t.Errorf("Open(read-only, version 1) error = %v; want the migrate advice", err)
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open(version 1) error: %v", err)
	}
	defer s.Close()
	if v, _ := s.Version(context.Background()); v != 6 {
		t.Errorf("Version() after migration = %d; want 6", v)
	}
	ns, err := s.Notices(context.Background(), nil)
	if err != nil || len(ns) != 1 || ns[0].Finding != "f1" || ns[0].LastDay != "2026-11-01" {
		t.Errorf("Notices() after migration = %+v, %v; want the version-1 notice", ns, err)
	}
	if err := s.RecordRun(context.Background(), state.Run{ID: "r1"}); err != nil {
		t.Errorf("RecordRun() after migration (the version-2 table) error: %v", err)
	}
	if _, err := s.Actions(context.Background(), state.ActionFilter{}); err != nil {
		t.Errorf("Actions() after migration (the version-3 table) error: %v", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 9`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(context.Background(), path, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "schema version 9 is newer than this keywarden understands (6)") {
		t.Errorf("Open(version 9) error = %v; want it refused", err)
	}
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := sqlite.Open(context.Background(), missing, sqlite.Options{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(read-only, missing) error = %v; want os.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only Open created %s", missing)
	}
	path := filepath.Join(dir, "state.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open(read-only) error: %v", err)
	}
	defer ro.Close()
	ok, err := ro.Claim(context.Background(), state.Claim{Key: state.NoticeKey{Finding: "f", Audience: "a@example.com"},
		Stage: 1, Day: "2026-11-01", RemindEvery: 1, Run: "r"})
	if err == nil || ok {
		t.Errorf("Claim on a read-only store = %v, %v; want an error", ok, err)
	}
}

// TestOpenCreatesPrivateFiles: the state names users and credentials, so
// a new state file, and the -wal and -shm files SQLite makes beside it,
// are readable by their owner only whatever the umask (they followed it:
// 0644 under the usual 022).
func TestOpenCreatesPrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RecordRun(context.Background(), state.Run{ID: "r1", Mode: "notify"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode = %v; want -rw------- (0600)", filepath.Base(p), m)
		}
	}
}

// filled is a closed state file at path with enough notices, runs and
// actions to span many pages.
func filled(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		c := state.Claim{Key: state.NoticeKey{Finding: fmt.Sprintf("f-%04d", i), Audience: "alice@example.com"}, Account: "123456789012",
			User: "alice", Stage: 70, Day: "2026-11-01", RemindEvery: 1, Run: "run-1", Now: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
		if _, err := s.Claim(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// corruptPage overwrites page n (1-based, 4096 bytes) of the file at path.
func corruptPage(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	junk := bytes.Repeat([]byte{0xA5}, 4096)
	if _, err := f.WriteAt(junk, (n-1)*4096); err != nil {
		t.Fatal(err)
	}
}

// snapshot is every file in dir, by name, with its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// TestOpenRefusesUnusableFiles: a state file that exists but is empty, is
// not a database, has a damaged page, or cannot be read is an error that
// names the file and says what to do, read-write and read-only alike, and
// nothing in its directory is created or changed.
func TestOpenRefusesUnusableFiles(t *testing.T) {
	for _, tt := range []struct {
		name string
		make func(t *testing.T, path string)
		want []string
	}{
		{"zero-length", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"is empty (0 bytes)", "Restore it from a backup"}},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"is not a SQLite database keywarden can read", "Restore it from a backup"}},
		{"damaged page", func(t *testing.T, path string) {
			filled(t, path)
			corruptPage(t, path, 3)
		}, []string{"is damaged: PRAGMA quick_check found", "Tree 3 page 3", "Restore it from a backup"}},
		{"unreadable", func(t *testing.T, path string) {
			if os.Geteuid() == 0 {
				t.Skip("root reads a file whatever its mode")
			}
			filled(t, path)
			if err := os.Chmod(path, 0o200); err != nil {
				t.Fatal(err)
			}
		}, []string{"cannot be read", "permission denied", "read and write access"}},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, []string{"is not a regular file", "Restore it from a backup"}},
	} {
		for _, ro := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/read-only=%v", tt.name, ro), func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "state.db")
				tt.make(t, path)
				before := map[string]string{}
				if fi, _ := os.Stat(path); fi.Mode().IsRegular() && fi.Mode().Perm()&0o400 != 0 {
					before = snapshot(t, dir)
				}
				s, err := sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: ro})
				if err == nil {
					s.Close()
					t.Fatalf("Open(%s) = nil error; want it refused", tt.name)
				}
				if !errors.Is(err, sqlite.ErrUnusable) {
					t.Errorf("Open(%s) error = %v; want ErrUnusable", tt.name, err)
				}
				for _, w := range append([]string{path}, tt.want...) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Open(%s) error = %q; want it to say %q", tt.name, err, w)
					}
				}
				if len(before) > 0 {
					if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
						t.Errorf("Open(%s) changed the directory (-before +after):\n%.2000s", tt.name, diff)
					}
				} else if es, _ := os.ReadDir(dir); len(es) != 1 {
					t.Errorf("Open(%s) left %d files in the directory; want only the state file", tt.name, len(es))
				}
			})
		}
	}
}

// TestOpenCreatesOnlyWhereNoneExists: a missing file is created with the
// current schema, and nothing but it (no temporary file) is left; several
// processes creating one state at once all open the same file, with its
// schema, and none finds it empty.
func TestOpenCreatesOnlyWhereNoneExists(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.db")
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := sqlite.Open(ctx, path, sqlite.Options{})
				if err == nil {
					err = s.RecordRun(ctx, state.Run{ID: fmt.Sprintf("run-%d", i), StartedAt: time.Unix(int64(i), 0)})
					s.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Open/RecordRun %d of %d at once: %v", round, i, n, err)
			}
		}
		if es, _ := os.ReadDir(dir); len(es) != 1 || es[0].Name() != "state.db" {
			var names []string
			for _, e := range es {
				names = append(names, e.Name())
			}
			t.Fatalf("round %d: files left = %v; want only state.db", round, names)
		}
		s, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		runs, err := s.Runs(ctx, 0)
		s.Close()
		if err != nil || len(runs) != n {
			t.Fatalf("round %d: Runs() = %d runs, %v; want the %d of every opener in one file", round, len(runs), err, n)
		}
	}
}

// lockWrites holds the write lock of the state at path (another process's
// long write) until the returned function is called.
func lockWrites(t *testing.T, path string) (unlock func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(unlock)
	return unlock
}

// TestConcurrentWriterBusy: a write waits for another process's write to
// finish; one that outlasts BusyTimeout fails with SQLITE_BUSY, naming
// what it could not record, and changes nothing.
func TestConcurrentWriterBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := state.Claim{Key: state.NoticeKey{Finding: "f1", Audience: "alice@example.com"}, Account: "123456789012", Stage: 70,
		Day: "2026-11-23", RemindEvery: 1, Run: "run-1", Now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}

	unlock := lockWrites(t, path)
	ok, err := s.Claim(ctx, c)
	if ok || err == nil || !strings.Contains(err.Error(), "claim notice f1 → alice@example.com") || !strings.Contains(err.Error(), "SQLITE_BUSY") {
		t.Errorf("Claim while another process writes for longer than the busy timeout = %v, %v; want an SQLITE_BUSY error naming the notice", ok, err)
	}
	unlock()
	if ns, err := s.Notices(ctx, nil); err != nil || len(ns) != 0 {
		t.Errorf("Notices() after the busy claim = %+v, %v; want none", ns, err)
	}

	// A writer that finishes within the busy timeout is waited for.
	waiting, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	unlock = lockWrites(t, path)
	time.AfterFunc(300*time.Millisecond, unlock)
	if ok, err := waiting.Claim(ctx, c); !ok || err != nil {
		t.Errorf("Claim while another process writes for 300 ms = %v, %v; want it to wait and claim", ok, err)
	}
}
