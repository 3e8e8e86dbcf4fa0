package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// csvHeader names the CSV columns, one row per finding.
var csvHeader = []string{
	"id", "account", "account_alias", "user", "class", "credential", "key_id", "slot",
	"rule", "age_days", "days_left", "stage_at", "action", "severity", "next_stage_on",
	"exempt", "exempt_reason", "recipients", "reason",
	// Added after report/v1's columns, so that their positions hold.
	"class_from_tag", "exempt_from_tag", "service", "controls",
}

// renderCSV writes a header row and one row per finding. Text cells are
// guarded against formula injection (see csvText); numbers are written as
// numbers; unset values (days_left, next_stage_on, slot 0) are empty cells;
// recipients and controls are joined with ";". Accounts that failed have no rows: the
// JSON, table and Markdown formats show them.
func renderCSV(w io.Writer, r *Report, _ Options) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	aliases := accountAliases(r)
	row := make([]string, len(csvHeader))
	for i := range r.Findings {
		f := &r.Findings[i]
		row = row[:0]
		slot, daysLeft, next := "", "", ""
		if f.Slot != 0 {
			slot = strconv.Itoa(f.Slot)
		}
		if f.DaysLeft != nil {
			daysLeft = strconv.Itoa(*f.DaysLeft)
		}
		if f.NextStageOn != nil {
			next = f.NextStageOn.String()
		}
		row = append(row,
			csvText(f.ID),
			csvText(f.Account),
			csvText(findingAlias(f, aliases)),
			csvText(f.User),
			csvText(f.Class),
			csvText(f.Credential),
			csvText(f.KeyID),
			slot,
			csvText(f.Rule),
			strconv.Itoa(f.AgeDays),
			daysLeft,
			strconv.Itoa(f.StageAt),
			csvText(f.Action),
			csvText(f.Severity),
			next,
			strconv.FormatBool(f.Exempt),
			csvText(f.ExemptReason),
			csvText(strings.Join(f.Recipients, ";")),
			csvText(f.Reason),
			csvText(f.ClassFromTag),
			csvText(f.ExemptFromTag),
			csvText(f.Service),
			csvText(strings.Join(f.Controls, ";")),
		)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvText cleans a text cell of control characters and guards it against
// CSV (formula) injection.
//
// Control characters would act on the terminal of whoever views the file
// (an ESC sequence; a carriage return that overwrites what came before)
// or hide text (NUL, a bidi override): a tab or a lone carriage return
// becomes a space, CR LF a line break (encoding/csv quotes a cell with
// line breaks, which is safe), every other control character and bidi
// control is dropped, and invalid UTF-8 becomes U+FFFD.
//
// Then, as OWASP recommends, a cell whose first character other than
// spaces is = + - or @ gets a leading single quote, so a spreadsheet
// shows it as text instead of evaluating it. IAM user names may start
// with =, + and @, and tags and aliases are free text. Quoting of commas,
// quotes and newlines is left to encoding/csv.
func csvText(s string) string {
	s = csvClean(s)
	if t := strings.TrimLeft(s, " "); t != "" {
		switch t[0] {
		case '=', '+', '-', '@':
			return "'" + s
		}
	}
	return s
}

// csvClean applies csvText's control-character rules.
func csvClean(s string) string {
	if !needsClean(s) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch {
		case c == '\n':
			b.WriteRune(c)
		case c == '\t' || c == '\r':
			b.WriteByte(' ')
		case c == utf8.RuneError:
			b.WriteRune(unicode.ReplacementChar)
		case isUnsafeRune(c):
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}
