package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// exampleLine is a commented-out key of the starter file: "  # key: …"
// or "  #   - key: …".
var exampleLine = regexp.MustCompile(`^(\s*)# (\s*(- )?[a-z_]+:)`)

// starterExamples returns the starter file's lines and its commented
// examples, as line indexes: each a key commented out, with the lines
// below it that are indented further.
func starterExamples(t *testing.T) ([]string, [][]int) {
	t.Helper()
	lines := strings.Split(string(InitYAML()), "\n")
	var blocks [][]int
	lastCol := -1
	for i, l := range lines {
		m := exampleLine.FindStringSubmatchIndex(l)
		if m == nil {
			lastCol = -1
			continue
		}
		col := m[3] // the '#'
		// A line indented past the "# " continues the example above it.
		nested := strings.HasPrefix(l[m[4]:], " ")
		if col == lastCol && nested && len(blocks) > 0 {
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], i)
		} else {
			blocks = append(blocks, []int{i})
		}
		lastCol = col
	}
	if len(blocks) < 10 {
		t.Fatalf("found %d commented examples in the starter file; want at least 10 (did its comment style change?)", len(blocks))
	}
	return lines, blocks
}

// uncomment returns the starter file with one example block uncommented:
// "# " removed at the comment's column, and an empty flow list ("[]") the
// block's entries now fill dropped from the key above.
func uncomment(lines []string, block []int) []string {
	out := append([]string(nil), lines...)
	for _, i := range block {
		l := out[i]
		h := strings.Index(l, "# ")
		out[i] = l[:h] + l[h+2:]
	}
	above := block[0] - 1
	if strings.HasPrefix(strings.TrimSpace(out[block[0]]), "- ") {
		out[above] = strings.Replace(out[above], ": []", ":   ", 1)
	}
	return out
}

// TestSyntaxErrorsInStarterExamples uncomments each of the starter
// file's examples in turn, checks that it parses, then breaks each of its
// lines in two ways and checks that the error names FILE:LINE:COL of the
// break — not the line where the enclosing mapping started (yaml.v3's
// own report: line 5, a comment, for a problem anywhere under a top-level
// key).
func TestSyntaxErrorsInStarterExamples(t *testing.T) {
	lines, blocks := starterExamples(t)
	for _, block := range blocks {
		src := uncomment(lines, block)
		name := strings.TrimSpace(src[block[0]])
		if _, err := parseYAML("keywarden.yaml", []byte(strings.Join(src, "\n"))); err != nil {
			t.Errorf("starter file with %q uncommented: %v; want valid YAML", name, err)
			continue
		}
		for _, i := range block {
			l := src[i]
			key := strings.Index(l, ":")
			indent := len(l) - len(strings.TrimLeft(l, " "))
			breaks := []struct {
				how  string
				line string
				col  int
			}{
				// "key: x: value": a mapping value where none may be.
				{"a second ': '", l[:key+1] + " x:" + l[key+1:], key + 3},
				// The indentation written with a tab.
				{"a tab indent", "\t" + l[indent:], 1},
			}
			for _, br := range breaks {
				bad := append([]string(nil), src...)
				bad[i] = br.line
				_, err := Parse("keywarden.yaml", []byte(strings.Join(bad, "\n")))
				want := fmt.Sprintf("keywarden.yaml:%d:%d: invalid YAML: ", i+1, br.col)
				var ce *ConfigError
				if err == nil || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("%q uncommented, line %d broken with %s (%q):\n got %v\nwant %s…", name, i+1, br.how, br.line, err, want)
				}
			}
		}
	}
}

// TestSyntaxErrorFallback: when the locating parser finds nothing wrong,
// yaml.v3's own line is kept, a parser error's counted from 1.
func TestSyntaxErrorFallback(t *testing.T) {
	for _, tt := range []struct {
		err  string
		want string
	}{
		{"yaml: line 4: did not find expected key", "k.yaml:5: invalid YAML: did not find expected key"},
		{"yaml: line 4: found character that cannot start any token", "k.yaml:4: invalid YAML: found character that cannot start any token"},
		{"yaml: control characters are not allowed", "k.yaml: invalid YAML: control characters are not allowed"},
	} {
		if got := syntaxError("k.yaml", []byte("version: 1\n"), errors.New(tt.err)).Error(); got != tt.want {
			t.Errorf("syntaxError(valid YAML, %q) = %q; want %q", tt.err, got, tt.want)
		}
	}
}
