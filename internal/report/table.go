package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

// defaultWidth is the table width when Options.Width is 0.
const defaultWidth = 80

// gap separates table columns.
const gap = "  "

// tableColumn is one column of the findings table.
type tableColumn struct {
	header string
	// min is the narrowest the column may be truncated to; 0 means the
	// column is never truncated.
	min        int
	alignRight bool
}

var tableColumns = []tableColumn{
	{header: "SEVERITY"},
	{header: "USER", min: 6},
	{header: "CREDENTIAL", min: 10},
	{header: "RULE", min: 8},
	{header: "AGE", alignRight: true},
	{header: "ACTION", min: 6},
	{header: "NEXT"},
}

const (
	colSeverity = iota
	colUser
	colCredential
	colRule
	colAge
	colAction
	colNext
)

// renderTable writes the report for a person at a terminal: per account a
// short header and its findings, then a summary line. Columns are sized to
// their content and, when the table is wider than Options.Width, the
// widest text columns are truncated with "…" until it fits. Every
// user-controlled string goes through cleanText, so a name cannot carry
// escape sequences to the terminal. Widths are counted in runes.
func renderTable(w io.Writer, r *Report, o Options) error {
	width := o.Width
	if width <= 0 {
		width = defaultWidth
	}
	t := &tableWriter{ew: errWriter{w: w}, width: width, color: o.Color}

	ids, byAccount := groupFindings(r)
	rows := make(map[string][]tableCells, len(byAccount))
	var all []tableCells
	for _, id := range ids {
		for _, f := range byAccount[id] {
			row := tableRow(f)
			rows[id] = append(rows[id], row)
			all = append(all, row)
		}
	}
	widths := fitColumns(all, width)

	t.line(fmt.Sprintf("As of %s", jsonTime(r.AsOf).Format(time.RFC3339)), "")
	accounts := make(map[string]*Account, len(r.Accounts))
	for i := range r.Accounts {
		accounts[r.Accounts[i].ID] = &r.Accounts[i]
	}
	for _, id := range ids {
		t.blank()
		t.accountHeader(id, accounts[id])
		if len(rows[id]) == 0 {
			if a := accounts[id]; a == nil || a.Status != StatusError {
				t.line("  no findings", "")
			}
			continue
		}
		t.rows(widths, byAccount[id], rows[id])
		t.tagNotes(byAccount[id])
	}
	t.blank()
	t.line(summaryLine(r), "")
	if failed := failedAccounts(r); len(failed) > 0 {
		t.wrap(fmt.Sprintf("%d of %s failed: %s", len(failed),
			plural(len(r.Accounts), "account", "accounts"), cleanText(strings.Join(failed, ", "))), "", ansiRed)
	}
	return t.ew.err
}

