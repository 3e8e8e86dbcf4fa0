package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keywarden/keywarden/internal/state"
)

// TestMigrateFromVersion3: a file of schema version 3, with a run and an
// action a keywarden of that version recorded, is migrated to the current version:
// both read back unchanged, their forced --as-of empty (they acted on the
// wall clock), and new records keep theirs.
func TestMigrateFromVersion3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	// The file as a keywarden of schema version 3 left it.
	db, err := sql.Open("sqlite", dsn(path, false, 0))
	if err != nil {
		t.Fatal(err)
	}
	v3 := &Store{db: db, path: path}
	if err := v3.migrate(ctx, migrations[:3]); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO runs (id, mode, as_of, started_at, finished_at) VALUES ('run-1', 'apply', '` + fmtTime(t0) + `', '` + fmtTime(t0) + `', '` + fmtTime(t0) + `')`,
		`INSERT INTO actions (id, run, account, user_name, credential, key_id, kind, status, target, at, seq)
		 VALUES ('run-1.1', 'run-1', '123456789012', 'alice', 'access_key', 'AKIA1', 'disable', 'done', '123456789012/alice/AKIA1', '` + fmtTime(t0) + `', 1)`,
	} {
		if _, err := v3.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := v3.Version(ctx); v != 3 {
		t.Fatalf("the old file has schema version %d; want 3", v)
	}
	v3.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open(version 3) error: %v", err)
	}
	defer s.Close()
	if v, _ := s.Version(ctx); v != SchemaVersion {
		t.Errorf("Version() after migration = %d; want %d", v, SchemaVersion)
	}
	runs, err := s.Runs(ctx, 0)
	if err != nil || len(runs) != 1 || runs[0].ID != "run-1" || !runs[0].AsOf.Equal(t0) || !runs[0].ForcedAsOf.IsZero() {
		t.Errorf("Runs() after migration = %+v, %v; want run-1, no forced as-of", runs, err)
	}
	acts, err := s.Actions(ctx, state.ActionFilter{})
	if err != nil || len(acts) != 1 || acts[0].ID != "run-1.1" || acts[0].Status != state.ActionDone || !acts[0].ForcedAsOf.IsZero() {
		t.Errorf("Actions() after migration = %+v, %v; want run-1.1 done, no forced as-of", acts, err)
	}
	forced := state.Run{ID: "run-2", Mode: "apply", AsOf: t0.AddDate(0, 0, 55), StartedAt: t0.Add(time.Hour), ForcedAsOf: t0.AddDate(0, 0, 55)}
	if err := s.RecordRun(ctx, forced); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.Runs(ctx, 1); len(runs) != 1 || cmp.Diff(forced, runs[0], cmpopts.EquateApproxTime(0)) != "" {
		t.Errorf("Runs(1) = %+v; want %+v", runs, forced)
	}
}

// TestMigrateFromVersion4: an action a keywarden of schema version 4
// planned (it knew nothing of audiences) is finished after the migration
// like any other, and owes no one a notice: there is no one recorded to
// owe it to.
func TestMigrateFromVersion4(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	s := openPlannedAt(t, 4, t0)
	defer s.Close()
	if err := s.FinishAction(ctx, "run-1.1", state.Outcome{Status: state.ActionDone, At: t0}); err != nil {
		t.Fatalf("FinishAction(a version-4 action) error: %v", err)
	}
	if ns, err := s.Notices(ctx, nil); err != nil || len(ns) != 0 {
		t.Errorf("Notices() after finishing a version-4 action = %+v, %v; want none", ns, err)
	}
	if acts, err := s.Actions(ctx, state.ActionFilter{}); err != nil || len(acts) != 1 || acts[0].Audiences != nil {
		t.Errorf("Actions() = %+v, %v; want run-1.1 without audiences", acts, err)
	}
}

// TestMigrateFromVersion5: a rotation-less action of schema version 5
// reads back after the migration without rotation fields, and a rotation
// recorded after it keeps its new key and target.
func TestMigrateFromVersion5(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	s := openPlannedAt(t, 5, t0)
	defer s.Close()
	if acts, err := s.Actions(ctx, state.ActionFilter{}); err != nil || len(acts) != 1 || acts[0].NewKeyID != "" || acts[0].SecretTarget != "" || acts[0].RotationOf != "" {
		t.Errorf("Actions() after migration = %+v, %v; want run-1.1 without rotation fields", acts, err)
	}
	if err := s.FinishAction(ctx, "run-1.1", state.Outcome{Status: state.ActionDone, At: t0}); err != nil {
		t.Fatal(err)
	}
	rot := state.Action{ID: "run-2.1", Run: "run-2", Account: "123456789012", User: "alice", Credential: "access_key", KeyID: "AKIA2",
		Kind: state.KindRotate, Status: state.ActionPlanned, SecretTarget: "keywarden/alice", At: t0.Add(time.Hour)}
	if err := s.RecordAction(ctx, rot); err != nil {
		t.Fatal(err)
	}
	if err := s.ProgressAction(ctx, rot.ID, "AKIA3"); err != nil {
		t.Fatalf("ProgressAction after migration error: %v", err)
	}
	if acts, err := s.Actions(ctx, state.ActionFilter{IDs: []string{rot.ID}}); err != nil || len(acts) != 1 || acts[0].NewKeyID != "AKIA3" || acts[0].SecretTarget != "keywarden/alice" {
		t.Errorf("Actions(rotation) = %+v, %v; want new key AKIA3 to keywarden/alice", acts, err)
	}
}

// openPlannedAt opens, migrated, a file of schema version v in which a
// keywarden of that version planned a disable (run-1.1) at t0.
func openPlannedAt(t *testing.T, v int, t0 time.Time) *Store {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", dsn(path, false, 0))
	if err != nil {
		t.Fatal(err)
	}
	old := &Store{db: db, path: path}
	if err := old.migrate(ctx, migrations[:v]); err != nil {
		t.Fatal(err)
	}
	if _, err := old.db.ExecContext(ctx, `INSERT INTO actions (id, run, account, user_name, credential, key_id, kind, status, target, at, seq)
		VALUES ('run-1.1', 'run-1', '123456789012', 'alice', 'access_key', 'AKIA1', 'disable', 'planned', '123456789012/alice/AKIA1', ?, 1)`,
		fmtTime(t0)); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open(version %d) error: %v", v, err)
	}
	return s
}
