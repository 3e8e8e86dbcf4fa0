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
	for _, width := range []int{80, 140} {
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

func TestTableDefaultWidth(t *testing.T) {
	if got, want := render(t, sampleReport(), FormatTable, Options{}), render(t, sampleReport(), FormatTable, Options{Width: 80}); got != want {
		t.Errorf("table with Width 0 differs from Width 80:\n%s\nwant:\n%s", got, want)
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
			if color && strings.Contains("\x1b[0m\x1b[1m\x1b[31m\x1b[1;31m\x1b[33m\x1b[36m\x1b[2m", s) {
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

func TestTableTruncation(t *testing.T) {
	long := "a-user-name-far-too-long-for-an-eighty-column-terminal"
	r := New(time.Time{}, time.Time{}, nil, []policy.Finding{{
		ID: "x", Account: "111111111111", User: long, Credential: policy.CredentialAccessKey, KeyID: "AKIAIOSFODNN7EXAMPLE",
		Slot: 2, Rule: config.RuleAccessKeyUnused, Action: config.ActionNotify, Severity: config.SeverityMedium, AgeDays: 50,
	}})
	wide := render(t, r, FormatTable, Options{Width: 200})
	if !strings.Contains(wide, long+"  key 2 AKIA…MPLE  access_key_unused  50d  notify  -\n") {
		t.Errorf("table at width 200 does not show the row whole:\n%s", wide)
	}
	narrow := render(t, r, FormatTable, Options{Width: 80})
	if strings.Contains(narrow, long) || !strings.Contains(narrow, "medium    a-user-name-far-to…  key 2 …MPLE") {
		t.Errorf("table at width 80 does not truncate the user name with …:\n%s", narrow)
	}
	if !strings.Contains(narrow, "access_key_unused") {
		t.Errorf("table at width 80 truncated the rule while the user name could give way:\n%s", narrow)
	}
}

func TestTableExemptAndSummary(t *testing.T) {
	out := render(t, sampleReport(), FormatTable, Options{Width: 140})
	if !regexp.MustCompile(`(?m)^critical  ci-legacy .* 400d  exempt\*  -$`).MatchString(out) {
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
// prefix, then the key ID, before anything is cut.
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
		{4, "key…"},
	}
	for _, tt := range tests {
		if got := fitCell(forms, tt.width); got != tt.want {
			t.Errorf("fitCell(%q, %d) = %q; want %q", forms, tt.width, got, tt.want)
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
