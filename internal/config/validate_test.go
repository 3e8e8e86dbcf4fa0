package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateDefault(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v; want nil", err)
	}
}

// TestValidateWithoutFile checks Validate on configs built in code: the
// errors carry the key path but no file or line.
func TestValidateWithoutFile(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"zero version", func(c *Config) { c.Version = 0 }, "version: required; add `version: 1`"},
		{"future version", func(c *Config) { c.Version = 3 }, "version: unsupported config version 3 (this keywarden understands 1)"},
		{"missing stage action", func(c *Config) { c.Rules.AccessKeyAge["machine"][1].Action = "" },
			"rules.access_key_age.machine[1].action: required (want notify, rotate, disable or delete)"},
		{"nil rules are allowed", func(c *Config) { c.Rules = Rules{} }, ""},
		{"stage without severity is allowed", func(c *Config) { c.Rules.AccessKeyAge["human"][0].Severity = "" }, ""},
		{"class name that needs quoting in the path", func(c *Config) {
			c.Rules.AccessKeyAge["svc.bots"] = []Stage{{At: 1, Action: ActionNotify}}
		}, `rules.access_key_age["svc.bots"]: unknown class "svc.bots" (define it under classes, or use human)`},
		{"ssh_key_age built without users or max_age", func(c *Config) { c.Rules.SSHKeyAge = &SSHKeyRule{} },
			"rules.ssh_key_age.users: needs at least one of tags, path_prefix, groups or names\n" +
				"rules.ssh_key_age.max_age: must be between 1 and 36500 (got 0)"},
		{"signing certificate stages for an unknown class", func(c *Config) {
			c.Rules.SigningCertAge = map[string][]Stage{"bots": {{At: 1, Action: ActionNotify}}}
		}, `rules.signing_certificate_age.bots: unknown class "bots" (define it under classes, or use human)`},
		{"info severity", func(c *Config) { c.Rules.MFAMissing.Severity = SeverityInfo }, ""},
		{"info severity on a stage that changes the key", func(c *Config) { c.Rules.AccessKeyAge["human"][1].Severity = SeverityInfo },
			"rules.access_key_age.human[1].severity: info is never mailed to the owner, so it cannot go with action disable (the owner must be told first): use low or higher"},
		{"info severity on a rule that removes passwords", func(c *Config) {
			c.Rules.PasswordUnused.Action, c.Rules.PasswordUnused.Severity = ActionRemovePassword, SeverityInfo
		}, "rules.password_unused.severity: info is never mailed to the owner, so it cannot go with action remove_password (the owner must be told first): use low or higher"},
		{"unused action missing", func(c *Config) { c.Rules.PasswordUnused.Action = "" },
			"rules.password_unused.action: required (want notify or remove_password)"},
		{"window", func(c *Config) {
			c.Enforce.Window = &Window{Days: []string{"Mon", "fri"}, Start: "09:00", End: "17:30", Timezone: "Europe/Berlin"}
		}, ""},
		{"window with bad values", func(c *Config) {
			c.Enforce.Window = &Window{Days: []string{"mon", "funday"}, Start: "9am", End: "25:00", Timezone: "Mars/Olympus"}
		}, `enforce.window.days[1]: unknown day "funday" (want mon, tue, wed, thu, fri, sat or sun)` + "\n" +
			`enforce.window.start: "9am" is not a time of day (want HH:MM, e.g. 09:00)` + "\n" +
			`enforce.window.end: "25:00" is not a time of day (want HH:MM, e.g. 17:00)` + "\n" +
			`enforce.window.timezone: "Mars/Olympus" is not a time zone (want an IANA name such as Europe/Berlin)`},
		{"window ending before it starts", func(c *Config) { c.Enforce.Window = &Window{Start: "17:00", End: "09:00"} },
			"enforce.window.end: must be after start (17:00), on the same day"},
		{"window starting at 24:00 never opens", func(c *Config) { c.Enforce.Window = &Window{Start: "24:00"} },
			`enforce.window.start: "24:00" is not a time of day (want HH:MM, e.g. 09:00)`},
		{"window ending at 24:00", func(c *Config) { c.Enforce.Window = &Window{Start: "22:00", End: "24:00"} }, ""},
		{"stop parameter", func(c *Config) { c.Enforce.StopParameter = "/keywarden/stop" }, ""},
		{"stop parameter that is a URL", func(c *Config) { c.Enforce.StopParameter = "https://example.com/stop" },
			`enforce.stop_parameter: "https://example.com/stop" is not an SSM parameter name (want /path/name or its ARN)`},
		{"stop parameter in another partition", func(c *Config) {
			c.Accounts.Partition = PartitionGovCloud
			c.Enforce.StopParameter = "arn:aws:ssm:us-east-1:111111111111:parameter/kw/stop"
		}, "enforce.stop_parameter: the parameter is in partition aws, not accounts.partition aws-us-gov"},
		{"protect", func(c *Config) {
			c.Enforce.Protect = []Protect{{Users: []string{"break-glass-*"}}, {KeyIDs: []string{"AKIAIOSFODNN7EXAMPLE"}, Accounts: []string{"123456789012"}, Reason: "CI"}}
		}, ""},
		{"protect with nothing to match, a bad glob, a bad key ID and account", func(c *Config) {
			c.Enforce.Protect = []Protect{{Reason: "nothing"}, {Users: []string{"[bad"}, KeyIDs: []string{"akia-lower"}, Accounts: []string{"12345"}}}
		}, "enforce.protect[0]: needs users or key_ids (or both)\n" +
			`enforce.protect[1].users[0]: bad glob "[bad": syntax error in pattern` + "\n" +
			`enforce.protect[1].key_ids[0]: "akia-lower" is not an access key ID (want e.g. AKIAIOSFODNN7EXAMPLE)` + "\n" +
			`enforce.protect[1].accounts[0]: "12345" is not an AWS account ID (want 12 digits)`},
		{"session name with a space", func(c *Config) { c.Accounts.SessionName = "key warden" },
			`accounts.session_name: "key warden" is not an AssumeRole session name (2-64 letters, digits and =,.@_-)`},
		{"too many attempts", func(c *Config) { c.Accounts.MaxAttempts = 50 },
			"accounts.max_attempts: must be between 1 and 20 (got 50)"},
		{"unknown partition", func(c *Config) { c.Accounts.Partition = "aws-eu" },
			`accounts.partition: unknown partition "aws-eu" (want aws, aws-us-gov or aws-cn)`},
		{"ARNs in the partition", func(c *Config) {
			c.Accounts.Partition = PartitionGovCloud
			c.Accounts.List = []AccountTarget{{ID: "222222222222", RoleARN: "arn:aws-us-gov:iam::222222222222:role/Audit"}}
			c.Notify.Admins.SNSTopicARN = "arn:aws-us-gov:sns:us-gov-west-1:111111111111:kw"
			c.Notify.Admins.SlackWebhookSSM = "arn:aws-us-gov:ssm:us-gov-west-1:111111111111:parameter/kw/slack"
			c.Notify.SES.Region = "us-gov-west-1"
		}, ""},
		{"ARNs and a region of another partition", func(c *Config) {
			c.Accounts.Partition = PartitionGovCloud
			c.Accounts.List = []AccountTarget{{ID: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/Audit"}}
			c.Notify.SES.Region = "cn-north-1"
			c.Notify.Admins.SNSTopicARN = "arn:aws-cn:sns:cn-north-1:111111111111:kw"
			c.Notify.Admins.WebhookURLSSM = "arn:aws:ssm:us-east-1:111111111111:parameter/kw/hook"
			c.Notify.SMTP.PasswordSSM = "/kw/smtp"
		}, "accounts.list[0].role_arn: the role is in partition aws, not accounts.partition aws-us-gov\n" +
			"notify.admins.sns_topic_arn: the topic is in partition aws-cn, not accounts.partition aws-us-gov\n" +
			"notify.admins.webhook_url_ssm: the parameter is in partition aws, not accounts.partition aws-us-gov\n" +
			"notify.ses.region: region cn-north-1 is in partition aws-cn, not accounts.partition aws-us-gov"},
		{"several, in order", func(c *Config) {
			c.Accounts.Parallel = 0
			c.Enforce.Mode = ""
			c.State.URL = ""
		}, "accounts.parallel: must be between 1 and 64 (got 0)\n" +
			`enforce.mode: unknown mode "" (want dry_run or apply)` + "\n" +
			"state.url: required (want sqlite://PATH or dynamodb://TABLE)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("Validate() = %q; want %q", got, tt.want)
			}
			if err == nil {
				return
			}
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("Validate() error %v is %T; want *ConfigError", e, e)
				}
				if ce.File != "" || ce.Line != 0 || ce.Path == "" {
					t.Errorf("Validate() error %#v: want a Path and no File or Line", ce)
				}
			}
		})
	}
}

