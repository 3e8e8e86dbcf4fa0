package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/termtable"
)

// RulesSchema is `keywarden rules --format json`'s schema identifier.
const RulesSchema = "keywarden.rules/v1"

// RulesOptions are the parsed flags of `keywarden rules`.
type RulesOptions struct {
	ConfigFile string
	Format     string
	Output     string
}

// NewCmdRules builds `keywarden rules`.
func NewCmdRules(f *Factory) *cobra.Command {
	o := &RulesOptions{}
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List every rule: its CIS controls, whether it is on, its settings and the API calls it costs",
		Long: `Rules lists every rule keywarden evaluates, in evaluation order: the CIS AWS
Foundations Benchmark controls its findings map to (for mfa_missing, root's
controls too), whether the config turns it on (opt-in rules are off until the
config sets them), its settings as the config has them (--config, else
./keywarden.yaml if present, else the built-in defaults), and the API calls it
costs beyond the six every account's scan makes (GetCallerIdentity,
GenerateCredentialReport, GetCredentialReport, GetAccountPasswordPolicy,
ListAccountAliases, GetAccountSummary) and GetAccountAuthorizationDetails. It
reads no AWS account and changes nothing.

--format json prints {"schema": "` + RulesSchema + `", "config", "rules", "controls"}:
each rule with name, credential, controls, root_controls, summary, calls, opt_in,
enabled, settings and default_settings; controls is the benchmark's catalogue.`,
		Example: `  keywarden rules
  keywarden rules --config keywarden.yaml
  keywarden rules --format json | jq '.rules[] | select(.enabled | not) | .name'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return rulesRun(f, o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.ConfigFile, "config", "", "config file whose rules to show (default: ./keywarden.yaml if present, else the built-in defaults)")
	fl.StringVar(&o.Format, "format", "", "output format: table or json (default: table on a terminal, json otherwise)")
	fl.StringVarP(&o.Output, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

// rulesDoc is `keywarden rules --format json`.
type rulesDoc struct {
	Schema   string           `json:"schema"`
	Config   string           `json:"config"`
	Rules    []ruleRow        `json:"rules"`
	Controls []policy.Control `json:"controls"`
}

// ruleRow is one rule with what the config makes of it.
type ruleRow struct {
	policy.RuleInfo
	Enabled         bool   `json:"enabled"`
	Settings        string `json:"settings"`
	DefaultSettings string `json:"default_settings"`
}

func rulesRun(f *Factory, o *RulesOptions) error {
	format, err := tableOrJSON(f, o.Format, o.Output)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(f, o.ConfigFile)
	if err != nil {
		return err
	}
	doc := rulesDocument(cfg, configFileUsed(o.ConfigFile))
	return writeTableOrJSON(f, format, o.Output, doc, func(w io.Writer, width int) error { return rulesTable(w, doc, width) })
}

// rulesDocument describes every rule of policy.Rules under cfg; file is
// the config file read ("" for the built-in defaults).
func rulesDocument(cfg *config.Config, file string) rulesDoc {
	def := config.Default()
	doc := rulesDoc{Schema: RulesSchema, Config: file, Controls: policy.Controls}
	if file == "" {
		doc.Config = "(built-in defaults)"
	}
	for _, r := range policy.Rules {
		if r.Controls == nil {
			r.Controls = []string{}
		}
		doc.Rules = append(doc.Rules, ruleRow{
			RuleInfo: r, Enabled: policy.RuleEnabled(cfg, r.Name),
			Settings: policy.RuleSettings(cfg, r.Name), DefaultSettings: policy.RuleSettings(def, r.Name),
		})
	}
	return doc
}

var ruleColumns = []termtable.Column{
	{Header: "RULE", Wrap: true},
	{Header: "CIS"},
	{Header: "ON"},
	{Header: "CALLS"},
	{Header: "SETTINGS", Prose: true},
}

// rulesTable writes one row per rule, fitted to width (termtable), then
// the API calls the CALLS column's letters stand for (each with its
// rules) and notes on the columns.
func rulesTable(w io.Writer, doc rulesDoc, width int) error {
	calls := ruleCalls(doc.Rules)
	rows := make([][]string, len(doc.Rules))
	for i, r := range doc.Rules {
		on := "no"
		switch {
		case r.Enabled:
			on = "yes"
		case r.OptIn:
			on = "opt-in"
		}
		term := "-"
		if c, ok := calls.byText[r.Calls]; ok {
			term = c.term
		}
		rows[i] = []string{r.Name, ruleControls(r.RuleInfo), on, term, r.Settings}
	}
	if err := termtable.Write(w, ruleColumns, rows, width); err != nil {
		return err
	}
	// Each note is a prefix and text; the text wraps under itself.
	type note struct{ prefix, text string }
	notes := []note{{"", ""}, {"", "API calls per account beyond the six every account makes and GetAccountAuthorizationDetails (the budget is 6 + ceil(N/1000) + F + S, + K when ssh_key_age is on):"}}
	for _, c := range calls.list {
		notes = append(notes, note{"  " + c.term + "  ", c.op + ": " + strings.Join(c.rules, ", ")})
	}
	notes = append(notes,
		note{"     ", "F counts the users with a finding whose access key or signing certificate IDs are needed, " +
			"S the pages of service-specific credentials (1 for most accounts), K the users the rule selects."},
		note{"", ""},
		note{"", "Settings from " + doc.Config + ". CIS: the CIS AWS Foundations Benchmark v3.0.0 controls the rule's findings map to " +
			"(mfa_missing: 1.10 for users, 1.5 and 1.6 for root). opt-in: off until the config sets the rule."})
	for _, n := range notes {
		lines := []string{n.text}
		if width > 0 {
			lines = termtable.WrapWords(n.text, max(width-len(n.prefix), termtable.MinWrap))
		}
		for i, l := range lines {
			p := n.prefix
			if i > 0 {
				p = strings.Repeat(" ", len(n.prefix))
			}
			if _, err := fmt.Fprintln(w, strings.TrimRight(p+l, " ")); err != nil {
				return err
			}
		}
	}
	return nil
}

// ruleCall is one kind of API call rules cost: its budget term (F, S,
// K), the call without the term, the rules that make it.
type ruleCall struct {
	term, op string
	rules    []string
}

type ruleCallList struct {
	list   []*ruleCall
	byText map[string]*ruleCall
}

// ruleCalls groups the rules by the API calls they cost (RuleInfo.Calls),
// in order of first appearance, rules that cost none left out. The term
// is the "(F)" or "(S)" the text ends with, else K (the opt-in SSH
// rule's one call per selected user).
func ruleCalls(rules []ruleRow) ruleCallList {
	l := ruleCallList{byText: map[string]*ruleCall{}}
	for _, r := range rules {
		if r.Calls == "" || r.Calls == "none" {
			continue
		}
		c, ok := l.byText[r.Calls]
		if !ok {
			c = &ruleCall{term: "K", op: r.Calls}
			if i := strings.LastIndex(r.Calls, " ("); i > 0 && strings.HasSuffix(r.Calls, ")") {
				c.term, c.op = strings.Trim(r.Calls[i+1:], "()"), r.Calls[:i]
			}
			l.byText[r.Calls] = c
			l.list = append(l.list, c)
		}
		c.rules = append(c.rules, r.Name)
	}
	return l
}

// ruleControls is the CIS cell: the controls of the rule's findings,
// root's included, without "CIS ": "1.14", "1.10 1.5 1.6", "-".
func ruleControls(r policy.RuleInfo) string {
	var ids []string
	for _, c := range append(slices.Clone(r.Controls), r.RootControls...) {
		ids = append(ids, strings.TrimPrefix(c, "CIS "))
	}
	if len(ids) == 0 {
		return "-"
	}
	return strings.Join(ids, " ")
}
