package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

func TestRunFlagsParse(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *RunOptions
	cmd := NewCmdRun(f, func(_ context.Context, o *RunOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--config", "k.yaml", "--format", "json", "-o", "run.json", "--as-of", "2026-12-01",
		"--credential-report", "cr.csv", "--account", "111111111111", "--fail-on", "high", "--region", "eu-west-1",
		"--profile", "audit", "--state", "sqlite:///var/lib/kw.db", "--dry-run"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := &RunOptions{ScanOptions: ScanOptions{Source: Source{ConfigFile: "k.yaml", AsOf: "2026-12-01", CredentialReport: "cr.csv",
		Accounts: []string{"111111111111"}, Region: "eu-west-1", Profile: "audit"}, Format: "json", Output: "run.json", FailOn: "high"},
		State: "sqlite:///var/lib/kw.db", DryRun: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed options = %+v; want %+v", got, want)
	}
}

// runDir writes a config whose outbox and state live in a temporary
// directory, and returns the directory and the config's path.
func runDir(t *testing.T, extra string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := "version: 1\nnotify:\n  outbox: { dir: " + filepath.Join(dir, "outbox") + " }\n" + extra +
		"state: { url: sqlite://" + filepath.Join(dir, "state.db") + " }\n"
	path := filepath.Join(dir, "keywarden.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestRunOffline(t *testing.T) {
	dir, cfg := runDir(t, "")
	report := writeReportFile(t)
	args := []string{"run", "--config", cfg, "--credential-report", report, "--as-of", "2026-11-23"}

	// --dry-run on a terminal: the plan as text; nothing written. A wide
	// one, so lines are whole (TestRunTextWraps: a narrow one).
	f, out, errOut := testFactory(true)
	f.TerminalWidth = func(io.Writer) int { return 300 }
	if code := Main(context.Background(), f, append(args, "--dry-run")); code != 0 {
		t.Fatalf("run --dry-run exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"keywarden run · dry run: nothing was sent, changed or recorded",
		"Owner messages (0):",
		"Admin digest:\n  would send outbox via outbox: [keywarden] 2026-11-23 (dry run): 1 finding, 1 new or due in 1 account",
		"Actions (1):\n  Listed only, not made (1): an offline credential report has no account to act in: nothing is changed\n" +
			"    - disable access key 1 (no key ID: an offline credential report has none) of alice in 123456789012 (access_key_age, 90-day stage)\n",
		"Owners keywarden cannot mail (1; the admins are told):\n  123456789012 · alice: no address",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a dry run wrote to %s: %d entries; want only the config", dir, len(entries))
	}

	// A real run: the digest in the outbox, the state recorded.
	f, out, errOut = testFactory(false)
	if code := Main(context.Background(), f, args); code != 0 {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	var res run.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("run output is not JSON: %v\n%s", err, out)
	}
	if res.Schema != run.RunSchema || res.Mode != "notify" || res.Sent != 1 || len(res.Plan.Actions) != 1 {
		t.Errorf("run: schema %s, mode %s, %d sent, %d actions; want keywarden.run/v1, notify, 1, 1", res.Schema, res.Mode, res.Sent, len(res.Plan.Actions))
	}
	eml, _ := filepath.Glob(filepath.Join(dir, "outbox", "*_digest_admins_*.eml"))
	if len(eml) != 1 {
		t.Fatalf("outbox digests = %v; want one", eml)
	}
	b, _ := os.ReadFile(eml[0])
	if m := testenv.ParseMail(t, string(b)); !strings.Contains(m.Text, "- disable access key 1 (no key ID: an offline credential report has none) of alice in 123456789012") {
		t.Errorf("outbox digest text:\n%s", m.Text)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); err != nil {
		t.Errorf("state not written: %v", err)
	}
}

func TestRunUsageErrors(t *testing.T) {
	_, cfg := runDir(t, "")
	report := writeReportFile(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"apply offline", []string{"--apply"}, "--apply changes live accounts; it cannot be used with --credential-report (an offline report has no account to act in)"},
		{"report format", []string{"--format", "csv"}, `--format "csv": keywarden run writes table or json`},
		{"bad state", []string{"--state", "redis://x"}, `--state "redis://x": want sqlite://PATH`},
		{"bad table", []string{"--state", "dynamodb://"}, `--state "dynamodb://": "" is not a DynamoDB table name`},
		{"bad fail-on", []string{"--fail-on", "severe"}, `--fail-on "severe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, errOut := testFactory(false)
			args := append([]string{"run", "--config", cfg, "--credential-report", report}, tt.args...)
			if code := Main(context.Background(), f, args); code != ExitUsage || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("Main(%v) = %d, %q; want exit 2 and %q", tt.args, code, errOut, tt.want)
			}
		})
	}
}

func TestRunHelpShowsModes(t *testing.T) {
	f, out, _ := testFactory(false)
	if code := Main(context.Background(), f, []string{"run", "--help"}); code != 0 {
		t.Fatalf("run --help exit %d", code)
	}
	for _, want := range []string{"keywarden run --dry-run", "keywarden run --apply", "keywarden run --apply --dry-run\n                           the apply preview",
		"--state", "enforce.allowed_accounts",
		"5  a guard (max_actions_per_run, max_fraction, the clock check) stopped every\n     change in an account",
		"--force-as-of", "acts on the wall"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
}

// TestConfigCheckTemplates: config check reads and renders the templates a
// config names; a broken or unreadable one fails, naming the config line,
// the template and its line.
func TestConfigCheckTemplates(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("ok.txt", "{{range .Items}}{{.KeyID}}\n{{end}}")
	write("broken.html", "<ul>\n{{range .Items}}\n<li>{{.Title}</li>\n{{end}}</ul>\n")
	write("exec.txt", "Hello {{.To}}\n{{.NoSuchField}}\n")
	tests := []struct {
		name      string
		templates string
		code      int
		want      []string
	}{
		{"good", "{ user_text: ok.txt }", 0, []string{"ok"}},
		{"unreadable", "{ user_text: ok.txt,\n    user_html: missing.html }", ExitUsage,
			[]string{"k.yaml:5: notify.templates.user_html: read template: open " + filepath.Join(dir, "missing.html")}},
		{"syntax", "{ user_html: broken.html }", ExitUsage,
			[]string{"k.yaml:4: notify.templates.user_html: template: broken.html:3: bad character U+007D '}'"}},
		{"execution", "{ user_text: exec.txt }", ExitUsage,
			[]string{`k.yaml:4: notify.templates.user_text: template: exec.txt:2:2: executing "exec.txt" at <.NoSuchField>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := write("k.yaml", "version: 1\nnotify:\n  from: sec@example.com\n  templates: "+tt.templates+"\n")
			f, out, errOut := testFactory(false)
			code := Main(context.Background(), f, []string{"config", "check", cfg})
			if code != tt.code {
				t.Errorf("config check = %d; want %d (stderr %s)", code, tt.code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut.String()+out.String(), strings.Replace(w, "k.yaml", cfg, 1)) {
					t.Errorf("config check output lacks %q:\nstdout: %s\nstderr: %s", strings.Replace(w, "k.yaml", cfg, 1), out, errOut)
				}
			}
			if tt.code == 0 {
				return
			}
			// keywarden run stops on it too, before scanning, with the same
			// message (exit 2).
			f, _, errOut = testFactory(false)
			code = Main(context.Background(), f, []string{"run", "--config", cfg, "--dry-run", "--credential-report", "no-such-report.csv"})
			for _, w := range tt.want {
				if code != ExitUsage || !strings.Contains(errOut.String(), strings.Replace(w, "k.yaml", cfg, 1)) || strings.Contains(errOut.String(), "no-such-report") {
					t.Errorf("run with a broken template: exit %d\n%s\nwant exit 2, %q, and no scan", code, errOut, w)
				}
			}
		})
	}
}

// TestRunTextPairsDeliveriesWithTheirMessages: each owner delivery is
// printed with the recipient and findings of the message it delivered,
// whatever order the deliveries are in.
func TestRunTextPairsDeliveriesWithTheirMessages(t *testing.T) {
	item := func(user string) plan.Item {
		return plan.Item{Finding: policy.Finding{Account: "123456789012", User: user, Rule: "access_key_age"}, Title: "access key 1", Status: state.StatusNew}
	}
	p := &plan.Plan{Messages: []plan.Message{{To: "alice@example.com", Items: []plan.Item{item("alice")}},
		{To: "bob@example.com", Items: []plan.Item{item("bob")}}}}
	res := &run.Result{Mode: plan.ModeNotify, Plan: p, Report: &report.Report{}, Deliveries: []run.Delivery{
		{Kind: notify.KindUser, Channel: "ses", To: []string{"bob@example.com"}, Subject: "for bob", Status: run.DeliveryFailed,
			Error: "MessageRejected", Message: &p.Messages[1]},
		{Kind: notify.KindUser, Channel: "ses", To: []string{"alice@example.com"}, Subject: "for alice", Status: run.DeliverySent, Message: &p.Messages[0]},
	}}
	var b strings.Builder
	if err := writeRunText(&b, res, 0); err != nil {
		t.Fatal(err)
	}
	want := "Owner messages (2):\n" +
		"  FAILED     bob@example.com via ses: for bob\n" +
		"    - 123456789012 · bob · access key 1 · access_key_age (new)\n" +
		"    error: MessageRejected\n" +
		"  sent       alice@example.com via ses: for alice\n" +
		"    - 123456789012 · alice · access key 1 · access_key_age (new)\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("run text:\n%s\nwant it to contain:\n%s", b.String(), want)
	}
}

// TestRunTextSaysWhatHappened: the run's text lists each action under
// what happened to it, the guard first, each owner's item with the
// status of the action on it, and the users a tag relaxed.
func TestRunTextSaysWhatHappened(t *testing.T) {
	guard := "account 123456789012: 3 actions planned, more than enforce.max_actions_per_run (2)"
	it := plan.Item{Finding: policy.Finding{Account: "123456789012", User: "alice", Rule: "access_key_age"}, Title: "access key AKIA1 (key 1)",
		Status: state.StatusNew, ActionStatus: plan.ActionBlocked}
	p := &plan.Plan{Messages: []plan.Message{{To: "alice@example.com", Items: []plan.Item{it}}},
		Guards: []plan.Guard{{Account: "123456789012", Reason: guard}},
		Actions: []plan.Action{
			{Kind: "disable", Status: plan.ActionBlocked, Reason: guard, Account: "123456789012", User: "alice", Title: "access key AKIA1 (key 1)",
				Rule: "access_key_age", StageAt: 80, ID: "r.1"},
			{Kind: "disable", Status: plan.ActionDone, Done: "disable", On: "2026-11-23", Account: "210987654321", User: "bob",
				Title: "access key AKIA2 (key 1)", Rule: "access_key_age", StageAt: 80, ID: "r.2", Reason: "disabled: the key reached its 80-day disable stage"},
		},
		Relaxed: []plan.Relaxed{{Account: "123456789012", User: "bot", Reason: "class machine from tag UserType=machine: its access keys are never disabled"}},
	}
	res := &run.Result{Mode: plan.ModeApply, Plan: p, Report: &report.Report{}, Deliveries: []run.Delivery{
		{Kind: notify.KindUser, Channel: "outbox", To: []string{"alice@example.com"}, Subject: "s", Status: run.DeliverySent, Message: &p.Messages[0]}}}
	var b strings.Builder
	if err := writeRunText(&b, res, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    - 123456789012 · alice · access key AKIA1 (key 1) · access_key_age (new) · action blocked\n",
		"Actions (2):\n  GUARD: " + guard + "\n" +
			"  Done (1): disabled: the key reached its 80-day disable stage\n" +
			"    - disabled access key AKIA2 (key 1) of bob in 210987654321 on 2026-11-23 (access_key_age, 80-day stage) [r.2]\n" +
			"  Stopped by a guard, not made (1): " + guard + "\n" +
			"    - disable access key AKIA1 (key 1) of alice in 123456789012 (access_key_age, 80-day stage) [r.1]\n",
		"Relaxed by a tag (1; users who can tag themselves can escape enforcement this way; the admins are told):\n" +
			"  123456789012 · bot: class machine from tag UserType=machine: its access keys are never disabled\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("run text:\n%s\nwant it to contain:\n%s", b.String(), want)
		}
	}
}

