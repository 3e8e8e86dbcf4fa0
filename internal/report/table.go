package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/termtable"
)

// tableColumns are the findings table's columns; the credential does not
// wrap: it has shorter forms (tableRow).
var tableColumns = []termtable.Column{
	{Header: "SEVERITY"},
	{Header: "USER", Wrap: true},
	{Header: "CREDENTIAL"},
	{Header: "RULE", Wrap: true},
	{Header: "AGE", AlignRight: true, Drop: 4},
	{Header: "ACTION", Wrap: true, Drop: 3},
	{Header: "NEXT", Drop: 2},
	{Header: "CIS", Wrap: true, Drop: 1},
}

const (
	colSeverity = iota
	colUser
	colCredential
	colRule
	colAge
	colAction
	colNext
	colControls
)

// renderTable writes the report for a person at a terminal: per account a
// short header and its findings (most severe first, then oldest), then a
// summary line. With a width (a terminal), columns are sized to their
// content and, when the table is wider, the credential takes a shorter
// form, names and rules wrap over lines, and at last the low-value columns
// (CIS, NEXT, ACTION, AGE) are left out — said above the table; nothing is ever
// truncated. Without one (a file, a pipe) every line is as long as it
// needs. Every user-controlled string goes through cleanText, so a name
// cannot carry escape sequences to the terminal. Widths are counted in runes.
func renderTable(w io.Writer, r *Report, o Options) error {
	t := &tableWriter{ew: errWriter{w: w}, width: o.Width, color: o.Color}

	ids, byAccount := groupFindings(r)
	rows := make(map[string][]tableCells, len(byAccount))
	var all []tableCells
	for _, id := range ids {
		sortForTable(byAccount[id])
		for _, f := range byAccount[id] {
			row := tableRow(f)
			rows[id] = append(rows[id], row)
			all = append(all, row)
		}
	}
	layout := fitColumns(all, o.Width)

	t.line(fmt.Sprintf("As of %s", jsonTime(r.AsOf).Format(time.RFC3339)), "")
	if note := layout.DroppedNote(o.Width); note != "" && len(all) > 0 {
		t.wrap(note, "", ansiDim)
	}
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
		t.rows(layout, byAccount[id], rows[id])
		t.tagNotes(byAccount[id])
	}
	t.compliance(complianceOf(r))
	t.blank()
	t.wrap(summaryLine(r), "", "")
	if failed := failedAccounts(r); len(failed) > 0 {
		t.wrap(fmt.Sprintf("%d of %s failed: %s", len(failed),
			plural(len(r.Accounts), "account", "accounts"), cleanText(strings.Join(failed, ", "))), "", ansiRed)
	}
	return t.ew.err
}

// sortForTable orders an account's findings as a reader acts on them: most
// severe first, then the oldest, then by user (stable: the report's order
// breaks the remaining ties).
func sortForTable(fs []*policy.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := policy.SeverityRank(a.Severity), policy.SeverityRank(b.Severity); ra != rb {
			return ra > rb
		}
		if a.AgeDays != b.AgeDays {
			return a.AgeDays > b.AgeDays
		}
		return a.User < b.User
	})
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

// tableCells are a finding's cells, cleaned and whole. Each cell is one or
// more forms, longest first: a narrow column takes the first form that
// fits.
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
	if f.KeyID != "" {
		kind := cleanText(credentialKind(f))
		cred = append(cred, kind+" …"+cleanText(lastRunes(f.KeyID, 4)), kind)
	}
	return tableCells{
		colSeverity:   {cleanText(f.Severity)},
		colUser:       {cleanText(f.User)},
		colCredential: cred,
		colRule:       {cleanText(f.Rule)},
		colAge:        {strconv.Itoa(f.AgeDays) + "d"},
		colAction:     {cleanText(action)},
		colNext:       {cleanText(nextStage(f))},
		colControls:   {cleanText(cisCell(f.Controls))},
	}
}

// cisCell is the table's CIS cell: the controls without their "CIS "
// (the header says it), "1.5 1.6"; "-" for none.
func cisCell(controls []string) string {
	if len(controls) == 0 {
		return "-"
	}
	ids := make([]string, len(controls))
	for i, c := range controls {
		ids[i] = strings.TrimPrefix(c, "CIS ")
	}
	return strings.Join(ids, " ")
}

