// Package termtable writes plain-text tables for a terminal: columns sized
// to their content and, when the table is wider than the terminal, the
// wrapping columns continue on more lines (names break after @ . - _) and
// then low-value columns are left out. Nothing is ever truncated. With no
// width (a file, a pipe) every row is one whole line.
package termtable

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Gap separates columns.
const Gap = "  "

// Comfort is the narrowest a wrapping column is made while a low-value
// column can be left out instead; MinWrap, once none can.
const (
	Comfort    = 12
	MinWrap    = 8
	ProseExtra = 8
)

// Column is one column of a table.
type Column struct {
	Header string
	// Wrap: a cell wider than the column continues on the next lines.
	Wrap bool
	// Prose: the column holds sentences (a reason, an error): it wraps at
	// spaces and keeps ProseExtra more runes than the names.
	Prose      bool
	AlignRight bool
	// Drop orders the columns left out when even wrapped the table is
	// wider than the terminal: 1 first; 0 never.
	Drop int
}

// Layout is how a table fits: each column's width and whether it is shown.
type Layout struct {
	Widths  []int
	Shown   []bool
	Dropped []string // headers of the columns left out, in the order dropped
}

// Fit sizes cols to rows (cells already safe for a terminal). With width
// 0 each column is as wide as its widest cell. While the table is wider
// than width, it takes one rune at a time off the widest wrapping column
// (down to Comfort, or its header), then, if that is not enough, leaves
// out the next droppable column and starts again; with none left to drop,
// the wrapping columns go down to MinWrap.
func Fit(cols []Column, rows [][]string, width int) Layout {
	l := Layout{Widths: make([]int, len(cols)), Shown: make([]bool, len(cols))}
	for i := range l.Shown {
		l.Shown[i] = true
	}
	for {
		for i, c := range cols {
			l.Widths[i] = utf8.RuneCountInString(c.Header)
		}
		for _, r := range rows {
			for i, s := range r {
				l.Widths[i] = max(l.Widths[i], utf8.RuneCountInString(s))
			}
		}
		if width <= 0 || Shrink(cols, l, width, Comfort) <= width {
			return l
		}
		if !l.DropNext(cols) {
			Shrink(cols, l, width, MinWrap)
			return l
		}
	}
}

// Total is the width of the shown columns with their gaps.
func (l Layout) Total() int {
	total := -len(Gap)
	for i, w := range l.Widths {
		if l.Shown[i] {
			total += w + len(Gap)
		}
	}
	return max(total, 0)
}

// Shrink narrows the widest shown wrapping column one rune at a time until
// the table fits width or none can shrink below floor (or its header); it
// returns the total width.
func Shrink(cols []Column, l Layout, width, floor int) int {
	total := l.Total()
	for total > width {
		j := -1
		for i, c := range cols {
			least := floor
			if c.Prose {
				least += ProseExtra
			}
			if l.Shown[i] && (c.Wrap || c.Prose) && l.Widths[i] > max(least, utf8.RuneCountInString(c.Header)) && (j < 0 || l.Widths[i] > l.Widths[j]) {
				j = i
			}
		}
		if j < 0 {
			break
		}
		l.Widths[j]--
		total--
	}
	return total
}

// DropNext leaves out the shown column with the lowest Drop; false when
// none is left to drop.
func (l *Layout) DropNext(cols []Column) bool {
	j := -1
	for i, c := range cols {
		if l.Shown[i] && c.Drop > 0 && (j < 0 || c.Drop < cols[j].Drop) {
			j = i
		}
	}
	if j < 0 {
		return false
	}
	l.Shown[j] = false
	l.Dropped = append(l.Dropped, cols[j].Header)
	return true
}

// Row writes one row of cells, each already broken into lines, in the
// shown columns: as many lines as its tallest cell. style, when not nil,
// styles a column's text (not its padding).
func (l Layout) Row(w io.Writer, cols []Column, cells [][]string, style func(col int, s string) string) error {
	height, last := 1, 0
	for i := range cells {
		if l.Shown[i] {
			height = max(height, len(cells[i]))
			last = i
		}
	}
	var b strings.Builder
	for k := range height {
		for i, c := range cols {
			if !l.Shown[i] {
				continue
			}
			s := ""
			if k < len(cells[i]) {
				s = cells[i][k]
			}
			pad := strings.Repeat(" ", max(l.Widths[i]-utf8.RuneCountInString(s), 0))
			if style != nil {
				s = style(i, s)
			}
			switch {
			case c.AlignRight:
				s = pad + s
			case i != last:
				s += pad
			}
			if i != last {
				s += Gap
			}
			b.WriteString(s)
		}
		b.WriteString("\n")
	}
	out := b.String()
	// No trailing blanks: a short last cell leaves none.
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return err
}

