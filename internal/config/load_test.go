package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/golden"
)

// dateEqual lets cmp compare Dates (time.Time has unexported fields).
var dateEqual = cmp.Comparer(func(a, b Date) bool { return a.Equal(b.Time) })

func mustDate(t *testing.T, s string) *Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return &d
}

func TestParseOnlyVersionIsDefault(t *testing.T) {
	got, err := Parse("keywarden.yaml", []byte("version: 1\n"))
	if err != nil {
		t.Fatalf("Parse(version: 1) error: %v", err)
	}
	if diff := cmp.Diff(Default(), got); diff != "" {
		t.Errorf("Parse(version: 1) differs from Default() (-want +got):\n%s", diff)
	}
}

// TestParseMerge pins down how a file is laid over Default().
func TestParseMerge(t *testing.T) {
	f := false
	tests := []struct {
		name string
		yaml string
		want func(c *Config) // applied to Default()
	}{
		{
			name: "a rule's keys merge one by one",
			yaml: "rules: {access_key_unused: {after: 30}}",
			want: func(c *Config) { c.Rules.AccessKeyUnused.After = 30 }, // action notify, severity medium kept
		},
		{
			name: "disabling one rule leaves the others on",
			yaml: "rules: {mfa_missing: {enabled: false}}",
			want: func(c *Config) { c.Rules.MFAMissing.Enabled = &f },
		},
		{
			name: "a class's stages are replaced, other classes keep theirs",
			yaml: "rules:\n  access_key_age:\n    human: [{at: 30, action: notify, severity: low}]\n",
			want: func(c *Config) {
				c.Rules.AccessKeyAge["human"] = []Stage{{At: 30, Action: ActionNotify, Severity: SeverityLow}}
			},
		},
		{
			name: "a stage without severity gets the one its action implies",
			yaml: "rules:\n  access_key_age:\n    human: [{at: 60, action: notify}, {at: 75, action: disable}, {at: 95, action: delete}]\n",
			want: func(c *Config) {
				c.Rules.AccessKeyAge["human"] = []Stage{
					{At: 60, Action: ActionNotify, Severity: SeverityMedium},
					{At: 75, Action: ActionDisable, Severity: SeverityHigh},
					{At: 95, Action: ActionDelete, Severity: SeverityHigh},
				}
			},
		},
		{
			name: "an empty stage list turns the age rule off for that class",
			yaml: "rules: {access_key_age: {machine: []}}",
			want: func(c *Config) { c.Rules.AccessKeyAge["machine"] = nil },
		},
		{
			name: "classes replace the defaults, whose stages go with them",
			yaml: "classes: [{name: robot, match: {path_prefix: /robots/}}]",
			want: func(c *Config) {
				c.Classes = []Class{{Name: "robot", Match: Match{PathPrefix: "/robots/"}}}
				delete(c.Rules.AccessKeyAge, "machine")
				delete(c.Rules.SigningCertAge, "machine")
				delete(c.Rules.ServiceCredentialAge, "machine")
			},
		},
		{
			name: "new class with its own stages",
			yaml: "classes:\n  - {name: machine, match: {tags: {UserType: machine}}}\n  - {name: ci, match: {names: [\"ci-*\"]}}\nrules:\n  access_key_age:\n    ci: [{at: 30, action: notify}]\n",
			want: func(c *Config) {
				c.Classes = append(c.Classes, Class{Name: "ci", Match: Match{Names: []string{"ci-*"}}})
				c.Rules.AccessKeyAge["ci"] = []Stage{{At: 30, Action: ActionNotify, Severity: SeverityMedium}}
			},
		},
		{
			name: "lists replace the default list",
			yaml: "notify: {users: {email_tags: [Owner]}}",
			want: func(c *Config) { c.Notify.Users.EmailTags = []string{"Owner"} },
		},
		{
			name: "an empty list empties it",
			yaml: "notify: {users: {email_tags: []}}",
			want: func(c *Config) { c.Notify.Users.EmailTags = nil },
		},
		{
			name: "null keeps the default",
			yaml: "accounts:\nrules:\n  access_key_unused: ~\n  access_key_age: {machine: }\nnotify: {users: {email_tags: }}\n",
			want: func(c *Config) {},
		},
		{
			name: "unquoted account IDs read as written, leading zero included",
			yaml: "accounts:\n  list:\n    - id: 012345678901\n      role_arn: arn:aws:iam::012345678901:role/Audit\n    - {id: 222222222222}\nenforce: {allowed_accounts: [222222222222]}\n",
			want: func(c *Config) {
				c.Accounts.List = []AccountTarget{
					{ID: "012345678901", RoleARN: "arn:aws:iam::012345678901:role/Audit"},
					{ID: "222222222222"},
				}
				c.Enforce.AllowedAccounts = []string{"222222222222"}
			},
		},
		{
			name: "organization",
			yaml: "accounts: {organization: {role_name: KeywardenAudit, exclude: [\"111111111111\"], ous: [ou-ab12-cdef3456]}, parallel: 16}",
			want: func(c *Config) {
				c.Accounts.Organization = &Organization{RoleName: "KeywardenAudit", Exclude: []string{"111111111111"}, OUs: []string{"ou-ab12-cdef3456"}}
				c.Accounts.Parallel = 16
			},
		},
		{
			name: "until as a YAML timestamp and as a string",
			yaml: "exemptions:\n  - {users: [a], reason: r, until: 2027-01-31}\n  - {tags: {team: x}, reason: r, until: \"2027-02-01\"}\n",
			want: func(c *Config) {
				c.Exemptions = []Exemption{
					{Users: []string{"a"}, Reason: "r", Until: mustDate(t, "2027-01-31")},
					{Tags: map[string]string{"team": "x"}, Reason: "r", Until: mustDate(t, "2027-02-01")},
				}
			},
		},
		{
			name: "empty stage lists switch the signing certificate rule off",
			yaml: "rules: {signing_certificate_age: {human: [], machine: []}}",
			want: func(c *Config) { c.Rules.SigningCertAge = map[string][]Stage{"human": nil, "machine": nil} },
		},
		{
			name: "service credential stages of one class, severities filled in; the others take their access keys'",
			yaml: "rules: {service_credential_age: {machine: [{at: 30, action: notify}, {at: 60, action: delete}]}}",
			want: func(c *Config) {
				c.Rules.ServiceCredentialAge = map[string][]Stage{
					"machine": {{At: 30, Action: ActionNotify, Severity: SeverityMedium}, {At: 60, Action: ActionDelete, Severity: SeverityHigh}}}
			},
		},
		{
			name: "ssh_key_age without max_age takes 90",
			yaml: "rules: {ssh_key_age: {users: {groups: [git]}, max_age: ~}}",
			want: func(c *Config) {
				c.Rules.SSHKeyAge = &SSHKeyRule{Users: Match{Groups: []string{"git"}}, MaxAge: DefaultSSHKeyMaxAge}
			},
		},
		{
			name: "ssh_key_age with its own max_age",
			yaml: "rules: {ssh_key_age: {users: {names: [\"git-*\"]}, max_age: 30, severity: low}}",
			want: func(c *Config) {
				c.Rules.SSHKeyAge = &SSHKeyRule{Users: Match{Names: []string{"git-*"}}, MaxAge: 30, Severity: SeverityLow}
			},
		},
		{
			name: "the CIS rules' thresholds and off switches",
			yaml: "rules:\n  root_recent_use: {within: 1}\n  password_policy: {min_length: 16, reuse_prevention: 0}\n  two_active_keys: {enabled: false}\n  console_and_keys: {severity: low}\n  dormant_user: {after: 180}\n",
			want: func(c *Config) {
				off := false
				c.Rules.RootRecentUse.Within = 1
				c.Rules.PasswordPolicy.MinLength, c.Rules.PasswordPolicy.ReusePrevention = 16, 0
				c.Rules.TwoActiveKeys.Enabled = &off
				c.Rules.ConsoleAndKeys.Severity = SeverityLow
				c.Rules.DormantUser.After = 180
			},
		},
		{
			name: "integers are accepted where a number is wanted",
			yaml: "enforce: {max_fraction: 1}\nnotify: {rate_per_second: 2.5}",
			want: func(c *Config) { c.Enforce.MaxFraction = 1; c.Notify.RatePerSecond = 2.5 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("keywarden.yaml", []byte("version: 1\n"+tt.yaml))
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.yaml, err)
			}
			want := Default()
			tt.want(want)
			if diff := cmp.Diff(want, got, dateEqual); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.yaml, diff)
			}
		})
	}
}

