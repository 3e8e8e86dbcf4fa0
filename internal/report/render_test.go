package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/policy"
)

// Hostile user names: user-controlled strings must not drive a terminal,
// break a Markdown table or run as a spreadsheet formula.
const (
	userHTMLPipe = "<script>alert(1)</script>|=cmd"
	userANSI     = "eve\x1b[31m"
	userFormula  = "=1+2"
)

func intp(n int) *int { return &n }

func datep(s string) *config.Date {
	d, err := config.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return &d
}

// sampleReport is the fixed report every golden file renders: two accounts
// (one failed), a finding for every rule, two keys of one user, an exempt
// key and hostile user names.
func sampleReport() *Report {
	generated := time.Date(2026, 11, 23, 8, 5, 0, 0, time.UTC)
	asOf := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	accounts := []Account{
		{
			ID: "222222222222", Alias: "staging", Status: StatusError, APICalls: 1,
			Error: "assume role arn:aws:iam::222222222222:role/KeywardenAudit: operation error STS: AssumeRole, " +
				"https response error StatusCode: 403, RequestID: 0f1e2d3c, api error AccessDenied: User: " +
				"arn:aws:iam::111111111111:user/keywarden is not authorized to perform: sts:AssumeRole",
		},
		{ID: "111111111111", Alias: "prod-main", Status: StatusOK, Users: 120, AccessKeys: 150, APICalls: 7},
	}
	created := time.Date(2026, 8, 24, 10, 0, 0, 0, time.UTC)
	findings := []policy.Finding{
		{
			ID: "3f9c1a7be2d04c11", Account: "111111111111", AccountAlias: "prod-main", User: "alice", Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAIOSFODNN7EXAMPLE", Slot: 1,
			Rule: config.RuleAccessKeyAge, AgeDays: 91, StageAt: 90, Action: config.ActionDelete, Severity: config.SeverityHigh,
			Recipients: []string{"alice@example.com"}, Reason: "access key 1 is 91 days old (delete at 90)",
			KeyCreatedAt: created,
			Controls:     []string{"CIS 1.14"},
		},
		{
			ID: "8b2e4d6f10a3c5e7", Account: "111111111111", AccountAlias: "prod-main", User: "alice", Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAI44QH8DHBEXAMPLE", Slot: 2,
			Rule: config.RuleAccessKeyUnused, AgeDays: 50, StageAt: 45, Action: config.ActionNotify, Severity: config.SeverityMedium,
			Recipients: []string{"alice@example.com"}, Reason: "access key 2 not used for 50 days (limit 45)",
			Controls: []string{"CIS 1.12"},
		},
		{
			ID: "c0ffee0012345678", Account: "111111111111", User: "build-bot", Class: "machine", ClassFromTag: "UserType=machine",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAJ7Q2EXAMPLEBUILD", Slot: 1,
			Rule: config.RuleAccessKeyAge, AgeDays: 85, StageAt: 80, Action: config.ActionNotify, Severity: config.SeverityHigh,
			NextStageOn: datep("2026-11-28"), Reason: "access key 1 is 85 days old (next stage at 90 days)",
			Controls: []string{"CIS 1.14"},
		},
		{
			ID: "d15ab1ed00c1e9ac", Account: "111111111111", User: "ci-legacy", Class: "machine", ClassFromTag: "UserType=machine",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAZZLEGACY00000001", Slot: 1,
			Rule: config.RuleAccessKeyAge, AgeDays: 400, StageAt: 90, Action: config.ActionNotify, Severity: config.SeverityCritical,
			Exempt: true, ExemptReason: "vendor rotates on 2027-01-31", ExemptFromTag: "keywarden:exempt=true", Reason: "access key 1 is 400 days old (limit 90)",
			Controls: []string{"CIS 1.14"},
		},
		{
			ID: "e7e7e7e7a1b2c3d4", Account: "111111111111", User: userHTMLPipe, Class: "human",
			Credential: policy.CredentialPassword, Rule: config.RulePasswordExpiry, AgeDays: 93, DaysLeft: intp(-3),
			Action: config.ActionNotify, Severity: config.SeverityHigh, Recipients: []string{"ops@example.com", "sec@example.com"},
			Reason:   "console password expired 3 days ago (max age 90)",
			Controls: []string{},
		},
		{
			ID: "0a0b0c0d0e0f1011", Account: "111111111111", User: userANSI, Class: "human",
			Credential: policy.CredentialMFA, Rule: config.RuleMFAMissing,
			Action: config.ActionNotify, Severity: config.SeverityHigh, Reason: "console password without MFA",
			Controls: []string{"CIS 1.10"},
		},
		{
			ID: "1234abcd5678ef90", Account: "111111111111", User: userFormula, Class: "human",
			Credential: policy.CredentialPassword, Rule: config.RulePasswordUnused, AgeDays: 120, StageAt: 90,
			Action: config.ActionNotify, Severity: config.SeverityLow, Reason: "console password not used for 120 days (limit 90)",
			Controls: []string{"CIS 1.12"},
		},
		{
			ID: "9999aaaabbbbcccc", Account: "111111111111", User: "<root_account>", Class: "root",
			Credential: policy.CredentialRoot, Slot: 1, Rule: config.RuleRootAccessKey, AgeDays: 700,
			Action: config.ActionNotify, Severity: config.SeverityCritical, Reason: "root has an active access key (key 1, 700 days old)",
			Controls: []string{"CIS 1.4"},
		},
	}
	r := New(generated, asOf, accounts, findings)
	r.Inventory = sampleInventory()
	return r
}