// groupFindings groups findings by account: accounts in report order, then
// any account that only findings name, in order of appearance.
func groupFindings(r *Report) ([]string, map[string][]*policy.Finding) {
	var ids []string
	by := make(map[string][]*policy.Finding, len(r.Accounts))
	seen := make(map[string]bool, len(r.Accounts))
	for _, a := range r.Accounts {
		if !seen[a.ID] {
			seen[a.ID] = true
			ids = append(ids, a.ID)
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if !seen[f.Account] {
			seen[f.Account] = true
			ids = append(ids, f.Account)
		}
		by[f.Account] = append(by[f.Account], f)
	}
	return ids, by
}

// tableCells are a finding's cells, cleaned and untruncated. Each cell is
// one or more forms, longest first: a narrow column takes the first form
// that fits before any is truncated.
type tableCells [][]string

// tableRow is a finding's cells. The credential cell has three forms:
// "key 1 AKIA…MPLE", "key 1 …MPLE" and "key 1".
func tableRow(f *policy.Finding) tableCells {
	action := f.Action
	if f.Exempt {
		action = "exempt"
	}
	if len(tagMarks(f)) > 0 {
		action += tagMarker // explained below the account's rows
	}
	cred := []string{cleanText(credentialLabel(f))}
	if f.Credential == policy.CredentialAccessKey && f.KeyID != "" {
		noID := *f
		noID.KeyID = ""
		short := cleanText(credentialLabel(&noID))
		cred = append(cred, short+" …"+cleanText(lastRunes(f.KeyID, 4)), short)
	}
	return tableCells{
		colSeverity:   {cleanText(f.Severity)},
		colUser:       {cleanText(f.User)},
		colCredential: cred,
		colRule:       {cleanText(f.Rule)},
		colAge:        {strconv.Itoa(f.AgeDays) + "d"},
		colAction:     {cleanText(action)},
		colNext:       {cleanText(nextStage(f))},
	}
}

// fitCell is the first form of the cell that fits width runes, else its last
// form truncated.
func fitCell(forms []string, width int) string {
	for _, s := range forms {
		if utf8.RuneCountInString(s) <= width {
			return s
		}
	}
	return truncate(forms[len(forms)-1], width)
}

func lastRunes(s string, n int) string {
	r := []rune(s)
	return string(r[max(len(r)-n, 0):])
}

// fitColumns sizes each column to its widest cell (or header). While the
// line is wider than width, it first lets cells with shorter forms use
// their second form, then takes one rune at a time off the widest column
// that may still shrink (down to its min).
func fitColumns(rows []tableCells, width int) []int {
	n := len(tableColumns)
	widths := make([]int, n)
	second := make([]int, n) // widest second form (or only form)
	for i, c := range tableColumns {
		widths[i] = utf8.RuneCountInString(c.header)
		second[i] = widths[i]
	}
	for _, row := range rows {
		for i, forms := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(forms[0]))
			second[i] = max(second[i], utf8.RuneCountInString(forms[min(1, len(forms)-1)]))
		}
	}
	total := len(gap) * (n - 1)
	for _, w := range widths {
		total += w
	}
	for i := range widths {
		if total <= width {
			break
		}
		cut := min(widths[i]-second[i], total-width)
		widths[i] -= cut
		total -= cut
	}
	for total > width {
		j := -1
		for i, c := range tableColumns {
			if c.min > 0 && widths[i] > c.min && (j < 0 || widths[i] > widths[j]) {
				j = i
			}
		}
		if j < 0 {
			break // as narrow as it goes
		}
		widths[j]--
		total--
	}
	return widths
}

// ANSI styles.
const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiRed     = "\x1b[31m"
	ansiBoldRed = "\x1b[1;31m"
	ansiYellow  = "\x1b[33m"
	ansiCyan    = "\x1b[36m"
	ansiDim     = "\x1b[2m"
)

var severityStyle = map[string]string{
	config.SeverityCritical: ansiBoldRed,
	config.SeverityHigh:     ansiRed,
	config.SeverityMedium:   ansiYellow,
	config.SeverityLow:      ansiCyan,
}

// tableWriter writes lines no wider than width, styled only when color is set.
type tableWriter struct {
	ew    errWriter
	width int
	color bool
}

func (t *tableWriter) blank() { t.ew.write("\n") }

// line writes s, truncated to the width, in style.
func (t *tableWriter) line(s, style string) {
	t.ew.write(t.styled(truncate(s, t.width), style) + "\n")
}

// wrap writes s over as many lines as it needs, continuation lines indented.
func (t *tableWriter) wrap(s, indent, style string) {
	for i, l := range wrapText(s, t.width, len(indent)+2) {
		if i > 0 {
			l = indent + "  " + l
		}
		t.line(l, style)
	}
}

func (t *tableWriter) styled(s, style string) string {
	if !t.color || style == "" || s == "" {
		return s
	}
	return style + s + ansiReset
}

