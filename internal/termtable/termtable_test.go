package termtable

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWrapName(t *testing.T) {
	for _, tt := range []struct {
		s     string
		width int
		want  string
	}{
		{"bob@example.com", 20, "bob@example.com"},
		{"bob@example.com", 10, "bob@|example.|com"},
		{"maximilian.oberhausen@example.com", 12, "maximilian.|oberhausen@|example.com"},
		{"abcdefghij", 4, "abcd|efgh|ij"},
		{"key 1 AKIAALICE00000000001", 14, "key 1|AKIAALICE00000|000001"},
		// A word that fills the line: the next starts with the next word.
		{"CodeCommit credential ACCA1", 10, "CodeCommit|credential|ACCA1"},
	} {
		got := WrapName(tt.s, tt.width)
		if strings.Join(got, "|") != tt.want {
			t.Errorf("WrapName(%q, %d) = %q; want %q", tt.s, tt.width, got, tt.want)
		}
		if strings.ReplaceAll(strings.Join(got, ""), " ", "") != strings.ReplaceAll(tt.s, " ", "") {
			t.Errorf("WrapName(%q, %d) lost text: %q", tt.s, tt.width, got)
		}
	}
}

func TestWrapWords(t *testing.T) {
	got := WrapWords("disabled: the key reached its 80-day disable stage", 20)
	want := "disabled: the key|reached its 80-day|disable stage"
	if strings.Join(got, "|") != want {
		t.Errorf("WrapWords = %q; want %q", got, want)
	}
}

// TestWrite: a table wider than the terminal wraps, then leaves out the
// low-value columns (and says so), then turns into blocks; no line is
// wider than the terminal and no cell loses text; with no width, one line
// per row.
func TestWrite(t *testing.T) {
	cols := []Column{{Header: "NAME", Wrap: true}, {Header: "STATE"}, {Header: "EXTRA", Drop: 1}, {Header: "WHY", Prose: true}}
	rows := [][]string{
		{"someone.with.a.long.name@example.com", "done", "x-1", "the reason for it, in a few words"},
		{"bob", "failed", "x-2", "denied"},
	}
	for _, tt := range []struct {
		width      int
		wantLines  int
		wantNote   bool
		wantBlocks bool
	}{{0, 3, false, false}, {200, 3, false, false}, {40, 0, true, false}, {30, 0, false, true}} {
		var b strings.Builder
		if err := Write(&b, cols, rows, tt.width); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if tt.wantLines > 0 && len(lines) != tt.wantLines {
			t.Errorf("width %d: %d lines; want %d:\n%s", tt.width, len(lines), tt.wantLines, out)
		}
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); tt.width > 0 && n > tt.width {
				t.Errorf("width %d: line of %d runes: %q", tt.width, n, l)
			}
		}
		if got := strings.Contains(out, "(EXTRA left out"); got != tt.wantNote {
			t.Errorf("width %d: note %v; want %v:\n%s", tt.width, got, tt.wantNote, out)
		}
		if got := strings.Contains(out, "\nSTATE  "); got != tt.wantBlocks {
			t.Errorf("width %d: blocks %v; want %v:\n%s", tt.width, got, tt.wantBlocks, out)
		}
		// Whole on one line, or in a block: the words joined read the text.
		flat := strings.Join(strings.Fields(out), "")
		for _, want := range []string{"someone.with.a.long.name@example.com", "thereasonforit,inafewwords"} {
			if !strings.Contains(strings.NewReplacer("NAME", "", "WHY", "").Replace(flat), want) && tt.width != 40 {
				t.Errorf("width %d: %q not whole:\n%s", tt.width, want, out)
			}
		}
	}
}