func TestParseAnchorsAndMergeKeys(t *testing.T) {
	src := `version: 1
notify:
  users: {allowed_domains: &doms [example.com, example.org]}
  admins: {emails: [a@example.com]}
  from: sec@example.com
enforce:
  <<: {mode: apply, max_actions_per_run: 5}
  max_actions_per_run: 7
  allowed_accounts: ["123456789012"]
exemptions:
  - {groups: [ops], reason: r, accounts: ["123456789012"]}
`
	got, err := Parse("keywarden.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse error: %v", err)
	}
	want := Default()
	want.Notify.Users.AllowedDomains = []string{"example.com", "example.org"}
	want.Notify.Admins.Emails = []string{"a@example.com"}
	want.Notify.From = "sec@example.com"
	want.Enforce.Mode = ModeApply
	want.Enforce.MaxActionsPerRun = 7 // the mapping's own key beats the merged one
	want.Enforce.AllowedAccounts = []string{"123456789012"}
	want.Exemptions = []Exemption{{Groups: []string{"ops"}, Reason: "r", Accounts: []string{"123456789012"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

// TestParseDoesNotShareDefaults guards against decoding through a pointer
// that Default() shares between rules (all Enabled fields point at one bool).
func TestParseDoesNotShareDefaults(t *testing.T) {
	got, err := Parse("k.yaml", []byte("version: 1\nrules: {password_unused: {enabled: false}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if *got.Rules.PasswordUnused.Enabled {
		t.Errorf("password_unused.enabled = true; want false")
	}
	for name, e := range map[string]*bool{
		"access_key_unused": got.Rules.AccessKeyUnused.Enabled,
		"password_expiry":   got.Rules.PasswordExpiry.Enabled,
		"mfa_missing":       got.Rules.MFAMissing.Enabled,
		"root_access_key":   got.Rules.RootAccessKey.Enabled,
		"username_is_email": got.Notify.Users.UsernameIsEmail,
	} {
		if !*e {
			t.Errorf("%s = false; want true (only password_unused was turned off)", name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // the whole error, lines joined by \n
	}{
		// Versions.
		{"missing version", "rules: {}\n",
			"k.yaml:1: version: required; add `version: 1`"},
		{"empty file", "",
			"k.yaml: version: required; add `version: 1`"},
		{"comments only", "# nothing\n",
			"k.yaml: version: required; add `version: 1`"},
		{"version 2", "version: 2\n",
			"k.yaml:1: version: unsupported config version 2 (this keywarden understands 1)"},
		{"version as a string", "version: \"1\"\n",
			`k.yaml:1: version: want a whole number, got "1"`},

		// Unknown keys, at several depths.
		{"unknown top-level key", "version: 1\nrulez: {}\n",
			"k.yaml:2: rulez: unknown key (did you mean rules?)"},
		{"unknown key, no close match", "version: 1\ncolour: blue\n",
			"k.yaml:2: colour: unknown key (valid keys here: version, accounts, classes, rules, exemptions, notify, enforce, state, rotate)"},
		{"unknown rule", "version: 1\nrules:\n  acess_key_age: {}\n",
			"k.yaml:3: rules.acess_key_age: unknown key (did you mean access_key_age?)"},
		{"unknown key in a stage", "version: 1\nrules:\n  access_key_age:\n    human:\n      - at: 70\n        actoin: notify\n",
			"k.yaml:6: rules.access_key_age.human[0].actoin: unknown key (did you mean action?)"},
		{"unknown key in a class match", "version: 1\nclasses:\n  - name: bots\n    match:\n      tag: {a: b}\n",
			"k.yaml:4: classes[0].match: needs at least one of tags, path_prefix, groups or names\n" +
				"k.yaml:5: classes[0].match.tag: unknown key (did you mean tags?)"},
		{"unknown key in notify.users", "version: 1\nnotify:\n  users:\n    vai: ses\n",
			"k.yaml:4: notify.users.vai: unknown key (did you mean via?)"},
		{"odd key names are quoted", "version: 1\nstate: {\"u.rl\": 1}\n",
			`k.yaml:2: state["u.rl"]: unknown key (did you mean url?)`},

		// Wrong types.
		{"string for a number", "version: 1\nrules:\n  access_key_unused:\n    after: thirty\n",
			`k.yaml:4: rules.access_key_unused.after: want a whole number, got "thirty"`},
		{"fraction for a whole number", "version: 1\nrules: {password_unused: {after: 1.5}}\n",
			"k.yaml:2: rules.password_unused.after: want a whole number, got 1.5"},
		{"mapping for a list", "version: 1\nclasses:\n  name: bots\n",
			"k.yaml:2: classes: want a list, got a mapping"},
		{"list for a mapping", "version: 1\nenforce: [apply]\n",
			"k.yaml:2: enforce: want a mapping, got a list"},
		{"yes is not a boolean", "version: 1\nrules: {mfa_missing: {enabled: yes}}\n",
			`k.yaml:2: rules.mfa_missing.enabled: want true or false, got "yes"`},
		{"list for a string", "version: 1\nstate: {url: [a]}\n",
			"k.yaml:2: state.url: want a string, got a list"},
		{"bad date", "version: 1\nexemptions:\n  - {users: [a], reason: r, until: 31/01/2027}\n",
			`k.yaml:3: exemptions[0].until: want a date (YYYY-MM-DD), got "31/01/2027"`},
		{"date and time", "version: 1\nexemptions:\n  - {users: [a], reason: r, until: 2027-01-31T10:00:00Z}\n",
			"k.yaml:3: exemptions[0].until: want a date (YYYY-MM-DD), got 2027-01-31T10:00:00Z"},

		// YAML structure.
		{"duplicate key", "version: 1\nstate: {url: sqlite://a.db}\nstate: {url: sqlite://b.db}\n",
			"k.yaml:3: state: duplicate key (first at line 2)"},
		{"syntax error", "version: 1\nrules: [\n",
			"k.yaml:2:8: invalid YAML: did not find expected node content"},
		// yaml.v3 alone says line 1: where the top-level mapping starts,
		// counted from 0.
		{"syntax error deep in a mapping", "# comment\nversion: 1\nrules:\n  mfa_missing:\n    enabled: true\n  - severity: high\n",
			"k.yaml:6:3: invalid YAML: did not find expected key"},
		{"two documents", "version: 1\n---\nversion: 1\n",
			"k.yaml:2: more than one YAML document; keywarden reads one (remove the extra ---)"},
		{"not a mapping", "- version: 1\n",
			"k.yaml:1: the config must be a mapping of keys (version, rules, …), got a list"},
		{"bad merge", "version: 1\nenforce:\n  <<: 3\n",
			"k.yaml:3: enforce: a merge key (<<) needs a mapping or a list of mappings, got 3"},

		// Errors are sorted by line and all reported.
		{"several problems", "version: 1\nenforce: {mode: on}\nrules:\n  access_key_age:\n    human:\n      - {at: 70, action: notify}\n      - {at: 80, action: disabel}\naccounts: {parallel: 0}\n",
			"k.yaml:2: enforce.mode: unknown mode \"on\" (want dry_run or apply)\n" +
				"k.yaml:7: rules.access_key_age.human[1].action: unknown action \"disabel\" (want notify, rotate, disable or delete)\n" +
				"k.yaml:8: accounts.parallel: must be between 1 and 64 (got 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("k.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, nil; want error %q", tt.yaml, got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error =\n%s\nwant\n%s", tt.yaml, err, tt.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("Parse(%q) error is not a *ConfigError: %T", tt.yaml, err)
			}
		})
	}
}

// TestParseValidationLines checks that every semantic check is reported at
// the line of the key it names.
func TestParseValidationLines(t *testing.T) {
	tests := []struct {
		name string
		yaml string // after "version: 1\n"
		want string
	}{
		{"class without name", "classes:\n  - match: {groups: [bots]}\n",
			"k.yaml:3: classes[0].name: required"},
		{"class named human", "classes:\n  - name: human\n    match: {groups: [bots]}\n",
			`k.yaml:3: classes[0].name: "human" is reserved for users no class matches; pick another name`},
		{"class name with a space", "classes:\n  - {name: my bots, match: {groups: [bots]}}\n",
			`k.yaml:3: classes[0].name: "my bots" is not a valid class name (use letters, digits, - and _)`},
		{"duplicate class", "classes:\n  - {name: bots, match: {groups: [a]}}\n  - {name: bots, match: {groups: [b]}}\n",
			`k.yaml:4: classes[1].name: duplicate class "bots" (first defined at classes[0])`},
		{"class without criteria", "classes:\n  - name: bots\n    match: {}\n",
			"k.yaml:4: classes[0].match: needs at least one of tags, path_prefix, groups or names"},
		{"bad glob", "classes:\n  - name: bots\n    match:\n      names: [\"bot-*\", \"[bot\"]\n",
			`k.yaml:5: classes[0].match.names[1]: bad glob "[bot": syntax error in pattern`},
		{"relative path prefix", "classes:\n  - {name: bots, match: {path_prefix: bots/}}\n",
			`k.yaml:3: classes[0].match.path_prefix: "bots/" must start with / (IAM paths look like /service/)`},
		{"stages for an unknown class", "rules:\n  access_key_age:\n    robots: [{at: 10, action: notify}]\n",
			`k.yaml:4: rules.access_key_age.robots: unknown class "robots" (define it under classes, or use human)`},
		{"stages for a misspelt class", "rules:\n  access_key_age:\n    machnie: [{at: 10, action: notify}]\n",
			`k.yaml:4: rules.access_key_age.machnie: unknown class "machnie" (did you mean machine?)`},
		{"stage at 0", "rules:\n  access_key_age:\n    human:\n      - {at: 0, action: notify}\n",
			"k.yaml:5: rules.access_key_age.human[0].at: must be between 1 and 36500 (got 0)"},
		{"stages out of order", "rules:\n  access_key_age:\n    human:\n      - {at: 80, action: notify}\n      - {at: 80, action: disable}\n",
			"k.yaml:6: rules.access_key_age.human[1].at: stages must ascend: 80 is not after the previous stage's 80"},
		{"disable after delete", "rules:\n  access_key_age:\n    human:\n      - {at: 70, action: delete}\n      - {at: 80, action: disable}\n",
			"k.yaml:6: rules.access_key_age.human[1].action: disable after the delete stage at 70 days; a deleted credential cannot be disabled"},
		{"bad severity", "rules:\n  access_key_age:\n    human:\n      - {at: 70, action: notify, severity: urgent}\n",
			`k.yaml:5: rules.access_key_age.human[0].severity: unknown severity "urgent" (want info, low, medium, high or critical)`},
		{"unused after 0", "rules:\n  access_key_unused:\n    after: 0\n",
			"k.yaml:4: rules.access_key_unused.after: must be between 1 and 36500 (got 0)"},
		{"unused key deleted", "rules:\n  access_key_unused: {action: delete}\n",
			`k.yaml:3: rules.access_key_unused.action: unknown action "delete" (want notify or disable)`},
		{"unused password disabled", "rules:\n  password_unused: {action: disable}\n",
			`k.yaml:3: rules.password_unused.action: unknown action "disable" (want notify or remove_password)`},
		{"negative warn_before", "rules:\n  password_expiry: {warn_before: -1, max_age: -2}\n",
			"k.yaml:3: rules.password_expiry.warn_before: must be between 0 and 36500 (got -1)\n" +
				"k.yaml:3: rules.password_expiry.max_age: must be between 0 and 36500 (got -2)"},
		{"mfa disable", "rules:\n  mfa_missing: {action: disable}\n",
			`k.yaml:3: rules.mfa_missing.action: only notify is allowed; keywarden cannot add MFA for a user (got "disable")`},
		{"root delete", "rules:\n  root_access_key:\n    action: delete\n",
			`k.yaml:4: rules.root_access_key.action: only notify is allowed; the root user's credentials are never remediated (got "delete")`},
		{"rule severity", "rules:\n  root_access_key: {severity: extreme}\n",
			`k.yaml:3: rules.root_access_key.severity: unknown severity "extreme" (want info, low, medium, high or critical)`},
		{"exemption without reason", "exemptions:\n  - users: [bob]\n",
			"k.yaml:3: exemptions[0].reason: required; say why the exemption exists (it is shown in every report)"},
		{"exemption with a blank reason", "exemptions:\n  - {users: [bob], reason: \"  \"}\n",
			"k.yaml:3: exemptions[0].reason: required; say why the exemption exists (it is shown in every report)"},
		{"exemption for nobody", "exemptions:\n  - {reason: legacy, rules: [mfa_missing]}\n",
			"k.yaml:3: exemptions[0]: needs at least one of users, tags or groups"},
		{"exemption for an unknown rule", "exemptions:\n  - reason: legacy\n    users: [bob]\n    rules: [access_key_age, acces_key_unused]\n",
			`k.yaml:5: exemptions[0].rules[1]: unknown rule "acces_key_unused" (did you mean access_key_unused?)`},
		{"exemption in a bad account", "exemptions:\n  - {reason: legacy, users: [bob], accounts: [\"12345\"]}\n",
			`k.yaml:3: exemptions[0].accounts[0]: "12345" is not an AWS account ID (want 12 digits)`},
		{"bad from", "notify:\n  from: security\n",
			`k.yaml:3: notify.from: "security" is not an email address`},
		{"from required for ses", "notify:\n  users: {via: ses}\n",
			"k.yaml:2: notify.from: required when notify.users.via is ses"},
		{"bad admin address", "notify:\n  admins:\n    emails: [ok@example.com, \"not an address\"]\n",
			`k.yaml:4: notify.admins.emails[1]: "not an address" is not an email address`},
		{"bad domain", "notify:\n  users: {allowed_domains: [example.com, \"@example.org\"]}\n",
			`k.yaml:3: notify.users.allowed_domains[1]: "@example.org" is not a domain name (want e.g. example.com)`},
		{"remind_every 0", "notify:\n  users: {remind_every: 0}\n",
			"k.yaml:3: notify.users.remind_every: must be between 1 and 36500 (got 0)"},
		{"unknown channel", "notify:\n  users: {via: pigeon}\n",
			`k.yaml:3: notify.users.via: unknown channel "pigeon" (want ses, smtp or outbox)`},
		{"send_when", "notify:\n  admins: {send_when: weekly}\n",
			`k.yaml:3: notify.admins.send_when: unknown value "weekly" (want findings or always)`},
		{"webhook URL in the file", "notify:\n  admins: {slack_webhook_env: \"https://hooks.slack.com/services/T/B/X\"}\n",
			"k.yaml:3: notify.admins.slack_webhook_env: name the environment variable that holds the webhook URL, not the URL itself (secrets never go in the config file)"},
		{"bad topic", "notify:\n  admins: {sns_topic_arn: \"...\"}\n",
			`k.yaml:3: notify.admins.sns_topic_arn: "..." is not an SNS topic ARN (want arn:aws:sns:REGION:ACCOUNT:NAME)`},
		{"negative rate", "notify: {rate_per_second: -1}\n",
			"k.yaml:2: notify.rate_per_second: must be 0 or more (got -1)"},
		{"unknown mode", "enforce: {mode: yolo}\n",
			`k.yaml:2: enforce.mode: unknown mode "yolo" (want dry_run or apply)`},
		{"allowed account", "enforce:\n  allowed_accounts: [\"123456789012\", \"1234567890123\"]\n",
			`k.yaml:3: enforce.allowed_accounts[1]: "1234567890123" is not an AWS account ID (want 12 digits)`},
		{"negative guards", "enforce: {max_actions_per_run: -1, grace_after_disable: -1}\n",
			"k.yaml:2: enforce.max_actions_per_run: must be 0 or more (got -1)\n" +
				"k.yaml:2: enforce.grace_after_disable: must be between 0 and 36500 (got -1)"},
		{"max_fraction 0", "enforce: {max_fraction: 0}\n",
			"k.yaml:2: enforce.max_fraction: must be more than 0 and at most 1 (got 0)"},
		{"max_fraction above 1", "enforce:\n  max_fraction: 1.5\n",
			"k.yaml:3: enforce.max_fraction: must be more than 0 and at most 1 (got 1.5)"},
		{"organization and list", "accounts:\n  organization: {role_name: Audit}\n  list: [{id: \"123456789012\"}]\n",
			"k.yaml:2: accounts: organization and list are mutually exclusive; keep one"},
		{"organization without role", "accounts:\n  organization: {exclude: [\"123456789012\"]}\n",
			"k.yaml:3: accounts.organization.role_name: required (the role keywarden assumes in each account, e.g. KeywardenAudit)"},
		{"role ARN for a role name", "accounts:\n  organization: {role_name: \"arn:aws:iam::123456789012:role/Audit\"}\n",
			`k.yaml:3: accounts.organization.role_name: want the role's name, not its ARN ("arn:aws:iam::123456789012:role/Audit")`},
		{"bad OU", "accounts:\n  organization: {role_name: Audit, ous: [engineering]}\n",
			`k.yaml:3: accounts.organization.ous[0]: "engineering" is not an organizational unit or root ID (want ou-xxxx-xxxxxxxx or r-xxxx)`},
		{"short account ID", "accounts:\n  list:\n    - id: \"12345678901\"\n",
			`k.yaml:4: accounts.list[0].id: "12345678901" is not an AWS account ID (want 12 digits)`},
		{"duplicate account", "accounts:\n  list:\n    - id: \"123456789012\"\n    - id: \"123456789012\"\n",
			"k.yaml:5: accounts.list[1].id: duplicate account 123456789012 (also accounts.list[0])"},
		{"bad role ARN", "accounts:\n  list:\n    - {id: \"123456789012\", role_arn: \"arn:aws:iam::123456789012:user/bob\"}\n",
			`k.yaml:4: accounts.list[0].role_arn: "arn:aws:iam::123456789012:user/bob" is not an IAM role ARN (want arn:aws:iam::ACCOUNT:role/NAME)`},
		{"role in another account", "accounts:\n  list:\n    - id: \"123456789012\"\n      role_arn: arn:aws:iam::210987654321:role/Audit\n",
			"k.yaml:5: accounts.list[0].role_arn: the role is in account 210987654321, not 123456789012"},
		{"signing certificate stages for an unknown class", "rules:\n  signing_certificate_age:\n    robots: [{at: 10, action: notify}]\n",
			`k.yaml:4: rules.signing_certificate_age.robots: unknown class "robots" (define it under classes, or use human)`},
		{"service credential stages out of order", "rules:\n  service_credential_age:\n    human:\n      - {at: 80, action: notify}\n      - {at: 70, action: delete}\n",
			"k.yaml:6: rules.service_credential_age.human[1].at: stages must ascend: 70 is not after the previous stage's 80"},
		{"service credential disable after delete", "rules:\n  service_credential_age:\n    human:\n      - {at: 70, action: delete}\n      - {at: 80, action: disable}\n",
			"k.yaml:6: rules.service_credential_age.human[1].action: disable after the delete stage at 70 days; a deleted credential cannot be disabled"},
		{"ssh_key_age without users", "rules:\n  ssh_key_age:\n    max_age: 30\n",
			"k.yaml:3: rules.ssh_key_age.users: needs at least one of tags, path_prefix, groups or names"},
		{"ssh_key_age max_age 0", "rules:\n  ssh_key_age:\n    users: {groups: [git]}\n    max_age: 0\n",
			"k.yaml:5: rules.ssh_key_age.max_age: must be between 1 and 36500 (got 0)"},
		{"dormant_user disable", "rules:\n  dormant_user:\n    action: disable\n",
			`k.yaml:4: rules.dormant_user.action: only notify is allowed; keywarden does not remove users (got "disable")`},
		{"password_policy min_length 200", "rules:\n  password_policy: {min_length: 200}\n",
			"k.yaml:3: rules.password_policy.min_length: must be between 6 and 128 (got 200)"},
		{"root_recent_use within 0", "rules:\n  root_recent_use:\n    within: 0\n",
			"k.yaml:4: rules.root_recent_use.within: must be between 1 and 36500 (got 0)"},
		{"service_credential_expiry severity", "rules:\n  service_credential_expiry: {severity: urgent}\n",
			`k.yaml:3: rules.service_credential_expiry.severity: unknown severity "urgent" (want info, low, medium, high or critical)`},
		{"exemption for a misspelt new rule", "exemptions:\n  - users: [a]\n    reason: r\n    rules: [two_active_key]\n",
			`k.yaml:5: exemptions[0].rules[0]: unknown rule "two_active_key" (did you mean two_active_keys?)`},
		{"parallel too high", "accounts: {parallel: 65}\n",
			"k.yaml:2: accounts.parallel: must be between 1 and 64 (got 65)"},
		{"state URL scheme", "state:\n  url: postgres://db/keywarden\n",
			`k.yaml:3: state.url: "postgres://db/keywarden" is not a state URL (want sqlite://PATH or dynamodb://TABLE)`},
		{"sqlite without path", "state: {url: \"sqlite://\"}\n",
			"k.yaml:2: state.url: sqlite:// needs a file path, e.g. sqlite://keywarden.db"},
		{"dynamodb table", "state: {url: \"dynamodb://a\"}\n",
			`k.yaml:2: state.url: "a" is not a DynamoDB table name (3-255 letters, digits, _ . -)`},
		{"empty state URL", "state: {url: \"\"}\n",
			"k.yaml:2: state.url: required (want sqlite://PATH or dynamodb://TABLE)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\n" + tt.yaml
			_, err := Parse("k.yaml", []byte(src))
			if err == nil {
				t.Fatalf("Parse(%q) error = nil; want %q", src, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error =\n%s\nwant\n%s", src, err, tt.want)
			}
		})
	}
}

func TestConfigErrorError(t *testing.T) {
	tests := []struct {
		e    ConfigError
		want string
	}{
		{ConfigError{File: "k.yaml", Line: 3, Path: "rules.x", Msg: "bad"}, "k.yaml:3: rules.x: bad"},
		{ConfigError{File: "k.yaml", Path: "version", Msg: "required"}, "k.yaml: version: required"},
		{ConfigError{File: "k.yaml", Line: 2, Msg: "invalid YAML"}, "k.yaml:2: invalid YAML"},
		{ConfigError{Path: "state.url", Msg: "required"}, "state.url: required"},
		{ConfigError{Line: 4, Msg: "m"}, "line 4: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q; want %q", tt.e, got, tt.want)
		}
	}
}

func TestKeyPathRoundTrip(t *testing.T) {
	tests := []struct {
		p    keyPath
		want string
	}{
		{keyPath{}.key("rules").key("access_key_age").key("human").idx(1).key("action"), "rules.access_key_age.human[1].action"},
		{keyPath{}.key("exemptions").idx(0).key("tags").key("keywarden:exempt"), `exemptions[0].tags["keywarden:exempt"]`},
		{keyPath{}.key("a.b").key("c"), `["a.b"].c`},
		{keyPath{}.key(`x"]y`), `["x\"]y"]`},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("keyPath.String() = %q; want %q", got, tt.want)
		}
		back, ok := parseKeyPath(tt.want)
		if !ok || !cmp.Equal(back, tt.p, cmp.AllowUnexported(segment{})) {
			t.Errorf("parseKeyPath(%q) = %v, %v; want %v", tt.want, back, ok, tt.p)
		}
	}
}

func TestLoadTestdata(t *testing.T) {
	valid, _ := filepath.Glob("testdata/config/valid-*.yaml")
	invalid, _ := filepath.Glob("testdata/config/invalid-*.yaml")
	if len(valid) == 0 || len(invalid) == 0 {
		t.Fatalf("no testdata: %d valid, %d invalid", len(valid), len(invalid))
	}
	for _, file := range valid {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if _, err := Load(file); err != nil {
				t.Errorf("Load(%s) error:\n%v", file, err)
			}
		})
	}
	for _, file := range invalid {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) error = nil; want the errors in the .err file", file)
			}
			golden.Assert(t, err.Error()+"\n", strings.TrimSuffix(file, ".yaml")+".err")
		})
	}
}

