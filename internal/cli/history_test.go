package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/sqlite"
)

// historyState writes a state file with three actions and returns its URL.
func historyState(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for _, a := range []state.Action{
		{ID: "r1.1", Run: "r1", Account: "123456789012", User: "alice", Credential: "access_key", KeyID: "AKIA1", Kind: "disable",
			Rule: "access_key_age", Stage: 80, Status: state.ActionDone, Reason: "disabled: the key reached its 80-day disable stage",
			Before: "Active", After: "Inactive", At: t0},
		{ID: "r1.2", Run: "r1", Account: "123456789012", User: "bob\x1b[31m", Credential: "access_key", KeyID: "AKIA2", Kind: "delete",
			Status: state.ActionSkipped, Reason: "inactive since 2026-11-20", At: t0.Add(time.Minute)},
		{ID: "r2.1", Run: "r2", Account: "210987654321", User: "carol", Credential: "password", Kind: "remove_password",
			Status: state.ActionFailed, Reason: "AccessDenied", At: t0.Add(48 * time.Hour)},
	} {
		if err := s.RecordAction(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []state.Run{
		{ID: "r1", Mode: "apply", AsOf: t0, StartedAt: t0, FinishedAt: t0.Add(time.Minute), Accounts: 1, Findings: 2, Sent: 1},
		{ID: "r2", Mode: "apply", AsOf: t0.Add(48 * time.Hour), StartedAt: t0.Add(48 * time.Hour), FinishedAt: t0.Add(49 * time.Hour),
			Accounts: 2, Findings: 1, Failed: 1, Error: "account 210987654321: remove_password carol: AccessDenied: not authorized to perform iam:DeleteLoginProfile"},
	} {
		if err := s.RecordRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return "sqlite://" + path
}

func TestHistoryJSON(t *testing.T) {
	url := historyState(t)
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"all, most recent first", nil, []string{"r2.1", "r1.2", "r1.1"}},
		{"status", []string{"--status", "done"}, []string{"r1.1"}},
		{"account", []string{"--account", "210987654321"}, []string{"r2.1"}},
		{"user and key", []string{"--user", "alice", "--key-id", "AKIA1"}, []string{"r1.1"}},
		{"run", []string{"--run", "r1"}, []string{"r1.2", "r1.1"}},
		{"since", []string{"--since", "2026-11-21"}, []string{"r2.1"}},
		{"limit", []string{"--limit", "1"}, []string{"r2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := testFactory(false)
			if code := Main(context.Background(), f, append([]string{"history", "--state", url, "--format", "json"}, tt.flags...)); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var recs []map[string]any
			if err := json.Unmarshal(out.Bytes(), &recs); err != nil {
				t.Fatalf("output is not a JSON list: %v\n%s", err, out)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r["id"].(string))
				for _, k := range []string{"id", "account", "user", "key_id", "action", "status", "reason", "at"} {
					if _, ok := r[k]; !ok {
						t.Errorf("record %v lacks %q", r["id"], k)
					}
				}
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("history %v ids (-want +got):\n%s", tt.flags, diff)
			}
		})
	}
}

// TestHistoryShowsForcedAsOf: a run forced to act at its --as-of, and its
// actions, say so in the tables and the JSON.
func TestHistoryShowsForcedAsOf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	forced := t0.AddDate(0, 0, 55)
	if err := s.RecordRun(context.Background(), state.Run{ID: "r1", Mode: "apply", AsOf: forced, StartedAt: t0, ForcedAsOf: forced}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAction(context.Background(), state.Action{ID: "r1.1", Run: "r1", Account: "123456789012", User: "alice",
		Credential: "access_key", KeyID: "AKIA1", Kind: "disable", Status: state.ActionDone, Reason: "disabled", At: t0,
		ForcedAsOf: forced}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	url := "sqlite://" + path
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--runs"}, "2027-01-14T09:00:00Z (forced)"},
		{nil, "[acted at the forced as-of 2027-01-14T09:00:00Z] disabled"},
		{[]string{"--runs", "--format", "json"}, `"forced_as_of": "2027-01-14T09:00:00Z"`},
		{[]string{"--format", "json"}, `"forced_as_of": "2027-01-14T09:00:00Z"`},
	} {
		f, out, errOut := testFactory(true)
		if code := Main(context.Background(), f, append([]string{"history", "--state", url}, tt.args...)); code != 0 || !strings.Contains(out.String(), tt.want) {
			t.Errorf("history %v: exit %d %s\n%s\nwant %q", tt.args, code, errOut, out, tt.want)
		}
	}
}

