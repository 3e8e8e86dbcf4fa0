package report

import (
	"regexp"
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
		{"[click](http://evil.example)", `\[click\](http:&#8203;//evil.example)`},
		{"eve\x1b[31m", "eve\uFFFD\\[31m"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
	}
	for _, tt := range tests {
		if got := mdCell(tt.in); got != tt.want {
			t.Errorf("mdCell(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestMDCellNeutralisesLinksAndMentions: GitHub-flavoured Markdown turns
// bare URLs, www. names and e-mail addresses into links, and GitHub turns
// @name into a mention that notifies that person or team. In untrusted
// text each gets a zero-width space (as the entity &#8203;, so the raw
// file shows it) after its trigger: it reads the same and is neither.
func TestMDCellNeutralisesLinksAndMentions(t *testing.T) {
	tests := []struct{ in, want string }{
		{"@security-team", "@&#8203;security-team"},
		{"ping @acme/admins now", "ping @&#8203;acme/admins now"},
		{"alice@example.com", "alice@&#8203;example.com"},
		{"mailto:bob@corp.example", "mailto:bob@&#8203;corp.example"},
		{"https://evil.example/x", "https:&#8203;//evil.example/x"},
		{"HTTP://EVIL.EXAMPLE", "HTTP:&#8203;//EVIL.EXAMPLE"},
		{"ftp://evil.example", "ftp:&#8203;//evil.example"},
		{"www.evil.example", "www&#8203;.evil.example"},
		{"see WwW.Evil.Example/login", "see WwW&#8203;.Evil.Example/login"},
		{"(www.evil.example)", "(www&#8203;.evil.example)"},
		{"a @ b", "a @&#8203; b"},
		{"rotate it", "rotate it"},
	}
	for _, tt := range tests {
		if got := mdCell(tt.in); got != tt.want {
			t.Errorf("mdCell(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// liveInMarkdown matches what GitHub-flavoured Markdown would link or
// GitHub would treat as a mention: @ before a name character, a scheme's
// ://, www. (any case).
var liveInMarkdown = regexp.MustCompile(`@[\p{L}\p{N}_-]|://|(?i)www\.`)

// TestMarkdownHostileNamesAreInert: in the whole hostile report, nothing
// that came from IAM, tags or exemptions is a link or a mention.
func TestMarkdownHostileNamesAreInert(t *testing.T) {
	out := render(t, hostileReport(), FormatMarkdown, Options{})
	for i, line := range strings.Split(out, "\n") {
		if m := liveInMarkdown.FindString(line); m != "" {
			t.Errorf("line %d holds %q, live in Markdown: %s", i+1, m, line)
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
	// Compliance: 6 columns (7 pipes), header + rule + 11 controls.
	// Findings: 10 columns (11 pipes), header + rule + 8 rows.
	want := map[int]int{8: 4, 7: 13, 11: 10}
	if len(tableRows) != len(want) || tableRows[8] != want[8] || tableRows[7] != want[7] || tableRows[11] != want[11] {
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
