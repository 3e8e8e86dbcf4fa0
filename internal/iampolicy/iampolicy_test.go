package iampolicy_test

import (
	"maps"
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

// notifyOnly is a config whose rules only notify.
var notifyOnly = notifyOnlyWith()

// notifyOnlyWith is notifyOnly with more rule lines. The signing
// certificate and service credential rules notify, unless a line sets them
// (the built-in rules may act on them).
func notifyOnlyWith(lines ...string) string {
	return "version: 1\nrules:\n  access_key_age:\n    human: [ {at: 70, action: notify}, {at: 90, action: notify} ]\n" + quietWith(lines...)
}

// quietWith is lines, and the signing certificate and service credential
// rules notifying where no line sets them.
func quietWith(lines ...string) string {
	out := strings.Join(lines, "")
	for _, rule := range []string{"signing_certificate_age", "service_credential_age"} {
		if !strings.Contains(out, "  "+rule+":") {
			out += "  " + rule + ": { human: [ {at: 70, action: notify} ] }\n"
		}
	}
	return out
}

// defaultWrites are the certificate and service credential writes the
// built-in rules' stages call for.
func defaultWrites() []string {
	var out []string
	for _, k := range []struct {
		stages         map[string][]config.Stage
		update, delete string
	}{
		// Left out of the default config, they take the access keys' stages.
		{config.Default().StagesByClass(config.RuleSigningCertAge), "iam:UpdateSigningCertificate", "iam:DeleteSigningCertificate"},
		{config.Default().StagesByClass(config.RuleServiceCredentialAge), "iam:UpdateServiceSpecificCredential", "iam:DeleteServiceSpecificCredential"},
	} {
		for _, stages := range k.stages {
			for _, st := range stages {
				switch st.Action {
				case config.ActionDelete:
					out = append(out, k.update, k.delete)
				case config.ActionDisable:
					out = append(out, k.update)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// allowed lets keywarden act in one account.
const allowed = "enforce: { allowed_accounts: [\"111111111111\"] }\n"

var scan = []string{"iam:GenerateCredentialReport", "iam:GetAccountAuthorizationDetails", "iam:GetAccountPasswordPolicy",
	"iam:GetAccountSummary", "iam:GetCredentialReport", "iam:ListAccessKeys", "iam:ListAccountAliases",
	"iam:ListServiceSpecificCredentials", "iam:ListSigningCertificates"}

func with(base []string, more ...string) []string {
	out := append(slices.Clone(base), more...)
	slices.Sort(out)
	return out
}

// TestActionsFollowTheConfig: each feature of the config adds exactly its
// actions; write actions only for what the rules can do.
func TestActionsFollowTheConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		opts iampolicy.Options
		want []string
	}{
		{"notify-only rules: read-only", notifyOnly, iampolicy.Options{}, scan},
		{"default rules without allowed accounts: read-only", "version: 1\n", iampolicy.Options{}, scan},
		{"default rules: disable and delete", "version: 1\n" + allowed, iampolicy.Options{},
			with(scan, append(defaultWrites(), "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey")...)},
		{"disable only: no delete", "version: 1\nrules:\n  access_key_age: { human: [ {at: 80, action: disable} ] }\n" + quietWith() + allowed,
			iampolicy.Options{}, with(scan, "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey")},
		{"unused keys disabled", allowed + notifyOnlyWith("  access_key_unused: { after: 45, action: disable }\n"), iampolicy.Options{},
			with(scan, "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey")},
		{"unused passwords removed", allowed + notifyOnlyWith("  password_unused: { after: 90, action: remove_password }\n"), iampolicy.Options{},
			with(scan, "iam:DeleteLoginProfile", "iam:GetLoginProfile", "iam:GetUser")},
		{"signing certificates disabled", allowed + notifyOnlyWith("  signing_certificate_age: { human: [ {at: 80, action: disable} ] }\n"), iampolicy.Options{},
			with(scan, "iam:UpdateSigningCertificate")},
		{"signing certificates deleted (disabled first)", allowed + notifyOnlyWith("  signing_certificate_age: { human: [ {at: 90, action: delete} ] }\n"), iampolicy.Options{},
			with(scan, "iam:DeleteSigningCertificate", "iam:UpdateSigningCertificate")},
		{"service credentials disabled", allowed + notifyOnlyWith("  service_credential_age: { human: [ {at: 80, action: disable} ] }\n"), iampolicy.Options{},
			with(scan, "iam:UpdateServiceSpecificCredential")},
		{"service credentials deleted (disabled first)", allowed + notifyOnlyWith("  service_credential_age: { human: [ {at: 80, action: disable}, {at: 90, action: delete} ] }\n"),
			iampolicy.Options{}, with(scan, "iam:DeleteServiceSpecificCredential", "iam:UpdateServiceSpecificCredential")},
		{"certificates deleted, with an emergency stop: it is read", "enforce: { allowed_accounts: [\"111111111111\"], stop_parameter: /kw/stop }\n" +
			notifyOnlyWith("  signing_certificate_age: { human: [ {at: 90, action: delete} ] }\n"),
			iampolicy.Options{}, with(scan, "iam:DeleteSigningCertificate", "iam:UpdateSigningCertificate", "ssm:GetParameter")},
		{"certificates deleted without allowed accounts: read-only", notifyOnlyWith("  signing_certificate_age: { human: [ {at: 90, action: delete} ] }\n"),
			iampolicy.Options{}, scan},
		{"SSH keys read only for the opt-in rule", notifyOnlyWith("  ssh_key_age: { users: { names: [\"git-*\"] }, max_age: 365 }\n"), iampolicy.Options{},
			with(scan, "iam:ListSSHPublicKeys")},
		{"SSH key rule turned off: not read", notifyOnlyWith("  ssh_key_age: { enabled: false, users: { names: [\"git-*\"] }, max_age: 365 }\n"), iampolicy.Options{},
			scan},
		{"a disabled rule grants nothing", allowed + notifyOnlyWith("  password_unused: { enabled: false, after: 90, action: remove_password }\n"),
			iampolicy.Options{}, scan},
		{"enforce.mode apply alone acts nowhere", "version: 1\nenforce: { mode: apply }\n", iampolicy.Options{}, scan},
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
		{"member role in allowed accounts: IAM writes", "version: 1\n" + allowed + `accounts:
  organization: { role_name: KeywardenAudit }
`, iampolicy.Options{Role: iampolicy.RoleMember}, with(scan, append(defaultWrites(), "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey")...)},
		{"member role where only the runner's account is allowed: read-only", "version: 1\n" + allowed + `accounts:
  organization: { role_name: KeywardenAudit }
`, iampolicy.Options{Role: iampolicy.RoleMember, RunnerAccount: "111111111111"}, scan},
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

// TestResourcesAreNarrow: writes on the users of the allowed accounts
// only, the listed roles exactly, the named topic, parameters, table,
// object and SES identities; never a wildcard action.
func TestResourcesAreNarrow(t *testing.T) {
	cfg := cfgOf(t, `version: 1
accounts:
  list:
    - { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" }
    - { id: "333333333333" }
rules:
  password_unused: { after: 90, action: remove_password }
  signing_certificate_age: { human: [ {at: 90, action: delete} ] }
  service_credential_age: { human: [ {at: 90, action: delete} ] }
notify:
  from: "Security <security@example.com>"
  users: { via: ses }
  ses: { region: eu-west-1, configuration_set: kw-events }
  admins: { sns_topic_arn: "arn:aws:sns:us-east-1:111111111111:kw", webhook_url_ssm: /kw/hook }
enforce: { allowed_accounts: ["222222222222", "333333333333", "444444444444"] }
state: { url: "dynamodb://keywarden-state" }
`)
	for role, users := range map[string][]string{
		iampolicy.RoleRunner: {"arn:aws:iam::333333333333:user/*"},
		iampolicy.RoleMember: {"arn:aws:iam::222222222222:user/*"},
	} {
		d, err := iampolicy.For(cfg, iampolicy.Options{Role: role, ConfigSSM: "/kw/config", KMSKeyARNs: []string{"arn:aws:kms:eu-west-1:111111111111:key/abc"}})
		if err != nil {
			t.Fatal(err)
		}
		res := resources(t, d)
		want := map[string][]string{
			"iam:UpdateAccessKey":                 users,
			"iam:DeleteLoginProfile":              users,
			"iam:GetLoginProfile":                 users,
			"iam:UpdateSigningCertificate":        users,
			"iam:DeleteSigningCertificate":        users,
			"iam:UpdateServiceSpecificCredential": users,
			"iam:DeleteServiceSpecificCredential": users,
			"iam:ListSigningCertificates":         {"*"},
		}
		if role == iampolicy.RoleRunner {
			maps.Copy(want, map[string][]string{
				"sts:AssumeRole":      {"arn:aws:iam::222222222222:role/KeywardenAudit"},
				"sns:Publish":         {"arn:aws:sns:us-east-1:111111111111:kw"},
				"ssm:GetParameter":    {"arn:aws:ssm:*:*:parameter/kw/config", "arn:aws:ssm:*:*:parameter/kw/hook"},
				"kms:Decrypt":         {"arn:aws:kms:eu-west-1:111111111111:key/abc"},
				"dynamodb:UpdateItem": {"arn:aws:dynamodb:*:*:table/keywarden-state"},
				"dynamodb:Query":      {"arn:aws:dynamodb:*:*:table/keywarden-state", "arn:aws:dynamodb:*:*:table/keywarden-state/index/*"},
				"ses:SendRawEmail": {"arn:aws:ses:eu-west-1:*:configuration-set/kw-events", "arn:aws:ses:eu-west-1:*:identity/example.com",
					"arn:aws:ses:eu-west-1:*:identity/security@example.com"},
			})
		}
		for action, w := range want {
			if diff := cmp.Diff(w, res[action]); diff != "" {
				t.Errorf("%s: %s resources (-want +got):\n%s", role, action, diff)
			}
		}
	}
}

// resources maps each action of d to its resources, checking that every
// statement allows and no action has a wildcard.
func resources(t *testing.T, d *iampolicy.Document) map[string][]string {
	t.Helper()
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
	return res
}

// TestNoWriteWhereNothingCanBeActedOn is the regression for a policy that
// granted iam:UpdateAccessKey and iam:DeleteAccessKey on every user of
// every account although enforce.allowed_accounts was empty (remediation
// acts in allowed accounts only), or named only accounts the config never
// reaches.
func TestNoWriteWhereNothingCanBeActedOn(t *testing.T) {
	for name, yaml := range map[string]string{
		"no allowed accounts": "version: 1\nenforce: { mode: apply }\n",
		"certificates and service credentials deleted, no allowed account": "version: 1\nenforce: { mode: apply }\nrules:\n" +
			"  signing_certificate_age: { human: [ {at: 90, action: delete} ] }\n  service_credential_age: { human: [ {at: 90, action: delete} ] }\n",
		"allowed but excluded":        "version: 1\naccounts: { organization: { role_name: A, exclude: [\"111111111111\"] } }\n" + allowed,
		"allowed but not listed":      "version: 1\naccounts: { list: [ { id: \"222222222222\" } ] }\n" + allowed,
		"notify-only rules, allowed":  notifyOnly + allowed,
		"allowed, not the runner's":   "version: 1\n" + allowed,
		"listed, allowed, runner's?":  "version: 1\naccounts: { list: [ { id: \"111111111111\" } ] }\n" + allowed,
		"organization, runner's only": "version: 1\naccounts: { organization: { role_name: A } }\n" + allowed,
	} {
		for _, role := range []string{iampolicy.RoleRunner, iampolicy.RoleMember} {
			if role == iampolicy.RoleMember && !iampolicy.HasMemberRole(cfgOf(t, yaml)) {
				continue
			}
			o := iampolicy.Options{Role: role}
			switch name {
			case "allowed, not the runner's", "listed, allowed, runner's?":
				o.RunnerAccount = "999999999999"
			case "organization, runner's only":
				if role == iampolicy.RoleRunner {
					continue // the runner acts in its own account
				}
				o.RunnerAccount = "111111111111"
			}
			for _, a := range actions(t, cfgOf(t, yaml), o) {
				if strings.HasPrefix(a, "iam:") && !slices.Contains(scan, a) {
					t.Errorf("%s, %s policy: grants %s; want the scan's IAM actions only", name, role, a)
				}
			}
		}
	}
}

// TestReach: where keywarden acts, and with whose credentials.
func TestReach(t *testing.T) {
	const (
		a, b, c = "111111111111", "222222222222", "333333333333"
	)
	tests := []struct {
		name        string
		yaml        string
		runner      string
		own, member []string
	}{
		{"caller's account, runner unknown", `enforce: { allowed_accounts: ["111111111111", "222222222222"] }`, "", []string{a, b}, nil},
		{"caller's account, runner known", `enforce: { allowed_accounts: ["111111111111", "222222222222"] }`, a, []string{a}, nil},
		{"organization, runner unknown", `accounts: { organization: { role_name: R, exclude: ["333333333333"] } }
enforce: { allowed_accounts: ["111111111111", "222222222222", "333333333333"] }`, "", []string{a, b}, []string{a, b}},
		{"organization, runner known", `accounts: { organization: { role_name: R } }
enforce: { allowed_accounts: ["111111111111", "222222222222"] }`, a, []string{a}, []string{b}},
		{"organization, runner not allowed", `accounts: { organization: { role_name: R } }
enforce: { allowed_accounts: ["222222222222", "333333333333"] }`, a, nil, []string{b, c}},
		{"list", `accounts: { list: [ { id: "111111111111" }, { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/R" },
  { id: "333333333333", role_arn: "arn:aws:iam::333333333333:role/R" } ] }
enforce: { allowed_accounts: ["111111111111", "222222222222", "444444444444"] }`, "", []string{a}, []string{b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own, member := iampolicy.Reach(cfgOf(t, "version: 1\n"+tt.yaml+"\n"), tt.runner)
			if !slices.Equal(own, tt.own) || !slices.Equal(member, tt.member) {
				t.Errorf("Reach() = %v, %v; want %v, %v", own, member, tt.own, tt.member)
			}
		})
	}
}

// TestAssumeRole: the organization's role only in accounts of the
// caller's organization; listed roles exactly.
func TestAssumeRole(t *testing.T) {
	d, err := iampolicy.For(cfgOf(t, "version: 1\naccounts: { organization: { role_name: KeywardenAudit } }\n"), iampolicy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(d.Statement, func(s iampolicy.Statement) bool { return s.Sid == "AssumeMemberRole" })
	if i < 0 {
		t.Fatalf("no AssumeMemberRole statement in %+v", d.Statement)
	}
	want := iampolicy.Statement{Sid: "AssumeMemberRole", Effect: "Allow", Action: []string{"sts:AssumeRole"},
		Resource:  []string{"arn:aws:iam::*:role/KeywardenAudit"},
		Condition: iampolicy.Condition{"StringEquals": {"aws:ResourceOrgID": {"${aws:PrincipalOrgID}"}}}}
	if diff := cmp.Diff(want, d.Statement[i]); diff != "" {
		t.Errorf("AssumeMemberRole (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		role, org string
		want      bool
	}{
		{"arn:aws:iam::222222222222:role/KeywardenAudit", "o-mine", true},
		{"arn:aws:iam::222222222222:role/KeywardenAudit", "o-other", false},
		{"arn:aws:iam::222222222222:role/Admin", "o-mine", false},
	} {
		dec, err := d.Evaluate(iampolicy.Request{Action: "sts:AssumeRole", Resource: tt.role,
			Context: map[string][]string{"aws:PrincipalOrgID": {"o-mine"}, "aws:ResourceOrgID": {tt.org}}})
		if err != nil {
			t.Fatal(err)
		}
		if dec.Allowed != tt.want {
			t.Errorf("AssumeRole %s in %s: allowed %v; want %v", tt.role, tt.org, dec.Allowed, tt.want)
		}
	}
}

// TestPartition: every ARN the policy writes is in the partition of
// --partition or accounts.partition.
func TestPartition(t *testing.T) {
	yaml := `version: 1
accounts: { organization: { role_name: KeywardenAudit } }
notify: { from: sec@example.com, users: { via: ses } }
enforce: { allowed_accounts: ["111111111111"] }
state: { url: "dynamodb://kw-state" }
`
	inConfig := strings.Replace(yaml, "{ role_name: KeywardenAudit } }", "{ role_name: KeywardenAudit }, partition: aws-cn }", 1)
	for _, tt := range []struct {
		name, yaml string
		o          iampolicy.Options
		want       string
	}{
		{"flag", yaml, iampolicy.Options{Partition: "aws-us-gov", ConfigS3: "s3://b/k", ConfigSSM: "/kw/config"}, "aws-us-gov"},
		{"config", inConfig, iampolicy.Options{ConfigS3: "s3://b/k"}, "aws-cn"},
		{"both", inConfig, iampolicy.Options{Partition: "aws-cn"}, "aws-cn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y := tt.yaml
			d, err := iampolicy.For(cfgOf(t, y), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, g := range d.Grants() {
				if g.Resource == "*" {
					continue
				}
				n++
				if !strings.HasPrefix(g.Resource, "arn:"+tt.want+":") {
					t.Errorf("%s %s: resource %s is not in partition %s", g.Sid, g.Action, g.Resource, tt.want)
				}
			}
			if n == 0 {
				t.Fatal("the policy names no resource")
			}
		})
	}
	for name, tt := range map[string]struct {
		yaml string
		o    iampolicy.Options
		want string
	}{
		"unknown":        {"version: 1\n", iampolicy.Options{Partition: "aws-eu"}, `partition "aws-eu": want aws, aws-us-gov or aws-cn`},
		"contradiction":  {"version: 1\naccounts: { partition: aws-cn }\n", iampolicy.Options{Partition: "aws"}, "partition aws contradicts the config's accounts.partition aws-cn"},
		"KMS key":        {"version: 1\n", iampolicy.Options{Partition: "aws-cn", KMSKeyARNs: []string{"arn:aws:kms:us-east-1:111111111111:key/x"}}, `KMS key "arn:aws:kms:us-east-1:111111111111:key/x": want an ARN in partition aws-cn`},
		"runner account": {"version: 1\n", iampolicy.Options{RunnerAccount: "1234"}, `runner account "1234": want a 12-digit account ID`},
		"no member role": {"version: 1\naccounts: { list: [ { id: \"111111111111\" } ] }\n", iampolicy.Options{Role: iampolicy.RoleMember},
			"role member: the config reaches no account through a role (accounts.organization, or accounts.list with role_arn), so there is no member role"},
	} {
		if _, err := iampolicy.For(cfgOf(t, tt.yaml), tt.o); err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v; want %q", name, err, tt.want)
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

// TestGolden pins the policy of examples/keywarden.yaml (which acts
// nowhere: allowed_accounts is empty), and of a GovCloud organization that
// acts in two accounts, runner and member (-update rewrites them).
func TestGolden(t *testing.T) {
	example, err := config.Load(filepath.Join("..", "..", "examples", "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	org := cfgOf(t, `version: 1
accounts:
  organization: { role_name: KeywardenAudit, ous: [ou-ab12-cdef3456] }
  partition: aws-us-gov
rules:
  password_unused: { after: 90, action: remove_password }
  signing_certificate_age: { human: [ {at: 80, action: disable}, {at: 90, action: delete} ] }
  service_credential_age: { human: [ {at: 80, action: disable} ] }
notify:
  from: security@example.com
  users: { via: ses }
  ses: { region: us-gov-west-1 }
  admins: { sns_topic_arn: "arn:aws-us-gov:sns:us-gov-west-1:111111111111:kw", slack_webhook_ssm: /keywarden/slack }
enforce: { allowed_accounts: ["111111111111", "222222222222", "333333333333"] }
state: { url: "dynamodb://keywarden-state" }
`)
	for _, tt := range []struct {
		name string
		cfg  *config.Config
		o    iampolicy.Options
	}{
		{"example.policy.json", example, iampolicy.Options{}},
		{"govcloud-org.runner.json", org, iampolicy.Options{RunnerAccount: "111111111111", ConfigSSM: "/keywarden/config"}},
		{"govcloud-org.member.json", org, iampolicy.Options{Role: iampolicy.RoleMember, RunnerAccount: "111111111111"}},
	} {
		d, err := iampolicy.For(tt.cfg, tt.o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		golden.Assert(t, got, filepath.Join("testdata", tt.name))
	}
}
