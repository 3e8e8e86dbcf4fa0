package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/policy"
)

// TestRuleColorsAreDistinct: every rule keywarden has gets a colour of
// its own in the charts, and report.css defines each, with no colour
// used twice.
func TestRuleColorsAreDistinct(t *testing.T) {
	css, err := htmlAssets.ReadFile("assets/report.css")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range policy.Rules {
		names = append(names, r.Name)
	}
	if len(names) > ruleColors {
		t.Fatalf("%d rules, %d colours", len(names), ruleColors)
	}
	fills := map[string]string{}
	for _, r := range names {
		class := ruleColor(names, r)
		m := regexp.MustCompile(`svg \.` + class + ` \{ fill: (#[0-9a-f]{6}); \}`).FindSubmatch(css)
		if m == nil {
			t.Errorf("report.css defines no fill for .%s (rule %s)", class, r)
			continue
		}
		if other, ok := fills[string(m[1])]; ok {
			t.Errorf("rules %s and %s share the colour %s", other, r, m[1])
		}
		fills[string(m[1])] = r
	}
	if n := strings.Count(string(css), "svg .c"); n != ruleColors {
		t.Errorf("report.css has %d rule colours; want %d", n, ruleColors)
	}
}
