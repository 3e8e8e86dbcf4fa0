package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
	if v, err := s.Version(context.Background()); err != nil || v != sqlite.SchemaVersion || v != 5 {
		t.Errorf("Version() = %d, %v; want %d", v, err, 5)
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
		!strings.Contains(err.Error(), "schema version 1 is older than this keywarden's (5); run keywarden once without --dry-run") {
		t.Errorf("Open(read-only, version 1) error = %v; want the migrate advice", err)
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open(version 1) error: %v", err)
	}
	defer s.Close()
	if v, _ := s.Version(context.Background()); v != 5 {
		t.Errorf("Version() after migration = %d; want 5", v)
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
	if err == nil || !strings.Contains(err.Error(), "schema version 9 is newer than this keywarden understands (5)") {
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
