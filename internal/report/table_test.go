package report

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

var ansiSGR = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestTableFitsWidth: no line is wider than Options.Width (colors not
// counted), even with a 30-rune user name, a long alias and a long error.
func TestTableFitsWidth(t *testing.T) {
	big := bigReport(200)
	big.Findings[3].User = strings.Repeat("very-long-user-name-", 6)
	for _, width := range []int{40, 50, 80, 140, 200} {
		for _, color := range []bool{false, true} {
			for name, r := range map[string]*Report{"sample": sampleReport(), "big": big} {
				out := render(t, r, FormatTable, Options{Width: width, Color: color})
				for i, line := range strings.Split(out, "\n") {
					if n := utf8.RuneCountInString(ansiSGR.ReplaceAllString(line, "")); n > width {
						t.Errorf("%s report, width %d, color %v: line %d is %d runes: %q", name, width, color, i+1, n, line)
					}
				}
			}
		}
	}
}

// TestTablePipeIsWhole: with no width (a file, a pipe) every row is one
// line, whatever its length, and nothing is cut.
func TestTablePipeIsWhole(t *testing.T) {
	r := longNamesReport()
	out := render(t, r, FormatTable, Options{})
	for _, f := range tableOrder(r) {
		if !regexp.MustCompile(`(?m)^` + f.Severity + ` +` + regexp.QuoteMeta(f.User) + `  .*` + regexp.QuoteMeta(f.Rule)).MatchString(out) {
			t.Errorf("piped table has no whole line for %s %s:\n%s", f.User, f.Rule, out)
		}
	}
	if strings.Contains(out, "left out") {
		t.Errorf("piped table leaves columns out:\n%s", out)
	}
}

// TestTableTerminalInjection: escape sequences, other control characters
// and bidi overrides in user-controlled text never reach the terminal.
func TestTableTerminalInjection(t *testing.T) {
	r := New(time.Time{}, time.Time{},
		[]Account{
			{ID: "111111111111", Alias: "prod\x1b]0;pwned\x07", Status: StatusOK},
			{ID: "222222222222", Status: StatusError, Error: "denied\x1b[2J\x1b[H\r\ncleared"},
		},
		[]policy.Finding{{
			ID: "x", Account: "111111111111", User: "eve\x1b[31m", Credential: policy.CredentialAccessKey,
			KeyID: "AKIA\x1b[8mHIDDEN0001", Slot: 1, Rule: "access_key_age\u202e", Action: "notify\x9b1m",
			Severity: config.SeverityHigh,
		}})
	for _, color := range []bool{false, true} {
		out := ansiSGR.ReplaceAllStringFunc(render(t, r, FormatTable, Options{Width: 140, Color: color}), func(s string) string {
			if color && strings.Contains("\x1b[0m\x1b[1m\x1b[31m\x1b[1;31m\x1b[32m\x1b[33m\x1b[36m\x1b[2m", s) {
				return "" // our own styles
			}
			return s
		})
		if i := strings.IndexFunc(out, func(c rune) bool { return c != '\n' && isUnsafeRune(c) }); i >= 0 {
			t.Errorf("table (color %v) contains control character %q at %d:\n%q", color, out[i:i+1], i, out)
		}
		for _, want := range []string{"eve\uFFFD[31m", "prod\uFFFD]0;pwned\uFFFD", "denied\uFFFD[2J\uFFFD[H\uFFFD\uFFFDcleared"} {
			if !strings.Contains(out, want) {
				t.Errorf("table (color %v) lacks the neutralised %q:\n%s", color, want, out)
			}
		}
	}
}

func TestTableColor(t *testing.T) {
	plain := render(t, sampleReport(), FormatTable, Options{Color: false})
	if strings.Contains(plain, "\x1b") {
		t.Errorf("table without Color contains ESC:\n%q", plain)
	}
	colored := render(t, sampleReport(), FormatTable, Options{Color: true})
	for _, want := range []string{"\x1b[1;31mcritical\x1b[0m", "\x1b[31mhigh\x1b[0m", "\x1b[33mmedium\x1b[0m", "\x1b[36mlow\x1b[0m"} {
		if !strings.Contains(colored, want) {
			t.Errorf("table with Color lacks %q", want)
		}
	}
	if got := ansiSGR.ReplaceAllString(colored, ""); got != plain {
		t.Errorf("table with Color, colors removed, differs from the plain table:\n%s\nwant:\n%s", got, plain)
	}
}

// TestTableNeverTruncates: at any width a name is whole — wrapped over
// the lines of its row in the USER column, never cut with "…".
func TestTableNeverTruncates(t *testing.T) {
	r := longNamesReport()
	for _, width := range []int{40, 60, 80, 120, 200} {
		out := render(t, r, FormatTable, Options{Width: width})
		got := columnCells(t, out, "USER", "CREDENTIAL")
		var want []string
		for _, f := range tableOrder(r) {
			want = append(want, f.User)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("width %d: USER column reads %q; want %q:\n%s", width, got, want, out)
		}
		if strings.Contains(ansiSGR.ReplaceAllString(out, ""), "…") && !strings.Contains(out, "AKIA…") && !strings.Contains(out, " …") {
			t.Errorf("width %d: table truncates:\n%s", width, out)
		}
	}
	wide := render(t, r, FormatTable, Options{Width: 200})
	if long := tableOrder(r)[0]; !strings.Contains(wide, long.User+"  key 1 AKIA…MPLE") {
		t.Errorf("table at width 200 does not show the row whole:\n%s", wide)
	}
}

// tableOrder is r's findings in the table's order.
func tableOrder(r *Report) []*policy.Finding {
	var fs []*policy.Finding
	for i := range r.Findings {
		fs = append(fs, &r.Findings[i])
	}
	sortForTable(fs)
	return fs
}

// columnCells reads one column of a table's rows: the text under header
// (up to the next header) on each line, a row's lines joined (a row starts
// where its first column is not blank).
func columnCells(t *testing.T, out, header, next string) []string {
	t.Helper()
	lines := strings.Split(out, "\n")
	var cells []string
	for i := 0; i < len(lines); i++ {
		from, to := strings.Index(lines[i], header), strings.Index(lines[i], next)
		if !strings.HasPrefix(lines[i], "SEVERITY") || from < 0 || to < 0 {
			continue
		}
		for i++; i < len(lines) && lines[i] != "" && lines[i][0] != '*'; i++ {
			l := []rune(lines[i] + strings.Repeat(" ", to))
			piece := strings.TrimSpace(string(l[from:to]))
			if lines[i][0] != ' ' {
				cells = append(cells, piece)
			} else if len(cells) > 0 {
				cells[len(cells)-1] += piece
			}
		}
	}
	return cells
}

// TestTableOrder: an account's rows run from the most severe to the least,
// the oldest first within a severity.
func TestTableOrder(t *testing.T) {
	out := render(t, sampleReport(), FormatTable, Options{})
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if m := regexp.MustCompile(`^(critical|high|medium|low) .* (\d+)d  `).FindStringSubmatch(l); m != nil {
			got = append(got, m[1]+" "+m[2])
		}
	}
	want := []string{"critical 700", "critical 400", "high 93", "high 91", "high 85", "high 0", "medium 50", "low 120"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("rows in order %q; want %q:\n%s", got, want, out)
	}
}