// upcomingAt is a stage change of access key 1 of a user of account
// 111111111111 under access_key_age, at the RFC 3339 time at (its day is
// On).
func upcomingAt(at string, e forecast.Event) forecast.Event {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err)
	}
	e.At, e.On = t, config.Date{Time: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
	e.Account, e.AccountAlias = "111111111111", "prod-main"
	e.Credential, e.Slot, e.Rule = policy.CredentialAccessKey, 1, config.RuleAccessKeyAge
	return e
}

// sampleUpcoming are sampleReport's stage changes in its 30 days:
// build-bot's next stage, a key that starts to break a rule and reaches
// the next stage within the window (dana), an exemption that ends
// (contractor) and a stage reached while exempt (vendor, not counted).
func sampleUpcoming() []forecast.Event {
	return []forecast.Event{
		upcomingAt("2026-11-26T09:00:00Z", forecast.Event{Change: forecast.ChangeNew, FindingID: "da7a000000000001", User: "dana", Class: "human",
			StageAt: 70, Action: config.ActionNotify, Severity: config.SeverityMedium, Reason: "access key 1 is 70 days old (next stage at 80 days)"}),
		upcomingAt("2026-11-28T10:00:00Z", forecast.Event{Change: forecast.ChangeStage, FindingID: "c0ffee0012345678", User: "build-bot", Class: "machine",
			KeyID: "AKIAJ7Q2EXAMPLEBUILD", StageAt: 90, Action: config.ActionNotify, Severity: config.SeverityCritical, Reason: "access key 1 is 90 days old (limit 90)"}),
		upcomingAt("2026-11-30T00:00:00Z", forecast.Event{Change: forecast.ChangeStage, FindingID: "7e7d000000000001", User: "vendor", Class: "human",
			StageAt: 90, Action: config.ActionDelete, Severity: config.SeverityHigh, Exempt: true, Reason: "access key 1 is 90 days old (limit 90)"}),
		upcomingAt("2026-12-02T00:00:00Z", forecast.Event{Change: forecast.ChangeExemptionEnds, FindingID: "c0c0000000000001", User: "contractor", Class: "human",
			StageAt: 80, Action: config.ActionDisable, Severity: config.SeverityHigh, Reason: "access key 1 is 84 days old (next stage at 90 days)"}),
		upcomingAt("2026-12-06T09:00:00Z", forecast.Event{Change: forecast.ChangeStage, FindingID: "da7a000000000001", User: "dana", Class: "human",
			StageAt: 80, Action: config.ActionDisable, Severity: config.SeverityHigh, Reason: "access key 1 is 80 days old (next stage at 90 days)"}),
	}
}

