package iampolicy_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

func cfgOf(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func actions(t *testing.T, cfg *config.Config, o iampolicy.Options) []string {
	t.Helper()
	d, err := iampolicy.For(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return d.Actions()
}

var scan = []string{"iam:GenerateCredentialReport", "iam:GetAccountAuthorizationDetails", "iam:GetAccountPasswordPolicy",
	"iam:GetCredentialReport", "iam:ListAccessKeys", "iam:ListAccountAliases"}

func with(base []string, more ...string) []string {
	out := append(slices.Clone(base), more...)
	slices.Sort(out)
	return out
}

// TestActionsFollowTheConfig: each feature of the config adds exactly its
// actions; write actions only for what the rules can do.
func TestActionsFollowTheConfig(t *testing.T) {
	notifyOnly := `version: 1
rules:
  access_key_age:
    human: [ {at: 70, action: notify}, {at: 90, action: notify} ]
`
	tests := []struct {
		name string
		yaml string
		opts iampolicy.Options
		want []string
	}{
		{"notify-only rules: read-only", notifyOnly, iampolicy.Options{}, scan},
		{"default rules: disable and delete", "version: 1\n", iampolicy.Options{},
			with(scan, "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey")},
		{"disable only: no delete", `version: 1
rules: { access_key_age: { human: [ {at: 80, action: disable} ] } }
`, iampolicy.Options{}, with(scan, "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey")},
		{"unused keys disabled", notifyOnly + "  access_key_unused: { after: 45, action: disable }\n", iampolicy.Options{},
			with(scan, "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey")},
		{"unused passwords removed", notifyOnly + "  password_unused: { after: 90, action: remove_password }\n", iampolicy.Options{},
			with(scan, "iam:DeleteLoginProfile", "iam:GetLoginProfile", "iam:GetUser")},
		{"a disabled rule grants nothing", notifyOnly + "  password_unused: { enabled: false, after: 90, action: remove_password }\n",
			iampolicy.Options{}, scan},
		{"organization with OUs", notifyOnly + `accounts:
  organization: { role_name: KeywardenAudit, ous: [ou-ab12-cdef3456] }
`, iampolicy.Options{}, with(scan, "organizations:ListAccountsForParent",
			"organizations:ListOrganizationalUnitsForParent", "sts:AssumeRole")},
		{"whole organization", notifyOnly + `accounts:
  organization: { role_name: KeywardenAudit }
`, iampolicy.Options{}, with(scan, "organizations:ListAccounts", "sts:AssumeRole")},
		{"member role: IAM only", notifyOnly + `accounts:
  organization: { role_name: KeywardenAudit }
notify: { from: sec@example.com, users: { via: ses }, admins: { sns_topic_arn: "arn:aws:sns:us-east-1:111111111111:kw" } }
state: { url: "dynamodb://keywarden" }
`, iampolicy.Options{Role: iampolicy.RoleMember}, scan},
		{"SES, SNS, SSM secrets, DynamoDB, config from S3, Security Hub", notifyOnly + `notify:
  from: "Security <security@example.com>"
  users: { via: ses }
  admins: { sns_topic_arn: "arn:aws:sns:us-east-1:111111111111:kw", slack_webhook_ssm: /kw/slack }
state: { url: "dynamodb://keywarden" }
`, iampolicy.Options{ConfigS3: "s3://cfg-bucket/keywarden.yaml", SecurityHub: true}, with(scan,
			"dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem",
			"dynamodb:Query", "dynamodb:UpdateItem", "s3:GetObject", "securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings",
			"securityhub:GetFindings", "ses:SendEmail", "ses:SendRawEmail", "sns:Publish", "ssm:GetParameter")},
		{"SMTP password from SSM only when SMTP logs in", notifyOnly + `notify:
  smtp: { host: smtp.example.com, password_ssm: /kw/smtp }
`, iampolicy.Options{}, scan},
		{"SMTP with a user reads its password", notifyOnly + `notify:
  from: sec@example.com
  users: { via: smtp }
  smtp: { host: smtp.example.com, username: kw, password_ssm: /kw/smtp }
`, iampolicy.Options{}, with(scan, "ssm:GetParameter")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, actions(t, cfgOf(t, tt.yaml), tt.opts)); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResourcesAreNarrow: write actions on users only, the member role by
// name, the named topic, parameters, table, object and SES identities;
// never a wildcard action.
func TestResourcesAreNarrow(t *testing.T) {
	cfg := cfgOf(t, `version: 1
accounts:
  list:
    - { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" }
rules:
  password_unused: { after: 90, action: remove_password }
notify:
  from: "Security <security@example.com>"
  users: { via: ses }
  ses: { region: eu-west-1, configuration_set: kw-events }
  admins: { sns_topic_arn: "arn:aws:sns:us-east-1:111111111111:kw", webhook_url_ssm: /kw/hook }
state: { url: "dynamodb://keywarden-state" }
`)
	d, err := iampolicy.For(cfg, iampolicy.Options{ConfigSSM: "/kw/config", KMSKeyARNs: []string{"arn:aws:kms:eu-west-1:111111111111:key/abc"}})
	if err != nil {
		t.Fatal(err)
	}
	res := map[string][]string{}
	for _, s := range d.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: effect %s", s.Sid, s.Effect)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants the wildcard action %s", s.Sid, a)
			}
			res[a] = append(res[a], s.Resource...)
		}
	}
	for action, want := range map[string][]string{
		"iam:UpdateAccessKey":    {"arn:aws:iam::*:user/*"},
		"iam:DeleteLoginProfile": {"arn:aws:iam::*:user/*"},
		"sts:AssumeRole":         {"arn:aws:iam::222222222222:role/KeywardenAudit"},
		"sns:Publish":            {"arn:aws:sns:us-east-1:111111111111:kw"},
		"ssm:GetParameter":       {"arn:aws:ssm:*:*:parameter/kw/config", "arn:aws:ssm:*:*:parameter/kw/hook"},
		"kms:Decrypt":            {"arn:aws:kms:eu-west-1:111111111111:key/abc"},
		"dynamodb:UpdateItem":    {"arn:aws:dynamodb:*:*:table/keywarden-state", "arn:aws:dynamodb:*:*:table/keywarden-state/index/*"},
		"ses:SendRawEmail": {"arn:aws:ses:eu-west-1:*:configuration-set/kw-events", "arn:aws:ses:eu-west-1:*:identity/example.com",
			"arn:aws:ses:eu-west-1:*:identity/security@example.com"},
	} {
		if diff := cmp.Diff(want, res[action]); diff != "" {
			t.Errorf("%s resources (-want +got):\n%s", action, diff)
		}
	}
}

