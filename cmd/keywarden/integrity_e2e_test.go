package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	dynamostate "github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/testenv"
)

// files is every file under dir, by path relative to dir, with its
// content and mode.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fi.Mode().String() + " " + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// refused runs keywarden with args and checks that it exits 1 with the
// unusable-state message for state, and changes no file under dir.
func refused(t *testing.T, env []string, dir, state string, want []string, args ...string) {
	t.Helper()
	before := files(t, dir)
	r := keywarden(t, env, dir, args...)
	if r.code != 1 {
		t.Errorf("keywarden %v on an unusable state: exit %d; want 1\n%s", args, r.code, r.stderr)
	}
	for _, w := range append([]string{"state file cannot be used: " + state}, want...) {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("keywarden %v: stderr does not say %q:\n%s", args, w, r.stderr)
		}
	}
	if diff := cmp.Diff(before, files(t, dir)); diff != "" {
		t.Errorf("keywarden %v changed files (-before +after):\n%.3000s", args, diff)
	}
}

// TestUnusableState: a zero-length state file, and one with a damaged
// page, stop run (with --apply), history and undo with exit 1 and a
// message that names the file and says what to do, before anything is
// changed, sent or recorded: the file stays as it was, nothing is created
// beside it, the key is not touched.
func TestUnusableState(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("alice", 85))
	dir, ids := enforceSetup(t, m, users, enforceConfig)
	alice := ids["alice"][0]
	env := m.Env()
	path := filepath.Join(dir, "state.db")
	restore := []string{"Restore it from a backup"}

	// Zero-length: it would be taken for a new state (history, notices
	// and the inactive-since days lost).
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := append([]string{"is empty (0 bytes)"}, restore...)
	refused(t, env, dir, path, empty, "run", "--apply")
	refused(t, env, dir, path, empty, "history")
	refused(t, env, dir, path, empty, "history", "--runs")
	refused(t, env, dir, path, empty, "undo", "run-1.1")
	if st := keyStatus(t, m, "alice"); st[alice] != "Active" {
		t.Errorf("alice's key after runs on an empty state: %v; want Active (untouched)", st)
	}
	if mails := outboxMail(t, dir, "@"); len(mails) != 0 {
		t.Errorf("%d messages written on an empty state; want none", len(mails))
	}

	// Without the file, a run creates it (0600) and acts.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if r := keywarden(t, env, dir, "run", "--apply"); r.code != 0 {
		t.Fatalf("run --apply on a new state: exit %d\n%s", r.code, r.stderr)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the new state file: %v, %v; want it created 0600", fi, err)
	}
	if st := keyStatus(t, m, "alice"); st[alice] != "Inactive" {
		t.Fatalf("alice's key after the run: %v; want Inactive", st)
	}
	if recs := history(t, env, dir); len(recs) != 1 {
		t.Fatalf("history = %+v; want alice's disable", recs)
	}

	// A damaged page: found when the state is opened, not when the run is
	// recorded.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 3*4096 {
		t.Fatalf("the state file has %d bytes; want at least three 4096-byte pages", len(b))
	}
	copy(b[4096:2*4096], bytes.Repeat([]byte{0xA5}, 4096)) // page 2
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := append([]string{"is damaged: PRAGMA quick_check"}, restore...)
	refused(t, env, dir, path, damaged, "run", "--apply")
	refused(t, env, dir, path, damaged, "history")
	refused(t, env, dir, path, damaged, "undo", "run-1.1")
	if st := keyStatus(t, m, "alice"); st[alice] != "Inactive" {
		t.Errorf("alice's key after undo on a damaged state: %v; want Inactive (untouched)", st)
	}
}

// TestHeadlineNamesTheState: the state fails to record the run (DynamoDB
// refuses the run's PutItem): the run exits 1, and its headline says the
// state did not record the run, not "0 of N notifications and 0 actions
// failed".
func TestHeadlineNamesTheState(t *testing.T) {
	m := testenv.Moto(t)
	dir, _ := enforceSetup(t, m, withFresh(keyUser("alice", 75)), enforceConfig)
	if err := dynamostate.CreateTable(context.Background(), ddb.NewFromConfig(m.Config(t)), "kw-state", time.Minute); err != nil {
		t.Fatal(err)
	}
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{
		Match: func(o testenv.Op) bool {
			return o.Name() == "dynamodb:PutItem" && bytes.Contains(o.Body, []byte(`"RUN#`))
		},
		Code: "AccessDeniedException", Message: "not authorized to perform dynamodb:PutItem",
	})
	r := keywarden(t, p.Env(m), dir, "run", "--state", "dynamodb://kw-state")
	if r.code != 1 {
		t.Fatalf("run with a failing state: exit %d; want 1\n%s", r.code, r.stderr)
	}
	want := "the state dynamodb://kw-state failed to record the run (1 error):"
	if !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "0 of") || !strings.Contains(r.stderr, "AccessDeniedException") {
		t.Errorf("stderr:\n%s\nwant the headline %q and the error, no \"0 of\"", r.stderr, want)
	}
	if mails := outboxMail(t, dir, "alice"); len(mails) != 1 {
		t.Errorf("alice got %d messages; want 1 (the notifications did not fail)", len(mails))
	}
}