// accountHeader writes "Account 123456789012 (alias) · ok · 12 users ·
// 15 keys · 5 API calls" and, for a failed account, its error.
func (t *tableWriter) accountHeader(id string, a *Account) {
	name := "Account " + cleanText(id)
	if a == nil {
		t.line(name, ansiBold)
		return
	}
	stats := fmt.Sprintf(" · %s · %s · %s · %s", cleanText(a.Status),
		plural(a.Users, "user", "users"), plural(a.AccessKeys, "key", "keys"),
		plural(a.APICalls, "API call", "API calls"))
	if a.Alias != "" {
		// The alias gives way first, so the counts stay readable.
		room := t.width - utf8.RuneCountInString(name) - utf8.RuneCountInString(stats) - 3
		name += " (" + truncate(cleanText(a.Alias), max(room, 8)) + ")"
	}
	t.line(name+stats, ansiBold)
	if a.Status == StatusError {
		msg := a.Error
		if msg == "" {
			msg = "scan failed"
		}
		t.wrap("  error: "+cleanText(msg), "  ", ansiRed)
	}
}

// rows writes the column header and one line per finding.
func (t *tableWriter) rows(widths []int, fs []*policy.Finding, rows []tableCells) {
	var b strings.Builder
	for i, c := range tableColumns {
		b.WriteString(t.cell(c, truncate(c.header, widths[i]), widths[i], i == len(tableColumns)-1, ""))
	}
	t.ew.write(strings.TrimRight(b.String(), " ") + "\n")
	for k, row := range rows {
		b.Reset()
		for i, c := range tableColumns {
			style := ""
			if i == colSeverity {
				style = severityStyle[fs[k].Severity]
			}
			if i == colAction && fs[k].Exempt {
				style = ansiDim
			}
			b.WriteString(t.cell(c, fitCell(row[i], widths[i]), widths[i], i == len(tableColumns)-1, style))
		}
		t.ew.write(strings.TrimRight(b.String(), " ") + "\n")
	}
}

// tagMarker follows the action of a finding whose class or exemption a
// tag decided; tagNotes says which tag.
const tagMarker = "*"

// tagNotes writes, below an account's rows, what tags decided for which
// user (once per user): "build-bot: class machine from tag
// UserType=machine".
func (t *tableWriter) tagNotes(fs []*policy.Finding) {
	var notes []string
	seen := map[string]bool{}
	for _, f := range fs {
		marks := tagMarks(f)
		if len(marks) == 0 {
			continue
		}
		note := cleanText(f.User + ": " + strings.Join(marks, ", "))
		if !seen[note] {
			seen[note] = true
			notes = append(notes, note)
		}
	}
	if len(notes) == 0 {
		return
	}
	t.wrap(tagMarker+" decided by a tag, which users may be able to set on themselves:", "", ansiYellow)
	for _, n := range notes {
		t.wrap("  "+n, "  ", "")
	}
}

// cell pads s to width (styling only the text, so padding stays measurable)
// and adds the column gap unless it is the last column.
func (t *tableWriter) cell(c tableColumn, s string, width int, last bool, style string) string {
	pad := strings.Repeat(" ", max(width-utf8.RuneCountInString(s), 0))
	s = t.styled(s, style)
	if c.alignRight {
		s = pad + s
	} else if !last {
		s += pad
	}
	if !last {
		s += gap
	}
	return s
}

// truncate shortens s to at most width runes, ending it with "…" when cut.
func truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// wrapText breaks s into lines of at most width runes, at spaces where it
// can; continuation lines leave room for indent runes.
func wrapText(s string, width, indent int) []string {
	var lines []string
	limit := width
	for utf8.RuneCountInString(s) > limit && limit > 0 {
		r := []rune(s)
		cut := limit
		for i := limit; i > limit/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		lines = append(lines, strings.TrimRight(string(r[:cut]), " "))
		s = strings.TrimLeft(string(r[cut:]), " ")
		limit = width - indent
	}
	return append(lines, s)
}