func TestLoadExample(t *testing.T) {
	const file = "../../examples/keywarden.yaml"
	got, err := Load(file)
	if err != nil {
		t.Fatalf("Load(%s) error:\n%v", file, err)
	}
	// The example spells out the defaults for the rules; a few keys differ.
	want := Default()
	want.Exemptions = []Exemption{
		{Users: []string{"ci-legacy"}, Reason: "vendor rotates on 2027-01-31", Until: mustDate(t, "2027-01-31")},
		{Tags: map[string]string{"keywarden:exempt": "true"}, Reason: "managed elsewhere"},
	}
	want.Notify.From = "security@example.com"
	want.Notify.Users.AllowedDomains = []string{"example.com"}
	want.Notify.Users.Via = "ses"
	want.Notify.Admins = NotifyAdmin{
		Emails:          []string{"sec@example.com"},
		SNSTopicARN:     "arn:aws:sns:eu-west-1:123456789012:keywarden-digest",
		SlackWebhookEnv: "KEYWARDEN_SLACK_WEBHOOK",
		SendWhen:        SendWhenFindings,
		MaxItems:        DefaultDigestMaxItems,
	}
	if diff := cmp.Diff(want, got, dateEqual); diff != "" {
		t.Errorf("Load(%s) (-want +got):\n%s", file, diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) error = %v; want one wrapping os.ErrNotExist", err)
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		t.Errorf("Load(missing) error is a *ConfigError (%v); want a read error", ce)
	}
	if !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("Load(missing) error = %q; want it to name the file", err)
	}
}

func TestLoadJoinsConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "k.yaml")
	if err := os.WriteFile(file, []byte("version: 1\nenforce: {mode: x}\nstate: {url: y}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(file)
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("Load error %v (%T) does not unwrap to a list", err, err)
	}
	var got []ConfigError
	for _, e := range joined.Unwrap() {
		ce, ok := e.(*ConfigError)
		if !ok {
			t.Fatalf("error %v is %T; want *ConfigError", e, e)
		}
		got = append(got, *ce)
	}
	want := []ConfigError{
		{File: file, Line: 2, Path: "enforce.mode", Msg: `unknown mode "x" (want dry_run or apply)`},
		{File: file, Line: 3, Path: "state.url", Msg: `"y" is not a state URL (want sqlite://PATH or dynamodb://TABLE)`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load errors (-want +got):\n%s", diff)
	}
}
