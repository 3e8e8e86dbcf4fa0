package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// terraformHint: Terraform cannot be built from the Go module proxy (its
// go.mod replaces nested modules that the proxy's zip leaves out), so it
// is installed from HashiCorp's releases.
const terraformHint = "install Terraform 1.5 or later from HashiCorp's releases or apt repository (the tests use no provider)"

// terraform returns the terraform command and the environment that keeps
// it offline and quiet: no update check, no CLI config of the machine's.
func terraform(t *testing.T) (string, []string) {
	t.Helper()
	tf := tool(t, "terraform", terraformHint)
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return tf, []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_CLI_CONFIG_FILE=" + rc}
}

// notifyOnly is a config whose rules only notify.
const notifyOnly = "version: 1\n" + notifyOnlyRules

// notifyOnlyRules are notifyOnly's rules, for a config that starts
// otherwise: the signing certificate and service credential rules notify
// too (the built-in ones may act).
const notifyOnlyRules = `rules:
  access_key_age:
    human: [ {at: 70, action: notify}, {at: 90, action: notify} ]
` + quietCredentialRules

// quietCredentialRules are signing certificate and service credential
// rules that only notify.
const quietCredentialRules = `  signing_certificate_age: { human: [ {at: 70, action: notify} ] }
  service_credential_age: { human: [ {at: 70, action: notify} ] }
`

// acting is notifyOnly with the certificate and service credential rules
// given instead of quietCredentialRules.
func acting(rules string) string {
	return "version: 1\nrules:\n  access_key_age:\n    human: [ {at: 70, action: notify}, {at: 90, action: notify} ]\n" + rules
}

// policyCase is one configuration: the YAML and iam-policy flags, and the
// policy module's inputs that say the same.
type policyCase struct {
	name   string
	yaml   string
	flags  []string
	inputs map[string]any
}

// allowedYAML lets keywarden act in two accounts.
const allowedYAML = "enforce: { allowed_accounts: [\"111111111111\", \"222222222222\"] }\n"

var allowedInput = []string{"222222222222", "111111111111"}