// sampleInventory is the key-age inventory of sampleReport: the default
// stages and active keys of every age band, one far past the last stage,
// and the stage changes of the coming 30 days.
func sampleInventory() *Inventory {
	return &Inventory{
		Upcoming: sampleUpcoming(),
		ActiveKeyAges: []KeyAgeCount{
			{Class: "human", AgeDays: 3, Keys: 40}, {Class: "human", AgeDays: 25, Keys: 31}, {Class: "human", AgeDays: 50, Keys: 22},
			{Class: "human", AgeDays: 72, Keys: 9}, {Class: "human", AgeDays: 91, Keys: 1}, {Class: "machine", AgeDays: 12, Keys: 18},
			{Class: "machine", AgeDays: 85, Keys: 1}, {Class: "machine", AgeDays: 400, Keys: 1},
		},
		InactiveKeys: 4,
		KeyAgeStages: config.Default().Rules.AccessKeyAge,
	}
}

// hostileReport holds names, tags and reasons written to be live in a
// ticket or a spreadsheet: @mentions, bare addresses and URLs (which
// GitHub-flavoured Markdown links by itself), control characters (a
// terminal hyperlink, a carriage return that overwrites what came before,
// NUL, a bidi override) and a formula.
func hostileReport() *Report {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	accounts := []Account{{ID: "111111111111", Alias: "@acme/security-team", Status: StatusOK, Users: 6, APICalls: 7}}
	f := func(id, user, reason string) policy.Finding {
		return policy.Finding{ID: id, Account: "111111111111", AccountAlias: "@acme/security-team", User: user, Class: "human",
			Credential: policy.CredentialMFA, Rule: config.RuleMFAMissing, Action: config.ActionNotify, Severity: config.SeverityHigh,
			Reason: reason}
	}
	findings := []policy.Finding{
		f("0000000000000001", "@here", "console password without MFA; ask @security-team"),
		f("0000000000000002", "alice@example.com", "mail alice@corp.example or mailto:bob@corp.example"),
		f("0000000000000003", "www.evil.example", "see WWW.Evil.Example/login and https://evil.example/x?a=1 or HTTP://EVIL.EXAMPLE"),
		f("0000000000000004", "bob\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", "ftp://evil.example/file"),
		f("0000000000000005", "mallory\rroot", "nul\x00 tab\t cr\r bidi\u202egnp.exe del\x7f c1\u0085 end"),
		f("0000000000000006", "=HYPERLINK(\"https://evil.example\")", "line one\nline two"),
	}
	findings[0].Exempt, findings[0].ExemptReason = true, "approved by @ciso, see https://wiki.example/x"
	return New(at, at, accounts, findings)
}

func emptyReport() *Report {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	return New(at, at, []Account{{ID: "111111111111", Status: StatusOK, Users: 3, APICalls: 6}}, nil)
}