// cellLines is the cell in a column width runes wide: the first form that
// fits, else its first form wrapped (or, in a column that does not wrap,
// its last form, wrapped should it still not fit).
func cellLines(c termtable.Column, forms []string, width int) []string {
	for _, f := range forms {
		if utf8.RuneCountInString(f) <= width {
			return []string{f}
		}
	}
	if c.Wrap {
		return termtable.WrapName(forms[0], width)
	}
	return termtable.WrapName(forms[len(forms)-1], width)
}

func lastRunes(s string, n int) string {
	r := []rune(s)
	return string(r[max(len(r)-n, 0):])
}

// formWidths is, per column, the widest header or cell in form k (a
// cell's last form when it has fewer).
func formWidths(rows []tableCells, k int) []int {
	ws := make([]int, len(tableColumns))
	for i, c := range tableColumns {
		ws[i] = utf8.RuneCountInString(c.Header)
	}
	for _, row := range rows {
		for i, forms := range row {
			ws[i] = max(ws[i], utf8.RuneCountInString(forms[min(k, len(forms)-1)]))
		}
	}
	return ws
}

// fitColumns sizes each column to its widest cell (or header). With width
// 0 that is all. While the line is wider than width, it lets the
// credentials take their second form, then narrows the wrapping columns
// down to termtable.Comfort, then lets the credentials take their last
// form; if that is still too wide, it leaves out the next droppable column
// and starts again; with none left to drop, the wrapping columns go down
// to termtable.MinWrap.
func fitColumns(rows []tableCells, width int) termtable.Layout {
	second, last := formWidths(rows, 1), formWidths(rows, 2)
	l := termtable.Layout{Shown: make([]bool, len(tableColumns))}
	for i := range l.Shown {
		l.Shown[i] = true
	}
	for {
		l.Widths = formWidths(rows, 0)
		if width <= 0 {
			return l
		}
		shorten := func(to []int) {
			if cut := min(l.Widths[colCredential]-to[colCredential], l.Total()-width); cut > 0 {
				l.Widths[colCredential] -= cut
			}
		}
		shorten(second)
		termtable.Shrink(tableColumns, l, width, termtable.Comfort)
		shorten(last)
		if l.Total() <= width {
			return l
		}
		if !l.DropNext(tableColumns) {
			termtable.Shrink(tableColumns, l, width, termtable.MinWrap)
			return l
		}
	}
}

// ANSI styles.
const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiRed     = "\x1b[31m"
	ansiBoldRed = "\x1b[1;31m"
	ansiYellow  = "\x1b[33m"
	ansiCyan    = "\x1b[36m"
	ansiGreen   = "\x1b[32m"
	ansiDim     = "\x1b[2m"
)

var severityStyle = map[string]string{
	config.SeverityCritical: ansiBoldRed,
	config.SeverityHigh:     ansiRed,
	config.SeverityMedium:   ansiYellow,
	config.SeverityLow:      ansiCyan,
	config.SeverityInfo:     ansiDim,
}

// tableWriter writes lines no wider than width, styled only when color is set.
type tableWriter struct {
	ew    errWriter
	width int
	color bool
}

func (t *tableWriter) blank() { t.ew.write("\n") }

// line writes s in style, over more lines when it is wider than the
// width (line is for text that has no better place to break).
func (t *tableWriter) line(s, style string) { t.wrap(s, "", style) }

