package report

import (
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

func TestMDCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"a|b", `a\|b`},
		{"`code`", "\\`code\\`"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"a & b", "a &amp; b"},
		{"line\nbreak\r\nand\rmore", "line break and more"},
		{`back\slash|`, `back\\slash\|`},
		{"[click](http://evil.example)", `\[click\](http://evil.example)`},
		{"eve\x1b[31m", "eve\uFFFD\\[31m"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
	}
	for _, tt := range tests {
		if got := mdCell(tt.in); got != tt.want {
			t.Errorf("mdCell(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// unescapedPipes counts the | that are not escaped with a backslash.
func unescapedPipes(line string) int {
	n := 0
	escaped := false
	for _, c := range line {
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '|':
			n++
		}
	}
	return n
}

// TestMarkdownTableShape: hostile values cannot add a cell, end a row or
// smuggle HTML: every table row has its column count of unescaped pipes,
// and no raw < or > or ESC reaches the output.
func TestMarkdownTableShape(t *testing.T) {
	r := sampleReport()
	r.Accounts[0].Alias = "prod|main\nnew line"
	r.Findings[0].Reason = "reason with | pipe and \n newline and `tick`"
	r.Findings[1].ExemptReason = "a|b"
	r.Findings[1].Exempt = true
	out := render(t, r, FormatMarkdown, Options{})

	if strings.ContainsAny(out, "<>\x1b") {
		t.Errorf("Markdown report contains a raw <, > or ESC:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	tableRows := map[int]int{} // pipes per row -> count
	for _, l := range lines {
		if strings.HasPrefix(l, "|") {
			tableRows[unescapedPipes(l)]++
		}
	}
	// Accounts: 7 columns (8 pipes), header + rule + 2 rows.
	// Findings: 9 columns (10 pipes), header + rule + 8 rows.
	want := map[int]int{8: 4, 10: 10}
	if len(tableRows) != len(want) || tableRows[8] != want[8] || tableRows[10] != want[10] {
		t.Errorf("Markdown table rows by pipe count = %v; want %v\n%s", tableRows, want, out)
	}
}

func TestMarkdownNoFindings(t *testing.T) {
	out := render(t, emptyReport(), FormatMarkdown, Options{})
	if !strings.Contains(out, "\nNo findings.\n") {
		t.Errorf("Markdown report of no findings lacks \"No findings.\":\n%s", out)
	}
	if strings.Contains(out, "| Severity |") {
		t.Errorf("Markdown report of no findings has a findings table:\n%s", out)
	}
}

func TestMarkdownExempt(t *testing.T) {
	r := New(time.Time{}, time.Time{}, nil, []policy.Finding{{ID: "x", User: "bob", Rule: config.RuleMFAMissing,
		Action: config.ActionNotify, Exempt: true, ExemptReason: "break-glass user", Reason: "no MFA"}})
	out := render(t, r, FormatMarkdown, Options{})
	if want := "| exempt | - | no MFA (exempt: break-glass user) |"; !strings.Contains(out, want) {
		t.Errorf("Markdown exempt row lacks %q:\n%s", want, out)
	}
	if want := "**0 accounts · 0 findings, 1 exempt**"; !strings.Contains(out, want) {
		t.Errorf("Markdown summary lacks %q:\n%s", want, out)
	}
}
