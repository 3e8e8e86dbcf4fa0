package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestRulesGolden: keywarden rules as a table at 80 and 200 columns and
// piped (--format table, no width: whole lines), and as JSON, with the
// built-in defaults and with a config file. No table line is wider than
// its terminal, and every rule is listed.
func TestRulesGolden(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		tty     bool
		columns string
	}{
		{"table80", nil, true, "80"},
		{"table200", nil, true, "200"},
		{"table-pipe", []string{"--format", "table"}, false, ""},
		{"json", nil, false, ""},
		{"config.table80", []string{"--config", filepath.Join("testdata", "rules-config.yaml")}, true, "80"},
		{"config.json", []string{"--config", filepath.Join("testdata", "rules-config.yaml"), "--format", "json"}, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := columnsFactory(tt.tty, tt.columns)
			if code := Main(context.Background(), f, append([]string{"rules"}, tt.args...)); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Assert(t, out.String(), filepath.Join("testdata", "rules."+tt.name+".golden"))
			width, _ := strconv.Atoi(tt.columns)
			for _, l := range strings.Split(out.String(), "\n") {
				if n := utf8.RuneCountInString(l); width > 0 && n > width {
					t.Errorf("line is %d runes, wider than %d: %q", n, width, l)
				}
			}
			for _, r := range policy.Rules {
				if !strings.Contains(out.String(), r.Name) {
					t.Errorf("output lacks rule %s", r.Name)
				}
			}
		})
	}
}

// TestRulesJSON: the JSON lists every rule in policy.Rules' order with its
// controls, calls and opt-in flag, whether the config turns it on and its
// settings from the config and the defaults.
func TestRulesJSON(t *testing.T) {
	f, out, errOut := testFactory(false)
	if code := Main(context.Background(), f, []string{"rules", "--config", filepath.Join("testdata", "rules-config.yaml")}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Schema string `json:"schema"`
		Config string `json:"config"`
		Rules  []struct {
			policy.RuleInfo
			Enabled         bool   `json:"enabled"`
			Settings        string `json:"settings"`
			DefaultSettings string `json:"default_settings"`
		} `json:"rules"`
		Controls []policy.Control `json:"controls"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("rules JSON does not decode: %v\n%s", err, out)
	}
	if doc.Schema != RulesSchema || doc.Config != filepath.Join("testdata", "rules-config.yaml") || len(doc.Controls) != len(policy.Controls) {
		t.Errorf("schema %q, config %q, %d controls; want %s, the file, %d", doc.Schema, doc.Config, len(doc.Controls), RulesSchema, len(policy.Controls))
	}
	if len(doc.Rules) != len(policy.Rules) {
		t.Fatalf("%d rules; want %d", len(doc.Rules), len(policy.Rules))
	}
	byName := map[string]int{}
	for i, r := range doc.Rules {
		byName[r.Name] = i
		if r.Name != policy.Rules[i].Name || r.Calls != policy.Rules[i].Calls || r.OptIn != policy.Rules[i].OptIn {
			t.Errorf("rules[%d] = %s (calls %q, opt-in %v); want %+v", i, r.Name, r.Calls, r.OptIn, policy.Rules[i])
		}
		if r.Controls == nil {
			t.Errorf("rules[%d] (%s) controls = null; want an array", i, r.Name)
		}
	}
	unused := doc.Rules[byName[config.RuleAccessKeyUnused]]
	if unused.Enabled || unused.Settings != "after 45 days, notify, medium" {
		t.Errorf("access_key_unused = enabled %v, %q; want off by the config, its settings kept", unused.Enabled, unused.Settings)
	}
	age := doc.Rules[byName[config.RuleAccessKeyAge]]
	if !age.Enabled || !strings.HasPrefix(age.Settings, "human: 60d notify medium, 90d disable critical;") ||
		!strings.HasPrefix(age.DefaultSettings, "human: 70d notify medium, 80d disable high, 90d delete high;") {
		t.Errorf("access_key_age = enabled %v, settings %q, defaults %q; want the config's stages and the defaults'", age.Enabled, age.Settings, age.DefaultSettings)
	}
	if mfa := doc.Rules[byName[config.RuleMFAMissing]]; mfa.Settings != "notify, critical" ||
		strings.Join(mfa.RootControls, ",") != "CIS 1.5,CIS 1.6" {
		t.Errorf("mfa_missing = %q, root controls %q; want the config's severity and root's controls", mfa.Settings, mfa.RootControls)
	}
	if ssh := doc.Rules[byName[config.RuleSSHKeyAge]]; ssh.Enabled || !ssh.OptIn {
		t.Errorf("ssh_key_age enabled %v, opt-in %v; want an opt-in rule, off", ssh.Enabled, ssh.OptIn)
	}
}

// TestRulesExitCodes: a bad --format, a missing config file and an
// argument are usage errors (exit 2).
func TestRulesExitCodes(t *testing.T) {
	for _, args := range [][]string{
		{"rules", "--format", "yaml"},
		{"rules", "--config", filepath.Join(t.TempDir(), "missing.yaml")},
		{"rules", "extra"},
	} {
		f, _, errOut := testFactory(false)
		if code := Main(context.Background(), f, args); code != ExitUsage {
			t.Errorf("%q: exit %d (%s); want %d", args, code, errOut, ExitUsage)
		}
	}
}