// wrap writes s over as many lines as the width needs (one with no width),
// continuation lines indented.
func (t *tableWriter) wrap(s, indent, style string) {
	lines := []string{s}
	if t.width > 0 {
		lines = wrapText(s, t.width, len(indent)+2)
	}
	for i, l := range lines {
		if i > 0 {
			l = indent + "  " + l
		}
		t.ew.write(t.styled(l, style) + "\n")
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
	if a.SSHKeyCalls > 0 {
		stats += fmt.Sprintf(" (%d for SSH keys)", a.SSHKeyCalls)
	}
	if a.Alias != "" {
		name += " (" + cleanText(a.Alias) + ")"
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

// rows writes the column header and each finding, over as many lines as
// its wrapped cells need.
func (t *tableWriter) rows(l termtable.Layout, fs []*policy.Finding, rows []tableCells) {
	header := make([][]string, len(tableColumns))
	for i, c := range tableColumns {
		header[i] = []string{c.Header}
	}
	t.row(l, header, func(_ int, s string) string { return s })
	for k, row := range rows {
		cells := make([][]string, len(tableColumns))
		for i, c := range tableColumns {
			cells[i] = cellLines(c, row[i], l.Widths[i])
		}
		t.row(l, cells, func(i int, s string) string {
			switch {
			case i == colSeverity:
				return t.styled(s, severityStyle[fs[k].Severity])
			case i == colAction && fs[k].Exempt:
				return t.styled(s, ansiDim)
			}
			return s
		})
	}
}

func (t *tableWriter) row(l termtable.Layout, cells [][]string, style func(int, string) string) {
	if t.ew.err == nil {
		t.ew.err = l.Row(t.ew.w, tableColumns, cells, style)
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

// complianceColumns are the compliance block's columns.
var complianceColumns = []termtable.Column{
	{Header: "CONTROL"},
	{Header: "STATUS"},
	{Header: "FINDINGS", AlignRight: true},
	{Header: "TITLE", Prose: true},
}

// compliance writes the per-control block after the findings, short: a
// count line, a row for each control that failed or was not checked (ID,
// status as a word, so that it reads without color, the findings that
// fail it with the exempt ones, its title, which wraps), and one line
// listing the controls that passed.
func (t *tableWriter) compliance(cs []ControlStatus) {
	if len(cs) == 0 {
		return
	}
	t.blank()
	p, f, n := ControlCounts(cs)
	head := fmt.Sprintf("Compliance (CIS AWS Foundations Benchmark v3.0.0): %d passed, %d failed", p, f)
	if n > 0 {
		head += fmt.Sprintf(", %d not checked", n)
	}
	t.wrap(head, "", ansiBold)
	var rows [][]string
	var shown []ControlStatus
	var passed []string
	for _, c := range cs {
		if c.Status == ControlPassed {
			id := c.ID
			if c.Exempt > 0 {
				id += fmt.Sprintf(" (%d exempt)", c.Exempt)
			}
			passed = append(passed, id)
			continue
		}
		count := "-"
		if c.Status != ControlNotChecked {
			count = strconv.Itoa(c.Findings)
			if c.Exempt > 0 {
				count += fmt.Sprintf(" (+%d exempt)", c.Exempt)
			}
		}
		title := c.Title
		if c.Why != "" {
			title += " (not checked: " + c.Why + ")"
		}
		rows = append(rows, []string{c.ID, statusWord(c.Status), count, title})
		shown = append(shown, c)
	}
	if len(rows) > 0 {
		t.complianceRows(rows, shown)
	}
	if len(passed) > 0 {
		t.wrap("passed: "+strings.Join(passed, ", "), "", ansiGreen)
	}
}

// complianceRows writes the failed and unchecked controls, fitted to the
// width (one block per control when even that is too narrow).
func (t *tableWriter) complianceRows(rows [][]string, cs []ControlStatus) {
	if t.ew.err != nil {
		return
	}
	l := termtable.Fit(complianceColumns, rows, t.width)
	if t.width > 0 && l.Total() > t.width {
		t.ew.err = termtable.Blocks(t.ew.w, complianceColumns, rows, t.width)
		return
	}
	header := make([][]string, len(complianceColumns))
	for i, c := range complianceColumns {
		header[i] = []string{c.Header}
	}
	t.ew.err = l.Row(t.ew.w, complianceColumns, header, nil)
	for k, row := range rows {
		cells := make([][]string, len(row))
		for i, c := range complianceColumns {
			cells[i] = termtable.WrapCell(c, row[i], l.Widths[i])
		}
		if t.ew.err != nil {
			return
		}
		t.ew.err = l.Row(t.ew.w, complianceColumns, cells, func(i int, s string) string {
			if i != 1 {
				return s
			}
			return t.styled(s, controlStyle[cs[k].Status])
		})
	}
}

// statusWord is a control status as the table and Markdown write it.
func statusWord(status string) string {
	switch status {
	case ControlPassed:
		return "pass"
	case ControlFailed:
		return "FAIL"
	}
	return "not checked"
}

var controlStyle = map[string]string{ControlPassed: ansiGreen, ControlFailed: ansiBoldRed, ControlNotChecked: ansiDim}