// TestTableDropsColumns: a terminal too narrow for every column, names
// wrapped, loses CIS, then NEXT, then ACTION, then AGE, and says so.
func TestTableDropsColumns(t *testing.T) {
	for _, tt := range []struct {
		width   int
		dropped string
	}{{200, ""}, {80, ""}, {70, "CIS"}, {60, "CIS, NEXT, ACTION"}, {50, "CIS, NEXT, ACTION, AGE"}, {40, "CIS, NEXT, ACTION, AGE"}} {
		out := render(t, longNamesReport(), FormatTable, Options{Width: tt.width})
		note := "(" + tt.dropped + " left out to fit"
		if tt.dropped == "" {
			if strings.Contains(out, "left out") {
				t.Errorf("width %d leaves out columns:\n%s", tt.width, out)
			}
			continue
		}
		if !strings.Contains(out, note) {
			t.Errorf("width %d: no %q:\n%s", tt.width, note, out)
		}
		for _, h := range strings.Split(tt.dropped, ", ") {
			if regexp.MustCompile(`(?m)^SEVERITY .*\b` + h + `\b`).MatchString(out) {
				t.Errorf("width %d: header still has %s:\n%s", tt.width, h, out)
			}
		}
	}
}

func TestTableExemptAndSummary(t *testing.T) {
	out := render(t, sampleReport(), FormatTable, Options{Width: 140})
	if !regexp.MustCompile(`(?m)^critical  ci-legacy .* 400d  exempt\*  -\s+1\.14$`).MatchString(out) {
		t.Errorf("table does not show the exempt key with action exempt:\n%s", out)
	}
	for _, want := range []string{
		"\n7 findings (1 critical, 4 high, 1 medium, 1 low), 1 exempt\n",
		"\n1 of 2 accounts failed: 222222222222\n",
		"Account 222222222222 (staging) · error · 0 users · 0 keys · 1 API call\n  error: assume role",
		"Account 111111111111 (prod-main) · ok · 120 users · 150 keys · 7 API calls\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCredentialLabel(t *testing.T) {
	tests := []struct {
		f    policy.Finding
		want string
	}{
		{policy.Finding{Credential: policy.CredentialAccessKey, Slot: 1, KeyID: "AKIAIOSFODNN7EXAMPLE"}, "key 1 AKIA…MPLE"},
		{policy.Finding{Credential: policy.CredentialAccessKey, Slot: 2}, "key 2"},
		{policy.Finding{Credential: policy.CredentialPassword}, "password"},
		{policy.Finding{Credential: policy.CredentialMFA}, "mfa"},
		{policy.Finding{Credential: policy.CredentialRoot, Slot: 1}, "root key 1"},
		{policy.Finding{Credential: policy.CredentialRoot}, "root key"},
	}
	for _, tt := range tests {
		if got := credentialLabel(&tt.f); got != tt.want {
			t.Errorf("credentialLabel(%s slot %d %q) = %q; want %q", tt.f.Credential, tt.f.Slot, tt.f.KeyID, got, tt.want)
		}
	}
}

// TestTableCredentialForms: a narrow credential column drops the key ID's
// prefix, then the key ID, before it wraps.
func TestTableCredentialForms(t *testing.T) {
	f := policy.Finding{Credential: policy.CredentialAccessKey, Slot: 1, KeyID: "AKIAIOSFODNN7EXAMPLE"}
	forms := tableRow(&f)[colCredential]
	tests := []struct {
		width int
		want  string
	}{
		{15, "key 1 AKIA…MPLE"},
		{14, "key 1 …MPLE"},
		{11, "key 1 …MPLE"},
		{10, "key 1"},
		{4, "key|1"},
	}
	for _, tt := range tests {
		if got := strings.Join(cellLines(tableColumns[colCredential], forms, tt.width), "|"); got != tt.want {
			t.Errorf("cellLines(%q, %d) = %q; want %q", forms, tt.width, got, tt.want)
		}
	}
}

func TestSummaryLine(t *testing.T) {
	tests := []struct {
		name string
		fs   []policy.Finding
		want string
	}{
		{"none", nil, "0 findings"},
		{"one", []policy.Finding{{Severity: config.SeverityLow}}, "1 finding (1 low)"},
		{"exempt only", []policy.Finding{{Severity: config.SeverityHigh, Exempt: true}}, "0 findings, 1 exempt"},
		{"order and unknown", []policy.Finding{
			{Severity: config.SeverityLow}, {Severity: config.SeverityCritical}, {Severity: "weird"},
			{Severity: config.SeverityCritical}, {Severity: config.SeverityMedium, Exempt: true},
		}, "4 findings (2 critical, 1 low, 1 other), 1 exempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summaryLine(&Report{Findings: tt.fs}); got != tt.want {
				t.Errorf("summaryLine() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestWrapText(t *testing.T) {
	got := wrapText("aaaa bbbb cccccccccccccccc dd", 10, 2)
	want := []string{"aaaa bbbb", "cccccccc", "cccccccc", "dd"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrapText() = %q; want %q", got, want)
	}
}

// longNamesReport has users named by long addresses, as in an account
// whose users are people's mail addresses.
func longNamesReport() *Report {
	f := func(user, rule, cred, sev string, age, slot int, key string) policy.Finding {
		return policy.Finding{ID: user + rule, Account: "123456789012", User: user, Credential: cred, Slot: slot, KeyID: key,
			Rule: rule, AgeDays: age, StageAt: 90, Action: config.ActionNotify, Severity: sev}
	}
	return New(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
		[]Account{{ID: "123456789012", Alias: "example-production", Status: StatusOK, Users: 78, AccessKeys: 60, APICalls: 9}},
		[]policy.Finding{
			f("maximilian.oberhausen-whitfield@subsidiary.example.com", config.RuleAccessKeyAge, policy.CredentialAccessKey, config.SeverityCritical, 412, 1, "AKIAIOSFODNN7EXAMPLE"),
			f("bob@example.com", config.RuleAccessKeyUnused, policy.CredentialAccessKey, config.SeverityHigh, 120, 2, "AKIAI44QH8DHBEXAMPLE"),
			f("svc_reporting_pipeline_eu-west-1_readonly", config.RulePasswordExpiry, policy.CredentialPassword, config.SeverityHigh, 95, 0, ""),
			f("carol.nguyen@example.com", config.RuleMFAMissing, policy.CredentialMFA, config.SeverityMedium, 12, 0, ""),
		})
}