// Write writes the header and rows fitted to width, then, when columns
// were left out, a line that says which. A terminal too narrow for the
// table even so gets one block per row instead (Blocks).
func Write(w io.Writer, cols []Column, rows [][]string, width int) error {
	l := Fit(cols, rows, width)
	if width > 0 && l.Total() > width {
		return Blocks(w, cols, rows, width)
	}
	header := make([][]string, len(cols))
	for i, c := range cols {
		header[i] = []string{c.Header}
	}
	if err := l.Row(w, cols, header, nil); err != nil {
		return err
	}
	for _, r := range rows {
		cells := make([][]string, len(cols))
		for i, s := range r {
			cells[i] = WrapCell(cols[i], s, l.Widths[i])
		}
		if err := l.Row(w, cols, cells, nil); err != nil {
			return err
		}
	}
	if note := l.DroppedNote(width); note != "" {
		_, err := fmt.Fprintln(w, strings.Join(WrapWords(note, width), "\n"))
		return err
	}
	return nil
}

// Blocks writes each row as a block of "HEADER  value" lines, values
// wrapped to width, a blank line between rows: every column, on a
// terminal of any width.
func Blocks(w io.Writer, cols []Column, rows [][]string, width int) error {
	label := 0
	for _, c := range cols {
		label = max(label, utf8.RuneCountInString(c.Header))
	}
	indent := strings.Repeat(" ", label+len(Gap))
	var b strings.Builder
	for k, r := range rows {
		if k > 0 {
			b.WriteString("\n")
		}
		for i, c := range cols {
			for j, piece := range WrapWords(r[i], max(width-len(indent), MinWrap)) {
				line := indent + piece
				if j == 0 {
					line = c.Header + strings.Repeat(" ", label-utf8.RuneCountInString(c.Header)) + Gap + piece
				}
				b.WriteString(strings.TrimRight(line, " ") + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WrapCell is s in a column width runes wide: whole, or wrapped when the
// column wraps (at spaces for prose, else as a name).
func WrapCell(c Column, s string, width int) []string {
	switch {
	case c.Prose:
		return WrapWords(s, width)
	case c.Wrap:
		return WrapName(s, width)
	}
	return []string{s}
}

// WrapWords breaks prose into lines of at most width runes at spaces;
// a word longer than a line is broken as a name (WrapName).
func WrapWords(s string, width int) []string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
		if utf8.RuneCountInString(line) > width {
			pieces := WrapName(line, width)
			lines = append(lines, pieces[:len(pieces)-1]...)
			line = pieces[len(pieces)-1]
		}
	}
	return append(lines, line)
}

// DroppedNote says which columns were left out to fit width ("" when none).
func (l Layout) DroppedNote(width int) string {
	if len(l.Dropped) == 0 {
		return ""
	}
	return fmt.Sprintf("(%s left out to fit %d columns; a wider terminal, or a pipe, shows them)", strings.Join(l.Dropped, ", "), width)
}

// WrapName breaks s into pieces of at most width runes, each ending after
// its last "@", ".", "-", "_", "/" or space, else cut at the width: a name
// split over lines, never shortened.
func WrapName(s string, width int) []string {
	r := []rune(s)
	if width <= 0 {
		return []string{s}
	}
	var lines []string
	for len(r) > width {
		cut := width
		for i := width; i > 1; i-- {
			if strings.ContainsRune("@.-_/ ", r[i-1]) {
				cut = i
				break
			}
		}
		lines = append(lines, strings.TrimRight(string(r[:cut]), " "))
		// A word that fills the line exactly leaves the space after it:
		// the next line starts with the next word.
		for cut < len(r) && r[cut] == ' ' {
			cut++
		}
		r = r[cut:]
	}
	return append(lines, string(r))
}