// render renders r or fails the test.
func render(t testing.TB, r *Report, format string, o Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, r, format, o); err != nil {
		t.Fatalf("Render(%s) = %v; want nil", format, err)
	}
	return b.String()
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		file   string
		report *Report
		format string
		opts   Options
	}{
		{"sample.json.golden", sampleReport(), FormatJSON, Options{}},
		{"sample.csv.golden", sampleReport(), FormatCSV, Options{}},
		{"sample.md.golden", sampleReport(), FormatMarkdown, Options{}},
		{"sample.table80.golden", sampleReport(), FormatTable, Options{Width: 80}},
		{"sample.table200.golden", sampleReport(), FormatTable, Options{Width: 200}},
		{"sample.table-pipe.golden", sampleReport(), FormatTable, Options{}},
		{"long.table80.golden", longNamesReport(), FormatTable, Options{Width: 80}},
		{"long.table200.golden", longNamesReport(), FormatTable, Options{Width: 200}},
		{"long.table-pipe.golden", longNamesReport(), FormatTable, Options{}},
		{"long.table50.golden", longNamesReport(), FormatTable, Options{Width: 50}},
		{"sample.table80-color.golden", sampleReport(), FormatTable, Options{Width: 80, Color: true}},
		{"empty.json.golden", emptyReport(), FormatJSON, Options{}},
		{"empty.csv.golden", emptyReport(), FormatCSV, Options{}},
		{"empty.md.golden", emptyReport(), FormatMarkdown, Options{}},
		{"empty.table.golden", emptyReport(), FormatTable, Options{}},
		{"sample.html.golden", sampleReport(), FormatHTML, Options{}},
		{"empty.html.golden", emptyReport(), FormatHTML, Options{}},
		{"sample.asff.golden", sampleReport(), FormatASFF, Options{Region: "eu-west-1"}},
		{"hostile.md.golden", hostileReport(), FormatMarkdown, Options{}},
		{"hostile.csv.golden", hostileReport(), FormatCSV, Options{}},
		{"empty.asff.golden", emptyReport(), FormatASFF, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			golden.Assert(t, render(t, tt.report, tt.format, tt.opts), filepath.Join("testdata", tt.file))
		})
	}
}