func TestHistoryTableAndEmpty(t *testing.T) {
	url := historyState(t)
	f, out, _ := testFactory(true)
	if code := Main(context.Background(), f, []string{"history", "--state", url}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"r1.1", "disable", "done", "Active→Inactive", "disabled: the key reached its 80-day disable stage", "password"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Error("table passes a terminal escape from a user name through")
	}
	// A state file that does not exist reads as empty, is said to be
	// missing, and is not created.
	path := filepath.Join(t.TempDir(), "none.db")
	missing := "sqlite://" + path
	f, out, errOut := testFactory(false)
	if code := Main(context.Background(), f, []string{"history", "--state", missing, "--format", "json"}); code != 0 || strings.TrimSpace(out.String()) != "[]" ||
		!strings.HasPrefix(errOut.String(), "state: "+missing+" is missing: "+path+" does not exist") {
		t.Errorf("history of a missing state: exit %d, stdout %q, stderr %q; want 0, [] and that the state is missing", code, out, errOut)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("history created the missing state %s (stat: %v)", path, err)
	}
}

func TestHistoryUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--status", "maybe"}, `--status "maybe": want planned, done, skipped or failed`},
		{[]string{"--since", "yesterday"}, `--since "yesterday": want RFC 3339`},
		{[]string{"--notices", "--runs"}, "--notices and --runs: pick one"},
		{[]string{"--format", "csv"}, `--format "csv": want table or json`},
		{[]string{"--state", "redis://x"}, `--state "redis://x": want sqlite://PATH or dynamodb://TABLE`},
		{[]string{"--state", "dynamodb://"}, `--state "dynamodb://": "" is not a DynamoDB table name`},
		{[]string{"--state", "sqlite://"}, `--state "sqlite://": sqlite:// needs a file path`},
	} {
		f, _, errOut := testFactory(false)
		if code := Main(context.Background(), f, append([]string{"history"}, tt.args...)); code != ExitUsage || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("history %v: exit %d, %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestUndoNeedsIDs(t *testing.T) {
	f, _, errOut := testFactory(false)
	if code := Main(context.Background(), f, []string{"undo"}); code != ExitUsage {
		t.Errorf("undo without IDs: exit %d (%s); want 2", code, errOut)
	}
	f, _, errOut = testFactory(false)
	if code := Main(context.Background(), f, []string{"undo", "r.1", "--state", "dynamodb://x"}); code != ExitUsage ||
		!strings.Contains(errOut.String(), `--state "dynamodb://x": "x" is not a DynamoDB table name`) {
		t.Errorf("undo --state dynamodb://x: exit %d (%s); want 2 and the table name refused", code, errOut)
	}
}

// TestHistoryTableWidths: history's tables at 80 and 200 columns (a
// terminal; $COLUMNS says the width) and piped (no width: one whole line
// per record). No line is wider than the terminal and nothing is cut.
func TestHistoryTableWidths(t *testing.T) {
	url := historyState(t)
	for _, tt := range []struct {
		name    string
		args    []string
		tty     bool
		columns string
	}{
		{"actions80", nil, true, "80"},
		{"actions200", nil, true, "200"},
		{"actions-pipe", nil, false, ""},
		{"runs80", []string{"--runs"}, true, "80"},
		{"runs-pipe", []string{"--runs"}, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := columnsFactory(tt.tty, tt.columns)
			args := append([]string{"history", "--state", url, "--format", "table"}, tt.args...)
			if code := Main(context.Background(), f, args); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Assert(t, out.String(), filepath.Join("testdata", "history."+tt.name+".golden"))
			width, _ := strconv.Atoi(tt.columns)
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			for _, l := range lines {
				if n := utf8.RuneCountInString(l); width > 0 && n > width {
					t.Errorf("line is %d runes, wider than %d: %q", n, width, l)
				}
			}
			if strings.Contains(out.String(), "…") {
				t.Errorf("table truncates:\n%s", out)
			}
			if width == 0 && tt.args == nil && len(lines) != 4 {
				t.Errorf("piped table is %d lines; want the header and one per action:\n%s", len(lines), out)
			}
		})
	}
}
