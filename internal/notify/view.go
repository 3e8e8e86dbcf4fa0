package notify

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	htmltemplate "html/template"
	"reflect"
	"strconv"
	"strings"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/report"
)

// SeverityCount is how many of a digest's findings have one severity.
type SeverityCount struct {
	Severity string
	Count    int
}

// digestView fills what the digest templates show beyond the plan's
// digest: the findings by urgency cut to the limit, what needs an admin,
// the counts, and whether anything was cut (the CSV is then attached).
func digestView(d *DigestData) {
	dg := &d.Digest
	d.Limit = cmp.Or(dg.MaxItems, config.DefaultDigestMaxItems)
	for _, it := range dg.Findings {
		if dl := it.Deadline(dg.Day); dl != "" && dl <= dg.Day {
			d.PastLimit++
		}
	}
	d.Deadline = plan.FirstDeadline(dg.Findings, dg.Day)
	if d.Deadline == dg.Day {
		// Past a limit now: name the nearest day still ahead, if any.
		d.Deadline = ""
		for _, it := range dg.Findings {
			if dl := it.Deadline(dg.Day); dl > dg.Day && (d.Deadline == "" || dl < d.Deadline) {
				d.Deadline = dl
			}
		}
	}
	d.Sections, d.MoreFindings = cutSections(plan.Sections(dg.Findings, dg.Day), d.Limit)
	for _, a := range dg.Accounts {
		if a.Error != "" || a.Status != report.StatusOK {
			d.FailedAccounts = append(d.FailedAccounts, a)
		}
	}
	for _, a := range dg.Actions {
		if a.Status == plan.ActionFailed {
			d.Failed = append(d.Failed, a)
		}
	}
	for _, sev := range []string{config.SeverityCritical, config.SeverityHigh, config.SeverityMedium, config.SeverityLow, config.SeverityInfo} {
		n := 0
		for _, it := range dg.Findings {
			if it.Severity == sev {
				n++
			}
		}
		if n > 0 {
			d.Severities = append(d.Severities, SeverityCount{Severity: sev, Count: n})
		}
	}
	d.NeedsYou = len(dg.Guards) + len(d.FailedAccounts) + len(d.Failed) + len(dg.Undeliverable) + len(dg.Relaxed)
	cut := d.MoreFindings > 0 || len(dg.Accounts) > d.Limit || len(d.Failed) > d.Limit || len(dg.Undeliverable) > d.Limit ||
		len(dg.AddressProblems) > d.Limit || len(dg.Relaxed) > d.Limit
	for _, g := range dg.ActionGroups() {
		cut = cut || len(g.Actions) > d.Limit
	}
	if cut {
		d.CSVName = "keywarden-digest-" + dg.Day + ".csv"
	}
}

// cutSections keeps the first n items of secs, in order, and counts the
// rest.
func cutSections(secs []plan.Section, n int) ([]plan.Section, int) {
	var out []plan.Section
	more := 0
	for _, s := range secs {
		switch {
		case n <= 0:
			more += len(s.Items)
		case len(s.Items) > n:
			more += len(s.Items) - n
			s.Items = s.Items[:n]
			n = 0
			out = append(out, s)
		default:
			n -= len(s.Items)
			out = append(out, s)
		}
	}
	return out, more
}

// top is the first n elements of a slice (all of it when shorter).
func top(n int, s any) any {
	v := reflect.ValueOf(s)
	if v.Kind() != reflect.Slice || v.Len() <= n {
		return s
	}
	return v.Slice(0, n).Interface()
}

// more is how many elements of a slice top(n, s) leaves out.
func more(n int, s any) int {
	v := reflect.ValueOf(s)
	if v.Kind() != reflect.Slice || v.Len() <= n {
		return 0
	}
	return v.Len() - n
}

// splitCommand splits a step of a fix into the text before an AWS CLI
// command, the command, and the text after it ("" when the step has no
// command). The command runs from "aws " to the end, or to " (" that
// starts a remark.
func splitCommand(step string) (before, command, after string) {
	i := strings.Index(step, "aws iam ")
	if i < 0 {
		return step, "", ""
	}
	before, rest := step[:i], step[i:]
	if j := strings.Index(rest, " ("); j >= 0 {
		return before, rest[:j], rest[j+1:]
	}
	return before, rest, ""
}

