package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
)

func TestNotifyChannelKeys(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each a line of the error; none: valid
	}{
		{"all set", `version: 1
notify:
  from: sec@example.com
  users: { via: smtp }
  admins: { slack_webhook_ssm: /kw/slack, webhook_url_env: KW_HOOK }
  console_url: "https://sso.example.com/start?acct={account}"
  ses: { region: eu-west-1, configuration_set: kw-mail }
  smtp: { host: smtp.example.com, port: 465, username: kw, password_ssm: "arn:aws:ssm:eu-west-1:123456789012:parameter/kw/smtp", starttls: false }
  outbox: { dir: /var/spool/keywarden }
  templates: { user_html: mail/user.html }
`, nil},
		{"smtp without host", "version: 1\nnotify:\n  from: a@example.com\n  users: { via: smtp }\n",
			[]string{"k.yaml:2: notify.smtp.host: required when notify.users.via is smtp (the mail server, e.g. smtp.example.com)"}},
		{"bad values", `version: 1
notify:
  admins:
    slack_webhook_env: KW_SLACK
    slack_webhook_ssm: /kw/slack
    webhook_url_env: "https://hooks.example.com/x"
    webhook_url_ssm: "https://hooks.example.com/x"
  console_url: "http://insecure.example.com"
  ses: { region: Europe, configuration_set: "has space" }
  smtp: { host: "smtp.example.com:25", port: 0, password_env: "pass word", password_ssm: "a b" }
  outbox: { dir: "" }
`, []string{
			"k.yaml:5: notify.admins.slack_webhook_ssm: set slack_webhook_env or slack_webhook_ssm, not both",
			"k.yaml:6: notify.admins.webhook_url_env: name the environment variable that holds the webhook URL, not the URL itself (secrets never go in the config file)",
			"k.yaml:7: notify.admins.webhook_url_ssm: set webhook_url_env or webhook_url_ssm, not both",
			"k.yaml:7: notify.admins.webhook_url_ssm: name the SSM parameter that holds the webhook URL, not the URL itself (secrets never go in the config file)",
			`k.yaml:8: notify.console_url: "http://insecure.example.com" is not an https:// URL`,
			`k.yaml:9: notify.ses.region: "Europe" is not an AWS region (want e.g. eu-west-1)`,
			`k.yaml:9: notify.ses.configuration_set: "has space" is not an SES configuration set name (1-64 letters, digits, _ and -)`,
			`k.yaml:10: notify.smtp.host: "smtp.example.com:25" is not a host name (give the port in smtp.port)`,
			"k.yaml:10: notify.smtp.port: must be between 1 and 65535 (got 0)",
			`k.yaml:10: notify.smtp.password_env: "pass word" is not an environment variable name (the password itself never goes in the config file)`,
			`k.yaml:10: notify.smtp.password_ssm: "a b" is not an SSM parameter name (want /path/name or its ARN)`,
			"k.yaml:11: notify.outbox.dir: required (the directory the outbox channel writes .eml files to)",
		}},
		{"unknown template key", "version: 1\nnotify:\n  templates: { user_htm: x.html }\n",
			[]string{"k.yaml:3: notify.templates.user_htm: unknown key (did you mean user_html?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("k.yaml", []byte(tt.yaml))
			got := []string{}
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse() errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyLine(t *testing.T) {
	data := []byte("version: 1\nnotify:\n  from: a@example.com\n  templates:\n    user_html: x.html\n")
	for path, want := range map[string]int{
		"notify.templates.user_html": 5,
		"notify.templates.user_text": 4, // absent: its nearest ancestor
		"notify":                     2,
		"rules.access_key_age":       1,
	} {
		if got := config.KeyLine(data, path); got != want {
			t.Errorf("KeyLine(%s) = %d; want %d", path, got, want)
		}
	}
	if got := config.KeyLine([]byte("{{{"), "notify"); got != 0 {
		t.Errorf("KeyLine(invalid YAML) = %d; want 0", got)
	}
}