// TestRunTextWraps: on a terminal the run's text wraps long lines at
// spaces, continuation lines indented under their line, and loses no word;
// with no width (a file, a pipe) each line is whole.
func TestRunTextWraps(t *testing.T) {
	reason := "the tag Email holds \"carol at example\", which is not an email address; set it to the owner's address"
	p := &plan.Plan{Undeliverable: []plan.Undeliverable{{Account: "123456789012", User: "carol.nguyen@subsidiary.example.com", Reason: reason}}}
	res := &run.Result{Mode: plan.ModeNotify, Plan: p, Report: &report.Report{}}
	var whole, wrapped strings.Builder
	if err := writeRunText(&whole, res, 0); err != nil {
		t.Fatal(err)
	}
	if err := writeRunText(&wrapped, res, 60); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(whole.String(), "  123456789012 · carol.nguyen@subsidiary.example.com: "+reason+"\n") {
		t.Errorf("unwrapped text lacks the whole line:\n%s", whole.String())
	}
	for _, l := range strings.Split(wrapped.String(), "\n") {
		if n := utf8.RuneCountInString(l); n > 60 {
			t.Errorf("line of %d runes at width 60: %q", n, l)
		}
	}
	if !strings.Contains(wrapped.String(), "\n  123456789012 · carol.nguyen@subsidiary.example.com: the\n    tag Email") {
		t.Errorf("the wrapped line does not continue indented under its line:\n%s", wrapped.String())
	}
	if got, want := strings.Fields(wrapped.String()), strings.Fields(whole.String()); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("wrapping changed the words:\n%s\nwant the words of:\n%s", wrapped.String(), whole.String())
	}
}
