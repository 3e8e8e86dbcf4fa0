package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

func TestRecipientsDetailed(t *testing.T) {
	no := false
	n := policy.NotifyUsers{EmailTags: []string{"Email", "OwnerEmail"}, AllowedDomains: []string{"example.com"}}
	tests := []struct {
		name  string
		user  inventory.User
		n     policy.NotifyUsers
		addrs []string
		probs []policy.RecipientProblem
	}{
		{"clean", inventory.User{Name: "alice", Tags: map[string]string{"Email": "alice@example.com"}}, n,
			[]string{"alice@example.com"}, nil},
		{"malformed tag, then a good one", inventory.User{Name: "bob", Tags: map[string]string{"Email": "bob at example", "OwnerEmail": "bob@example.com"}}, n,
			[]string{"bob@example.com"}, []policy.RecipientProblem{{Source: `tag "Email"`, Address: "bob at example", Reason: "is not an email address"}}},
		{"malformed tag only", inventory.User{Name: "carol", Tags: map[string]string{"Email": "not an address"}}, n,
			[]string{}, []policy.RecipientProblem{{Source: `tag "Email"`, Address: "not an address", Reason: "is not an email address"}}},
		{"outside allowed_domains", inventory.User{Name: "eve", Tags: map[string]string{"Email": "Eve <eve@Evil.test>"}}, n,
			[]string{}, []policy.RecipientProblem{{Source: `tag "Email"`, Address: "eve@evil.test",
				Reason: "is outside notify.users.allowed_domains (evil.test is not one of example.com)"}}},
		{"user name outside allowed_domains", inventory.User{Name: "dan@gmail.com"}, n,
			[]string{}, []policy.RecipientProblem{{Source: "user name", Address: "dan@gmail.com",
				Reason: "is outside notify.users.allowed_domains (gmail.com is not one of example.com)"}}},
		{"user name with @ but not an address", inventory.User{Name: "svc@"}, n,
			[]string{}, []policy.RecipientProblem{{Source: "user name", Address: "svc@", Reason: "is not an email address"}}},
		{"plain user name is no problem", inventory.User{Name: "svc-deploy"}, n, []string{}, nil},
		{"empty tag is no problem", inventory.User{Name: "svc", Tags: map[string]string{"Email": " "}}, n, []string{}, nil},
		{"username_is_email off", inventory.User{Name: "dan@example.com"}, policy.NotifyUsers{UsernameIsEmail: &no}, []string{}, nil},
		{"root", inventory.User{Name: inventory.RootUserName, Tags: map[string]string{"Email": "x"}}, n, []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addrs, probs := policy.RecipientsDetailed(&tt.user, tt.n)
			if diff := cmp.Diff(tt.addrs, addrs); diff != "" {
				t.Errorf("RecipientsDetailed(%s) addresses (-want +got):\n%s", tt.user.Name, diff)
			}
			if diff := cmp.Diff(tt.probs, probs); diff != "" {
				t.Errorf("RecipientsDetailed(%s) problems (-want +got):\n%s", tt.user.Name, diff)
			}
			if r := policy.Recipients(&tt.user, tt.n); !cmp.Equal(r, addrs) {
				t.Errorf("Recipients(%s) = %v; RecipientsDetailed gives %v", tt.user.Name, r, addrs)
			}
		})
	}
}

// TestEvaluateCarriesRecipientProblems: every finding of a user whose
// address was rejected says why (the run reports it to the admins).
func TestEvaluateCarriesRecipientProblems(t *testing.T) {
	cfg := policy.Default()
	cfg.Notify.Users.AllowedDomains = []string{"example.com"}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	snap := &inventory.Snapshot{AccountID: "123456789012", Users: []inventory.User{
		{Name: "eve", Tags: map[string]string{"Email": "eve@evil.test"}, AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: now.AddDate(0, 0, -75)}}},
		{Name: "ok", Tags: map[string]string{"Email": "ok@example.com"}, AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: now.AddDate(0, 0, -75)}}},
	}}
	var fs []policy.Finding
	for _, f := range policy.Evaluate(snap, cfg, now) {
		if f.Rule == policy.RuleAccessKeyAge {
			fs = append(fs, f)
		}
	}
	if len(fs) != 2 {
		t.Fatalf("Evaluate() = %d findings; want 2", len(fs))
	}
	if len(fs[0].RecipientProblems) != 1 || fs[0].RecipientProblems[0].Address != "eve@evil.test" || len(fs[0].Recipients) != 0 {
		t.Errorf("eve's finding: recipients %v, problems %v", fs[0].Recipients, fs[0].RecipientProblems)
	}
	if fs[1].RecipientProblems != nil {
		t.Errorf("ok's finding has problems %v; want nil", fs[1].RecipientProblems)
	}
}

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
			_, err := policy.Parse("k.yaml", []byte(tt.yaml))
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
		if got := policy.KeyLine(data, path); got != want {
			t.Errorf("KeyLine(%s) = %d; want %d", path, got, want)
		}
	}
	if got := policy.KeyLine([]byte("{{{"), "notify"); got != 0 {
		t.Errorf("KeyLine(invalid YAML) = %d; want 0", got)
	}
}