// stepHTML is a step of a fix with its command in <code>, each of the
// command's words kept on one line (a flag is never broken at its
// hyphens) while the command wraps between words. A word longer than
// nowrapMax (a long user name) may break, so it never runs past the
// edge of a narrow window.
func stepHTML(step string) htmltemplate.HTML {
	before, command, after := splitCommand(step)
	esc := htmltemplate.HTMLEscapeString
	if command == "" {
		return htmltemplate.HTML(esc(step))
	}
	var b strings.Builder
	b.WriteString(esc(before))
	b.WriteString(`<code style="font-family: ui-monospace, Menlo, Consolas, monospace; background: #f6f8fa; padding: 0 0.2em;">`)
	for i, w := range strings.Fields(command) {
		if i > 0 {
			b.WriteString(" ")
		}
		if len(w) > nowrapMax {
			b.WriteString(string(breakable(w)))
			continue
		}
		b.WriteString(`<span style="white-space: nowrap;">` + esc(w) + `</span>`)
	}
	b.WriteString("</code>")
	if after != "" {
		b.WriteString(" " + esc(after))
	}
	return htmltemplate.HTML(b.String())
}

// nowrapMax is the longest word of a command kept on one line.
const nowrapMax = 32

// stepText is a step of a fix for a plain-text mail: the command on a
// line of its own, indented by indent, so it can be copied whole.
func stepText(indent, step string) string {
	before, command, after := splitCommand(step)
	if command == "" {
		return step
	}
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(before), ":")) + ":\n" + indent + "  " + command
	if after != "" {
		s += "\n" + indent + "  " + after
	}
	return s
}

// breakable escapes s for HTML with a <wbr> after each @ . - _ so that a
// long user name or address wraps there, not past the edge.
func breakable(s string) htmltemplate.HTML {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(htmltemplate.HTMLEscapeString(string(r)))
		if strings.ContainsRune("@.-_", r) {
			b.WriteString("<wbr>")
		}
	}
	return htmltemplate.HTML(b.String())
}

// severityColor is the accent of a severity in the HTML mails.
func severityColor(sev string) string {
	switch sev {
	case config.SeverityCritical:
		return "#82071e"
	case config.SeverityHigh:
		return "#d1242f"
	case config.SeverityMedium:
		return "#bf8700"
	case config.SeverityLow:
		return "#0969da"
	case config.SeverityInfo:
		return "#59636e"
	}
	return "#1a7f37" // a change keywarden made
}

// csvHeader are the columns of the digest's CSV.
var csvHeader = []string{"kind", "severity", "account", "account_alias", "user", "credential", "key_id", "rule", "stage",
	"status", "deadline", "owner", "what", "reason"}

// DigestCSV is every entry of the digest as CSV, one row each: the
// findings (most urgent first), the actions, the accounts, the owners keywarden cannot
// mail and those with skipped addresses, and the users a tag relaxed. A
// cell that a spreadsheet would run as a formula (= + - @ first) is
// prefixed with '.
func DigestCSV(dg *plan.Digest) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	row := func(cells ...string) {
		for i, c := range cells {
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				cells[i] = "'" + c
			}
		}
		_ = w.Write(cells) // a bytes.Buffer does not fail
	}
	row(csvHeader...)
	for _, it := range plan.ByUrgency(dg.Findings, dg.Day) {
		row("finding", it.Severity, it.Account, it.AccountAlias, it.User, it.Credential, it.KeyID, it.Rule, strconv.Itoa(it.StageAt),
			string(it.Status), it.Deadline(dg.Day), strings.Join(it.Recipients, " "), it.Title+": "+it.Next, it.Reason)
	}
	for _, a := range dg.Actions {
		row("action", "", a.Account, a.AccountAlias, a.User, a.Credential, a.KeyID, a.Rule, strconv.Itoa(a.StageAt),
			a.Status, cmp.Or(a.On, a.ActOn, a.DeleteOn), "", a.Line(), a.Reason)
	}
	for _, a := range dg.Accounts {
		row("account", "", a.ID, a.Alias, "", "", "", "", "", a.Status, "", "",
			fmt.Sprintf("%d users, %d access keys, %d findings, %d exempt", a.Users, a.AccessKeys, a.Findings, a.Exempt), a.Error)
	}
	for _, u := range dg.Undeliverable {
		row("undeliverable", "", u.Account, "", u.User, "", "", "", "", "", "", "", fmt.Sprintf("%d findings", u.Findings), u.Reason)
	}
	for _, u := range dg.AddressProblems {
		row("address_problem", "", u.Account, "", u.User, "", "", "", "", "", "", "", fmt.Sprintf("%d findings", u.Findings), u.Reason)
	}
	for _, r := range dg.Relaxed {
		row("relaxed", "", r.Account, "", r.User, "", "", "", "", "", "", "", "", r.Reason)
	}
	w.Flush()
	return b.Bytes()
}

// userView fills what the owner templates show beyond the plan's message:
// its items by urgency, and the subject's news.
func userView(d *UserData) {
	d.Sections = plan.Sections(d.Items, d.Day)
	d.ChangedOn = plan.ChangedOn(d.Items)
	d.Deadline = plan.FirstDeadline(d.Items, d.Day)
	d.Now = d.Deadline != "" && d.Deadline <= d.Day
}