// TestValidateKeyOrder: problems come in the order of the keys they name
// (the order of the schema and of keywarden.init.yaml), so that problems
// Parse reports on one line read in that order too.
func TestValidateKeyOrder(t *testing.T) {
	c := Default()
	c.Notify.RatePerSecond = -1
	c.Notify.Users.RemindEvery = 0
	c.Exemptions = []Exemption{{Reason: " "}}
	c.Accounts.Parallel = 0
	want := "accounts.parallel: must be between 1 and 64 (got 0)\n" +
		"exemptions[0]: needs at least one of users, tags or groups\n" +
		"exemptions[0].reason: required; say why the exemption exists (it is shown in every report)\n" +
		"notify.users.remind_every: must be between 1 and 36500 (got 0)\n" +
		"notify.rate_per_second: must be 0 or more (got -1)"
	if got := c.Validate(); got == nil || got.Error() != want {
		t.Errorf("Validate() =\n%v\nwant\n%s", got, want)
	}
	_, err := Parse("k.yaml", []byte("version: 1\nnotify: {rate_per_second: -1, users: {remind_every: 0}}\n"))
	if want := "k.yaml:2: notify.users.remind_every: must be between 1 and 36500 (got 0)\n" +
		"k.yaml:2: notify.rate_per_second: must be 0 or more (got -1)"; err == nil || err.Error() != want {
		t.Errorf("Parse() error =\n%v\nwant\n%s", err, want)
	}
}

