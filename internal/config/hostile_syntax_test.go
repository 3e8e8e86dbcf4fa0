package config

import (
	"strings"
	"testing"
	"time"
)

// TestSyntaxErrorHostileNesting: locating a syntax error in a document
// nested a million deep (which would keep the locating parser busy for
// many minutes) returns within the budget, with yaml.v3's report.
func TestSyntaxErrorHostileNesting(t *testing.T) {
	for name, doc := range map[string]string{
		"flow":          strings.Repeat("[", MaxFileSize),
		"flow mappings": "a: " + strings.Repeat("{a: ", MaxFileSize/4-1),
		// Brackets in quotes fool the estimate: the time budget holds.
		"quoted closers": strings.Repeat(`[ "]]", `, 50000),
	} {
		start := time.Now()
		_, err := Parse("k.yaml", []byte(doc))
		// Generous for a loaded machine: the budget is 2 s.
		if took := time.Since(start); took > 20*time.Second || err == nil || !strings.HasPrefix(err.Error(), "k.yaml") || !strings.Contains(err.Error(), ": invalid YAML: ") {
			t.Errorf("%s: Parse took %v, error %.200v; want an invalid YAML error within about 2 s", name, took, err)
		}
	}
}