func TestFormats(t *testing.T) {
	want := []string{"table", "json", "csv", "markdown", "html", "asff"}
	if got := Formats(); !cmp.Equal(got, want) {
		t.Errorf("Formats() = %q; want %q", got, want)
	}
	for _, f := range Formats() {
		if err := Render(&bytes.Buffer{}, sampleReport(), f, Options{}); err != nil {
			t.Errorf("Render(%s) = %v; want nil for every listed format", f, err)
		}
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	var b bytes.Buffer
	err := Render(&b, sampleReport(), "xml", Options{})
	want := `unknown report format "xml": want one of table, json, csv, markdown, html, asff`
	if err == nil || err.Error() != want {
		t.Errorf("Render(xml) = %v; want %s", err, want)
	}
	if b.Len() != 0 {
		t.Errorf("Render(xml) wrote %q; want nothing", b.String())
	}
}

func TestRenderNilReport(t *testing.T) {
	if err := Render(&bytes.Buffer{}, nil, FormatJSON, Options{}); err == nil {
		t.Error("Render(nil report) = nil; want an error")
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestRenderWriteError(t *testing.T) {
	broken := errors.New("disk full")
	for _, f := range Formats() {
		t.Run(f, func(t *testing.T) {
			err := Render(failingWriter{broken}, sampleReport(), f, Options{})
			if !errors.Is(err, broken) {
				t.Fatalf("Render(%s) to a failing writer = %v; want it to wrap %v", f, err, broken)
			}
			if want := "write " + f + " report: "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Render(%s) error = %q; want prefix %q", f, err, want)
			}
		})
	}
}

// bigReport has n findings over two accounts, for benchmarks and the table
// width check.
func bigReport(n int) *Report {
	base := sampleReport()
	fs := make([]policy.Finding, 0, n)
	for i := range n {
		f := base.Findings[i%len(base.Findings)]
		f.ID = fmt.Sprintf("%016x", i)
		f.User = fmt.Sprintf("%s-%d", f.User, i)
		f.Account = []string{"111111111111", "333333333333"}[i%2]
		fs = append(fs, f)
	}
	return New(base.GeneratedAt, base.AsOf, append(base.Accounts,
		Account{ID: "333333333333", Alias: "a-very-long-account-alias-that-a-team-chose-years-ago", Status: StatusOK, Users: 2500, AccessKeys: 3100, APICalls: 12}), fs)
}

func BenchmarkRender(b *testing.B) {
	r := bigReport(5000)
	for _, f := range Formats() {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Render(io.Discard, r, f, Options{Width: 120}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTagMarksInEveryFormat: a finding whose class or exemption a tag
// decided says so, with the tag, in every format — the tag's value
// cleaned like any text from IAM.
func TestTagMarksInEveryFormat(t *testing.T) {
	mark := func(f policy.Finding) policy.Finding {
		f.Account, f.Credential, f.Rule, f.Action, f.Severity = "111111111111", policy.CredentialAccessKey, config.RuleAccessKeyAge, config.ActionNotify, config.SeverityHigh
		return f
	}
	r := New(time.Time{}, time.Time{}, []Account{{ID: "111111111111", Status: StatusOK}}, []policy.Finding{
		mark(policy.Finding{ID: "a", User: "self-tagged", Class: "machine", ClassFromTag: "UserType=machine"}),
		mark(policy.Finding{ID: "b", User: "exempted", Class: "human", Exempt: true, ExemptReason: "managed elsewhere",
			ExemptFromTag: "keywarden:exempt=true"}),
		mark(policy.Finding{ID: "c", User: "hostile", Class: "team", ClassFromTag: "Team=<b>x</b>|\x1b[2J"}),
		mark(policy.Finding{ID: "d", User: "plain", Class: "human"}),
	})
	table := render(t, r, FormatTable, Options{Width: 120})
	for _, want := range []string{
		"high      exempted     key         access_key_age   0d  exempt*  -     -\n",
		"high      self-tagged  key         access_key_age   0d  notify*  -     -\n",
		"high      plain        key         access_key_age   0d  notify   -     -\n",
		"* decided by a tag, which users may be able to set on themselves:\n" +
			"  exempted: exempt from tag keywarden:exempt=true\n" +
			"  hostile: class team from tag Team=<b>x</b>|\uFFFD[2J\n" +
			"  self-tagged: class machine from tag UserType=machine\n",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "\x1b") {
		t.Errorf("table carries the tag's escape sequence:\n%q", table)
	}

	rows := readCSV(t, render(t, r, FormatCSV, Options{}))
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	got := map[string][2]string{}
	for _, row := range rows[1:] {
		got[row[col["user"]]] = [2]string{row[col["class_from_tag"]], row[col["exempt_from_tag"]]}
	}
	if diff := cmp.Diff(map[string][2]string{
		"self-tagged": {"UserType=machine", ""}, "exempted": {"", "keywarden:exempt=true"},
		"hostile": {"Team=<b>x</b>|[2J", ""}, "plain": {"", ""}, // control characters dropped, as in every CSV cell
	}, got); diff != "" {
		t.Errorf("CSV tag columns (-want +got):\n%s", diff)
	}

	md := render(t, r, FormatMarkdown, Options{})
	for _, want := range []string{
		"(class machine from tag UserType=machine) |",
		"(exempt: managed elsewhere) (exempt from tag keywarden:exempt=true) |",
		"(class team from tag Team=&lt;b&gt;x&lt;/b&gt;\\|\uFFFD\\[2J) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}

	page := render(t, r, FormatHTML, Options{})
	for _, want := range []string{
		`<span class="tagmark" title="decided by a tag, which users may be able to set on themselves">class machine from tag UserType=machine</span>`,
		`(exempt: managed elsewhere)<span class="tagmark" title="decided by a tag, which users may be able to set on themselves">exempt from tag keywarden:exempt=true</span>`,
		`>class team from tag Team=&lt;b&gt;x&lt;/b&gt;|` + "\uFFFD" + `[2J</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if n := strings.Count(page, `<span class="tagmark"`); n != 3 {
		t.Errorf("HTML has %d tag marks; want 3 (none for the finding no tag decided)", n)
	}

	asff := ASFFFindings(r, "us-east-1")
	fields := map[string][2]string{}
	for _, f := range asff {
		fields[f.ProductFields["keywarden/user"]] = [2]string{f.ProductFields["keywarden/class_from_tag"], f.ProductFields["keywarden/exempt_from_tag"]}
	}
	if fields["self-tagged"][0] != "UserType=machine" || fields["exempted"][1] != "keywarden:exempt=true" || fields["plain"] != [2]string{} {
		t.Errorf("ASFF product fields = %v; want the tags of self-tagged and exempted only", fields)
	}
}