// TestValidateEveryBadValueOfZeroConfig lists what an empty Config lacks:
// everything Default() fills in.
func TestValidateZeroConfig(t *testing.T) {
	err := (&Config{}).Validate()
	if err == nil {
		t.Fatal("Config{}.Validate() = nil; want errors")
	}
	want := []string{
		"version: required; add `version: 1`",
		"accounts.parallel: must be between 1 and 64 (got 0)",
		`accounts.session_name: "" is not an AssumeRole session name (2-64 letters, digits and =,.@_-)`,
		"accounts.max_attempts: must be between 1 and 20 (got 0)",
		"notify.users.remind_every: must be between 1 and 36500 (got 0)",
		`notify.users.via: unknown channel "" (want ses, smtp or outbox)`,
		`notify.admins.send_when: unknown value "" (want findings or always)`,
		`notify.admins.max_items: must be between 1 and 1000 (got 0)`,
		"notify.smtp.port: must be between 1 and 65535 (got 0)",
		"notify.outbox.dir: required (the directory the outbox channel writes .eml files to)",
		`enforce.mode: unknown mode "" (want dry_run or apply)`,
		"enforce.max_fraction: must be more than 0 and at most 1 (got 0)",
		"state.url: required (want sqlite://PATH or dynamodb://TABLE)",
		"rotate.secret_name: required (the pattern a rotation target's name must match, e.g. keywarden/{user})",
		"rotate.overlap_days: must be between 1 and 36500 (got 0)",
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("Config{}.Validate() =\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}