func TestCovers(t *testing.T) {
	d, err := iampolicy.For(cfgOf(t, "version: 1\nnotify: { from: a@example.com, users: { via: ses } }\n"), iampolicy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]bool{"iam:ListAccessKeys": true, "sts:GetCallerIdentity": true, "ses:SendEmail": true,
		"iam:DeleteLoginProfile": false, "sns:Publish": false, "dynamodb:TransactWriteItems": false} {
		if got, _ := d.Covers(op); got != want {
			t.Errorf("Covers(%s) = %v; want %v", op, got, want)
		}
	}
}

func TestBadOptions(t *testing.T) {
	for name, tt := range map[string]struct {
		yaml string
		o    iampolicy.Options
		want string
	}{
		"role":   {"version: 1\n", iampolicy.Options{Role: "admin"}, `role "admin": want runner or member`},
		"s3 uri": {"version: 1\n", iampolicy.Options{ConfigS3: "cfg-bucket/key"}, `config S3 URI "cfg-bucket/key": want s3://BUCKET/KEY`},
	} {
		if _, err := iampolicy.For(cfgOf(t, tt.yaml), tt.o); err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v; want %q", name, err, tt.want)
		}
	}
	// A config built in code, not validated: SES without a sender.
	cfg := config.Default()
	cfg.Notify.Users.Via = "ses"
	if _, err := iampolicy.For(cfg, iampolicy.Options{}); err == nil || err.Error() != "notify.from is required for notify.users.via: ses" {
		t.Errorf("SES without notify.from: error %v", err)
	}
}

// TestGolden pins the policy of examples/keywarden.yaml (-update rewrites).
func TestGolden(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "examples", "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := iampolicy.For(cfg, iampolicy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, got, filepath.Join("testdata", "example.policy.json"))
}