var policyCases = []policyCase{
	{"read-only notify-only rules", notifyOnly, nil, map[string]any{}},
	{"default rules, no allowed account: read-only", "version: 1\n", nil,
		map[string]any{"remediation": []string{"disable", "delete"}}},
	{"default rules disable and delete", "version: 1\n" + allowedYAML, nil,
		map[string]any{"remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput}},
	{"default rules in the runner's account only", "version: 1\n" + allowedYAML, []string{"--runner-account", "222222222222"},
		map[string]any{"remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput, "runner_account": "222222222222"}},
	{"unused keys disabled, GovCloud", allowedYAML + notifyOnly + "  access_key_unused: { after: 45, action: disable }\n", []string{"--partition", "aws-us-gov"},
		map[string]any{"remediation": []string{"disable"}, "allowed_accounts": allowedInput, "partition": "aws-us-gov"}},
	{"remove_password", allowedYAML + notifyOnly + "  password_unused: { after: 90, action: remove_password }\n", nil,
		map[string]any{"remediation": []string{"remove_password"}, "allowed_accounts": allowedInput}},
	{"signing certificates deleted, service credentials disabled, SSH keys read", allowedYAML + acting(
		"  signing_certificate_age: { human: [ {at: 80, action: disable}, {at: 90, action: delete} ] }\n"+
			"  service_credential_age: { human: [ {at: 80, action: disable} ] }\n"+
			"  ssh_key_age: { users: { names: [\"git-*\"] }, max_age: 365 }\n"), nil,
		map[string]any{"remediation": []string{"delete_signing_certificates", "disable_service_credentials"}, "allowed_accounts": allowedInput, "ssh_key_age": true}},
	{"signing certificates only, with an emergency stop", stopYAML("/keywarden/stop") + acting(
		"  signing_certificate_age: { human: [ {at: 90, action: delete} ] }\n  service_credential_age: { human: [ {at: 70, action: notify} ] }\n"),
		[]string{"--runner-account", "222222222222"},
		map[string]any{"remediation": []string{"delete_signing_certificates"}, "allowed_accounts": allowedInput, "runner_account": "222222222222",
			"stop_parameter": "/keywarden/stop"}},
	{"service credentials deleted, member role", allowedYAML + "accounts: { organization: { role_name: Audit } }\n" + acting(
		"  signing_certificate_age: { human: [ {at: 70, action: notify} ] }\n  service_credential_age: { human: [ {at: 90, action: delete} ] }\n"),
		[]string{"--role", "member"},
		map[string]any{"role": "member", "remediation": []string{"delete_service_credentials"}, "allowed_accounts": allowedInput,
			"organization": map[string]any{"role_name": "Audit"}}},
	{"organization with OUs", notifyOnly + `accounts:
  organization: { role_name: KeywardenAudit, ous: [ou-ab12-cdef3456], exclude: ["111111111111"] }
`, nil, map[string]any{"organization": map[string]any{"role_name": "KeywardenAudit", "ous": []string{"ou-ab12-cdef3456"}}}},
	{"organization without OUs", notifyOnly + "accounts: { organization: { role_name: Audit } }\n", nil,
		map[string]any{"organization": map[string]any{"role_name": "Audit"}}},
	{"organization acting in allowed accounts, one excluded, China", "version: 1\n" + allowedYAML + `accounts:
  organization: { role_name: Audit, exclude: ["111111111111"] }
  partition: aws-cn
`, nil, map[string]any{"remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput, "partition": "aws-cn",
		"organization": map[string]any{"role_name": "Audit", "exclude": []string{"111111111111"}}}},
	{"organization, member role, runner known", "version: 1\n" + allowedYAML + "accounts: { organization: { role_name: Audit } }\n",
		[]string{"--role", "member", "--runner-account", "111111111111"}, map[string]any{"role": "member", "remediation": []string{"disable", "delete"},
			"allowed_accounts": allowedInput, "runner_account": "111111111111", "organization": map[string]any{"role_name": "Audit"}}},
	{"listed roles", notifyOnly + `accounts:
  list:
    - { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" }
    - { id: "333333333333", role_arn: "arn:aws:iam::333333333333:role/Audit", external_id: kw-ext }
`, nil, map[string]any{"listed_role_arns": []string{"arn:aws:iam::333333333333:role/Audit", "arn:aws:iam::222222222222:role/KeywardenAudit"}}},
	{"listed accounts acting with and without a role", "version: 1\n" + allowedYAML + `accounts:
  list:
    - { id: "111111111111" }
    - { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" }
    - { id: "333333333333", role_arn: "arn:aws:iam::333333333333:role/Audit" }
`, nil, map[string]any{"remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput,
		"listed_accounts":  []string{"111111111111", "222222222222", "333333333333"},
		"listed_role_arns": []string{"arn:aws:iam::333333333333:role/Audit", "arn:aws:iam::222222222222:role/KeywardenAudit"}}},
	{"listed accounts, member role", "version: 1\n" + allowedYAML + `accounts:
  list:
    - { id: "111111111111" }
    - { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" }
`, []string{"--role", "member"}, map[string]any{"role": "member", "remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput,
		"listed_accounts":  []string{"111111111111", "222222222222"},
		"listed_role_arns": []string{"arn:aws:iam::222222222222:role/KeywardenAudit"}}},
	{"SES, SNS, SSM secrets, DynamoDB, config from SSM with a KMS key", `version: 1
rules:
  password_unused: { after: 90, action: remove_password }
notify:
  from: "Security <security@example.com>"
  users: { via: ses }
  ses: { region: eu-west-1, configuration_set: kw-events }
  admins:
    sns_topic_arn: "arn:aws:sns:eu-west-1:111111111111:keywarden-digest"
    slack_webhook_ssm: /keywarden/slack
    webhook_url_ssm: keywarden-hook
state: { url: "dynamodb://keywarden-state" }
` + allowedYAML, []string{"--config-ssm", "/keywarden/config", "--kms-key", "arn:aws:kms:eu-west-1:111111111111:key/1234abcd"},
		map[string]any{
			"remediation": []string{"disable", "delete", "remove_password"}, "allowed_accounts": allowedInput,
			"ses_from": "Security <security@example.com>", "ses_region": "eu-west-1", "ses_configuration_set": "kw-events",
			"sns_topic_arn":     "arn:aws:sns:eu-west-1:111111111111:keywarden-digest",
			"secret_parameters": []string{"/keywarden/slack", "keywarden-hook"},
			"config_ssm":        "/keywarden/config", "kms_key_arns": []string{"arn:aws:kms:eu-west-1:111111111111:key/1234abcd"},
			"dynamodb_table": "keywarden-state",
		}},
	{"SES in any region", notifyOnly + "notify: { from: sec@example.org, users: { via: ses } }\n", nil,
		map[string]any{"ses_from": "sec@example.org"}},
	{"SMTP password from SSM when SMTP logs in", notifyOnly + `notify:
  from: sec@example.com
  users: { via: smtp }
  smtp: { host: smtp.example.com, username: kw, password_ssm: /keywarden/smtp }
`, nil, map[string]any{"secret_parameters": []string{"/keywarden/smtp"}}},
	{"KMS key without parameters grants nothing", notifyOnly, []string{"--kms-key", "arn:aws:kms:us-east-1:111111111111:key/x"},
		map[string]any{"kms_key_arns": []string{"arn:aws:kms:us-east-1:111111111111:key/x"}}},
	{"config from S3, GovCloud", notifyOnly + "state: { url: \"dynamodb://kw-state\" }\n", []string{"--config-s3", "s3://cfg-bucket/keywarden/config.yaml", "--partition", "aws-us-gov"},
		map[string]any{"config_s3": "s3://cfg-bucket/keywarden/config.yaml", "dynamodb_table": "kw-state", "partition": "aws-us-gov"}},
	{"Security Hub", "version: 1\n", []string{"--security-hub"},
		map[string]any{"remediation": []string{"disable", "delete"}, "security_hub": true}},
	{"member role: IAM only", `version: 1
rules:
  password_unused: { after: 90, action: remove_password }
accounts: { organization: { role_name: KeywardenAudit, ous: [ou-ab12-cdef3456] } }
notify: { from: sec@example.com, users: { via: ses }, admins: { sns_topic_arn: "arn:aws:sns:us-east-1:111111111111:kw" } }
state: { url: "dynamodb://keywarden" }
` + allowedYAML, []string{"--role", "member", "--security-hub"}, map[string]any{
		"role": "member", "remediation": []string{"delete", "disable", "remove_password"}, "allowed_accounts": allowedInput,
		"organization": map[string]any{"role_name": "KeywardenAudit", "ous": []string{"ou-ab12-cdef3456"}},
		"ses_from":     "sec@example.com", "sns_topic_arn": "arn:aws:sns:us-east-1:111111111111:kw", "dynamodb_table": "keywarden",
		"security_hub": true,
	}},
	{"member role read-only", notifyOnly + "accounts: { organization: { role_name: Audit } }\n", []string{"--role", "member"},
		map[string]any{"role": "member", "organization": map[string]any{"role_name": "Audit"}}},
	// The emergency stop: read by the runner, only where it can act.
	{"emergency stop, acting in the runner's account", "version: 1\n" + stopYAML("/keywarden/stop"), []string{"--runner-account", "222222222222"},
		map[string]any{"remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput, "runner_account": "222222222222",
			"stop_parameter": "/keywarden/stop"}},
	{"emergency stop by ARN, acting only through the member role, GovCloud", "version: 1\n" + stopYAML("arn:aws-us-gov:ssm:us-gov-west-1:111111111111:parameter/kw/stop") + `accounts:
  organization: { role_name: Audit, exclude: ["111111111111"] }
  partition: aws-us-gov
`, []string{"--runner-account", "111111111111"}, map[string]any{"remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput,
		"runner_account": "111111111111", "partition": "aws-us-gov", "organization": map[string]any{"role_name": "Audit", "exclude": []string{"111111111111"}},
		"stop_parameter": "arn:aws-us-gov:ssm:us-gov-west-1:111111111111:parameter/kw/stop"}},
	{"emergency stop, a name without a slash, listed role, runner unknown", notifyOnly + "  access_key_unused: { after: 45, action: disable }\n" +
		stopYAML("keywarden-stop") + `accounts:
  list: [ { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" } ]
`, nil, map[string]any{"remediation": []string{"disable"}, "allowed_accounts": allowedInput, "listed_accounts": []string{"222222222222"},
		"listed_role_arns": []string{"arn:aws:iam::222222222222:role/KeywardenAudit"}, "stop_parameter": "keywarden-stop"}},
	{"emergency stop, no allowed account: not read", "version: 1\nenforce: { stop_parameter: /keywarden/stop }\n", nil,
		map[string]any{"remediation": []string{"disable", "delete"}, "stop_parameter": "/keywarden/stop"}},
	{"emergency stop, rules that only notify: not read", notifyOnly + stopYAML("/keywarden/stop"), nil,
		map[string]any{"allowed_accounts": allowedInput, "stop_parameter": "/keywarden/stop"}},
	{"emergency stop, allowed accounts the runner does not reach: not read", "version: 1\n" + stopYAML("/keywarden/stop"), []string{"--runner-account", "333333333333"},
		map[string]any{"remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput, "runner_account": "333333333333",
			"stop_parameter": "/keywarden/stop"}},
	{"emergency stop, the member role never reads it", "version: 1\n" + stopYAML("/keywarden/stop") + "accounts: { organization: { role_name: Audit } }\n",
		[]string{"--role", "member"}, map[string]any{"role": "member", "remediation": []string{"disable", "delete"}, "allowed_accounts": allowedInput,
			"organization": map[string]any{"role_name": "Audit"}, "stop_parameter": "/keywarden/stop"}},
}

// rotatingRules rotate the machine class's keys at 80 days; nothing else
// acts.
const rotatingRules = `rules:
  access_key_age:
    human: [ {at: 70, action: notify} ]
    machine: [ {at: 70, action: notify}, {at: 80, action: rotate} ]
` + quietCredentialRules

func init() {
	policyCases = append(policyCases,
		policyCase{"rotation, the default secret name", "version: 1\n" + rotatingRules + allowedYAML, nil,
			map[string]any{"allowed_accounts": allowedInput, "rotation": map[string]any{}}},
		policyCase{"rotation creating secrets under a name of its own, runner known, an emergency stop", "version: 1\n" + rotatingRules +
			stopYAML("/keywarden/stop") + "rotate: { secret_name: \"ci/{user}/aws\", create_secret: true }\n",
			[]string{"--runner-account", "222222222222"},
			map[string]any{"allowed_accounts": allowedInput, "runner_account": "222222222222", "stop_parameter": "/keywarden/stop",
				"rotation": map[string]any{"secret_name": "ci/{user}/aws", "create_secret": true}}},
		policyCase{"rotation through the member role, GovCloud", "version: 1\n" + rotatingRules + allowedYAML +
			"accounts: { organization: { role_name: Audit }, partition: aws-us-gov }\nrotate: { create_secret: true }\n",
			[]string{"--role", "member", "--runner-account", "111111111111"},
			map[string]any{"role": "member", "allowed_accounts": allowedInput, "runner_account": "111111111111", "partition": "aws-us-gov",
				"organization": map[string]any{"role_name": "Audit"}, "rotation": map[string]any{"create_secret": true}}},
		policyCase{"rotation without an allowed account: read-only", "version: 1\n" + rotatingRules, nil,
			map[string]any{"rotation": map[string]any{}}},
	)
}

// stopYAML lets keywarden act in two accounts, with an emergency stop.
func stopYAML(parameter string) string {
	return "enforce: { allowed_accounts: [\"111111111111\", \"222222222222\"], stop_parameter: \"" + parameter + "\" }\n"
}

// TestTerraformPolicyModuleMatchesIAMPolicy applies deploy/terraform/modules/policy
// (no provider, so offline) once per configuration and compares each
// document with `keywarden iam-policy` for the equivalent config: the same
// statements in the same order, with the same actions and resources.
func TestTerraformPolicyModuleMatchesIAMPolicy(t *testing.T) {
	tf, env := terraform(t)
	module, err := filepath.Abs(filepath.Join("terraform", "modules", "policy"))
	if err != nil {
		t.Fatal(err)
	}
	// One root calls the module once per case: one init and one apply.
	modules, outputs := map[string]any{}, map[string]any{}
	for i, c := range policyCases {
		name := caseName(i)
		block := map[string]any{"source": module}
		for k, v := range c.inputs {
			block[k] = v
		}
		// The certificate and service credential items the YAML's stages
		// (the built-in ones included) call for.
		rem, _ := block["remediation"].([]string)
		certs, services := credentialRemediation(t, c.yaml)
		for _, item := range []string{certs + "_signing_certificates", services + "_service_credentials"} {
			if !strings.HasPrefix(item, "none_") && !slices.Contains(rem, item) {
				rem = append(slices.Clone(rem), item)
			}
		}
		if len(rem) > 0 {
			block["remediation"] = rem
		}
		modules[name] = block
		outputs[name] = map[string]any{"value": "${module." + name + ".json}"}
	}
	root := t.TempDir()
	b, err := json.MarshalIndent(map[string]any{"module": modules, "output": outputs}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "main.tf.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, root, env, tf, "init", "-input=false", "-no-color")
	run(t, root, env, tf, "apply", "-auto-approve", "-input=false", "-no-color")
	var got map[string]struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal([]byte(run(t, root, env, tf, "output", "-json", "-no-color")), &got); err != nil {
		t.Fatal(err)
	}
	for i, c := range policyCases {
		t.Run(c.name, func(t *testing.T) {
			want := iamPolicy(t, c.yaml, c.flags...)
			var doc iampolicy.Document
			if err := json.Unmarshal([]byte(got[caseName(i)].Value), &doc); err != nil {
				t.Fatalf("module output is not a policy document: %v", err)
			}
			comparePolicies(t, want, doc)
		})
	}
}

// caseName is the module call and output of policyCases[i].
func caseName(i int) string { return fmt.Sprintf("case_%d", i) }

// comparePolicies reports every statement that differs, by position and Sid.
func comparePolicies(t *testing.T, want, got iampolicy.Document) {
	t.Helper()
	if want.Version != got.Version {
		t.Errorf("Version = %q; want %q", got.Version, want.Version)
	}
	var wantSids, gotSids []string
	for _, s := range want.Statement {
		wantSids = append(wantSids, s.Sid)
	}
	for _, s := range got.Statement {
		gotSids = append(gotSids, s.Sid)
	}
	if diff := cmp.Diff(wantSids, gotSids); diff != "" {
		t.Errorf("statements (-iam-policy +template):\n%s", diff)
	}
	for i := range min(len(want.Statement), len(got.Statement)) {
		if diff := cmp.Diff(want.Statement[i], got.Statement[i]); diff != "" {
			t.Errorf("statement %d (%s) (-iam-policy +template):\n%s", i, want.Statement[i].Sid, diff)
		}
	}
}
