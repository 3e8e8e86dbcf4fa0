package report

import (
	"cmp"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/keywarden/keywarden/internal/policy"
)

// renderMarkdown writes a GitHub-flavoured Markdown report for a ticket or a
// chat message: a heading, a summary line, an accounts table and a findings
// table ("No findings." when there are none). Every cell that can hold
// user-controlled text goes through mdCell.
func renderMarkdown(w io.Writer, r *Report, _ Options) error {
	ew := &errWriter{w: w}
	ew.printf("# keywarden report\n\n")
	ew.printf("As of %s (generated %s).\n\n", jsonTime(r.AsOf).Format(time.RFC3339), jsonTime(r.GeneratedAt).Format(time.RFC3339))

	accounts := plural(len(r.Accounts), "account", "accounts")
	if failed := len(failedAccounts(r)); failed > 0 {
		accounts += fmt.Sprintf(" (%d failed)", failed)
	}
	ew.printf("**%s · %s**\n\n", accounts, summaryLine(r))

	if len(r.Accounts) > 0 {
		ew.printf("## Accounts\n\n")
		ew.printf("| Account | Alias | Status | Users | Keys | API calls | Error |\n")
		ew.printf("| --- | --- | --- | ---: | ---: | ---: | --- |\n")
		for _, a := range r.Accounts {
			calls := strconv.Itoa(a.APICalls)
			if a.SSHKeyCalls > 0 {
				calls += fmt.Sprintf(" (%d for SSH keys)", a.SSHKeyCalls)
			}
			ew.printf("| %s | %s | %s | %d | %d | %s | %s |\n",
				mdCell(a.ID), mdCell(a.Alias), mdCell(a.Status), a.Users, a.AccessKeys, calls, mdCell(a.Error))
		}
		ew.printf("\n")
	}

	mdCompliance(ew, complianceOf(r))

	ew.printf("## Findings\n\n")
	if len(r.Findings) == 0 {
		ew.printf("No findings.\n")
		return ew.err
	}
	aliases := accountAliases(r)
	ew.printf("| Severity | Account | User | Credential | Rule | Controls | Age (days) | Action | Next stage | Reason |\n")
	ew.printf("| --- | --- | --- | --- | --- | --- | ---: | --- | --- | --- |\n")
	for i := range r.Findings {
		f := &r.Findings[i]
		account := f.Account
		if alias := findingAlias(f, aliases); alias != "" {
			account += " (" + alias + ")"
		}
		action, reason := f.Action, f.Reason
		if f.Exempt {
			action = "exempt"
			reason += " (exempt: " + f.ExemptReason + ")"
		}
		if marks := tagMarks(f); len(marks) > 0 {
			reason += " (" + strings.Join(marks, "; ") + ")"
		}
		ew.printf("| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |\n",
			mdCell(f.Severity), mdCell(account), mdCell(f.User), mdCell(mdCredential(f)),
			mdCell(f.Rule), mdCell(cmp.Or(controlsText(f), "-")), f.AgeDays, mdCell(action), mdCell(nextStage(f)), mdCell(reason))
	}
	return ew.err
}

// mdCompliance writes the per-control section: a count line, then each
// control's ID, status (a word: it reads without color), the findings
// that fail it, their accounts, the exempt ones and its title.
func mdCompliance(ew *errWriter, cs []ControlStatus) {
	if len(cs) == 0 {
		return
	}
	p, f, n := ControlCounts(cs)
	ew.printf("## Compliance\n\nCIS AWS Foundations Benchmark v3.0.0: **%d passed, %d failed**", p, f)
	if n > 0 {
		ew.printf(", %d not checked", n)
	}
	ew.printf(".\n\n")
	ew.printf("| Control | Status | Failing findings | Accounts | Exempt | Title |\n")
	ew.printf("| --- | --- | ---: | ---: | ---: | --- |\n")
	for _, c := range cs {
		status, title := c.Status, c.Title
		switch c.Status {
		case ControlFailed:
			status = "**FAILED**"
		case ControlNotChecked:
			status = "NOT CHECKED"
			title += " (not checked: " + c.Why + ")"
		}
		ew.printf("| %s | %s | %d | %d | %d | %s |\n", mdCell(c.ID), status, c.Findings, c.Accounts, c.Exempt, mdCell(title))
	}
	ew.printf("\n")
}

// mdCredential is credentialLabel with the whole credential ID: a ticket
// has room, and the reader may search for it.
func mdCredential(f *policy.Finding) string {
	return withKeyID(credentialKind(f), f.KeyID)
}

// nextStage is the finding's next stage date, or "-" when there is none.
func nextStage(f *policy.Finding) string {
	if f.NextStageOn == nil {
		return "-"
	}
	return f.NextStageOn.String()
}

// mdCell escapes text for a Markdown table cell. Line breaks become spaces;
// | [ ] ` and \ are backslash-escaped (so a cell can neither end the cell
// nor start code or a link); < > & become entities (no raw HTML, no
// autolinks); other control characters become U+FFFD as in cleanText.
// Emphasis characters (* _ ~) are left alone: at worst they change the
// look of the text, and escaping them would garble user names in plain
// text views.
//
// GitHub-flavoured Markdown also links bare URLs (https://…), www. names
// and e-mail addresses by itself, and GitHub makes @name a mention that
// notifies that person or team: a user named @security-team would page
// them from a ticket. So every @, every :// and every www. (any case)
// gets a zero-width space, written &#8203;, after its trigger: the cell
// reads the same and is neither a link nor a mention.
func mdCell(s string) string {
	return mdInert(mdEscape(s))
}

// wwwRE finds www. in any case.
var wwwRE = regexp.MustCompile(`(?i)www\.`)

// mdInert breaks the triggers of GFM's autolinks and of GitHub mentions
// in escaped Markdown text (see mdCell).
func mdInert(s string) string {
	if !strings.ContainsAny(s, "@:wW") {
		return s
	}
	s = strings.NewReplacer("@", "@&#8203;", "://", ":&#8203;//").Replace(s)
	return wwwRE.ReplaceAllStringFunc(s, func(m string) string { return m[:3] + "&#8203;." })
}

// mdEscape is mdCell's escaping of Markdown syntax and control characters.
func mdEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, c := range cleanNewlines(s) {
		switch c {
		case '\\', '|', '`', '[', ']':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			if isUnsafeRune(c) {
				c = unicode.ReplacementChar
			}
			b.WriteRune(c)
		}
	}
	return b.String()
}

// cleanNewlines turns CR LF, LF and CR into single spaces.
func cleanNewlines(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// errWriter keeps the first write error so a renderer can check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}

func (e *errWriter) write(s string) {
	if e.err != nil {
		return
	}
	_, e.err = io.WriteString(e.w, s)
}
