package deploy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/testenv"
)

const cfnLintHint = "install cfn-lint (pip install cfn-lint; it is not packaged for Debian)"

var templates = []string{filepath.Join("cloudformation", "keywarden.yaml"), filepath.Join("cloudformation", "member-role.yaml")}

// TestCloudFormationLint: both templates are cfn-lint clean, warnings
// included.
func TestCloudFormationLint(t *testing.T) {
	lint := tool(t, "cfn-lint", cfnLintHint)
	run(t, "", nil, lint, append([]string{"--format", "parseable"}, templates...)...)
}

// TestCloudFormationNoWildcardActions: no policy in either template grants
// an action with a wildcard.
func TestCloudFormationNoWildcardActions(t *testing.T) {
	for _, path := range templates {
		var walk func(v any, inAction bool)
		walk = func(v any, inAction bool) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					walk(x, inAction || k == "Action")
				}
			case []any:
				for _, x := range v {
					walk(x, inAction)
				}
			case string:
				if inAction && strings.Contains(v, "*") {
					t.Errorf("%s grants the wildcard action %q", path, v)
				}
			}
		}
		walk(readTemplate(t, path)["Resources"], false)
	}
}

// TestCloudFormationWhatMotoIgnores checks in the template what moto's
// CloudFormation accepts but does not apply, so the stack tests cannot see:
// the function's architecture and dead-letter queue, the table's
// point-in-time recovery, what a stack update does to the stop parameter.
func TestCloudFormationWhatMotoIgnores(t *testing.T) {
	res := readTemplate(t, templates[0])["Resources"].(map[string]any)
	props := func(name string) map[string]any { return res[name].(map[string]any)["Properties"].(map[string]any) }
	fn := props("Function")
	if got := fn["Architectures"]; !cmp.Equal(got, []any{"arm64"}) {
		t.Errorf("Function.Architectures = %v; want [arm64]", got)
	}
	if got := fn["DeadLetterConfig"]; !cmp.Equal(got, map[string]any{"TargetArn": []any{"DeadLetterQueue", "Arn"}}) &&
		!cmp.Equal(got, map[string]any{"TargetArn": "DeadLetterQueue.Arn"}) {
		t.Errorf("Function.DeadLetterConfig = %v; want the DeadLetterQueue's ARN", got)
	}
	if got := props("StateTable")["PointInTimeRecoverySpecification"]; !cmp.Equal(got, map[string]any{"PointInTimeRecoveryEnabled": true}) {
		t.Errorf("StateTable.PointInTimeRecoverySpecification = %v; want enabled", got)
	}
	// A stack update leaves a resource alone when its properties do not
	// change (moto's update never rewrites it, so only the template can
	// show this): the stop parameter's properties depend on nothing but its
	// name, so no update turns a stop an admin set back into go.
	want := map[string]any{"Name": "StopParameter", "Type": "String", "Value": "go",
		"Description": "keywarden emergency stop: stop halts every action; anything else lets keywarden act"}
	if got := props("EmergencyStopParameter"); !cmp.Equal(got, want) {
		t.Errorf("EmergencyStopParameter.Properties = %v; want %v (a constant String holding go, named StopParameter)", got, want)
	}
}

func readTemplate(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// yaml.v3 drops the short-form tags (!Ref, !If, …) and keeps their
	// values, which is enough to read properties.
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// stack is a template created on moto.
type stack struct {
	cfg     aws.Config
	outputs map[string]string
}

// codeBucket holds the dummy Lambda bundle the stacks' functions are
// created from.
const codeBucket = "keywarden-code"

// createStack uploads a dummy bundle, creates the template as a stack with
// params and waits for CREATE_COMPLETE.
func createStack(t *testing.T, m *testenv.MotoServer, template string, params map[string]string) *stack {
	t.Helper()
	ctx := context.Background()
	cfg := m.Config(t)
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	if w, err := zw.Create("bootstrap"); err != nil {
		t.Fatal(err)
	} else if _, err := w.Write([]byte("#!/bin/sh\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(codeBucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(codeBucket), Key: aws.String("keywarden-lambda.zip"),
		Body: bytes.NewReader(zipped.Bytes())}); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	var parameters []cftypes.Parameter
	for k, v := range params {
		parameters = append(parameters, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	cf := cloudformation.NewFromConfig(cfg)
	name := "keywarden-" + strings.ToLower(strings.TrimSuffix(filepath.Base(template), ".yaml"))
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(string(body)),
		Parameters: parameters, Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityNamedIam}}); err != nil {
		t.Fatalf("create stack %s: %v", name, err)
	}
	var out *cloudformation.DescribeStacksOutput
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if out, err = cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		st := out.Stacks[0].StackStatus
		if st == cftypes.StackStatusCreateComplete {
			break
		}
		if !strings.HasSuffix(string(st), "_IN_PROGRESS") || time.Now().After(deadline) {
			t.Fatalf("stack %s: %s (%s)", name, st, aws.ToString(out.Stacks[0].StackStatusReason))
		}
	}
	s := &stack{cfg: cfg, outputs: map[string]string{}}
	for _, o := range out.Stacks[0].Outputs {
		s.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return s
}

// stringList is a policy's Action or Resource: a string or a list. moto's
// CloudFormation leaves an AWS::NoValue list element as null where
// CloudFormation removes it: a null is dropped, but an empty string (a
// template that joined and split a list wrongly) is kept, for the
// comparison to find.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var list []*string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*l = nil
	for _, s := range list {
		if s != nil {
			*l = append(*l, *s)
		}
	}
	return nil
}

type readStatement struct {
	Sid       string
	Effect    string
	Action    stringList
	Resource  stringList
	Principal any
	Condition map[string]map[string]stringList
}

type readDocument struct {
	Version   string
	Statement []*readStatement
}

// rolePolicies reads every inline policy of role from moto IAM, and fails
// the test when the role has attached (managed) policies.
func rolePolicies(t *testing.T, cfg aws.Config, role string) map[string]readDocument {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(cfg)
	attached, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	if len(attached.AttachedPolicies) > 0 {
		t.Errorf("role %s has attached policies %v; want inline policies only", role, attached.AttachedPolicies)
	}
	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]readDocument{}
	for _, name := range names.PolicyNames {
		p, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = decodePolicy(t, aws.ToString(p.PolicyDocument))
	}
	return docs
}

// decodePolicy decodes a policy document as IAM returns it (URL-encoded
// JSON). moto's CloudFormation leaves an AWS::NoValue list element as
// null where CloudFormation removes it; those are dropped here (and by
// stringList).
func decodePolicy(t *testing.T, encoded string) readDocument {
	t.Helper()
	raw, err := url.QueryUnescape(encoded)
	if err != nil {
		raw = encoded
	}
	var d readDocument
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("policy document: %v\n%s", err, raw)
	}
	d.Statement = slices.DeleteFunc(d.Statement, func(s *readStatement) bool { return s == nil })
	return d
}

// asIAMPolicy is the document in iampolicy's terms, actions and resources
// sorted (their order means nothing to IAM; iam-policy sorts them).
func asIAMPolicy(d readDocument) iampolicy.Document {
	out := iampolicy.Document{Version: d.Version}
	for _, s := range d.Statement {
		var cond iampolicy.Condition
		for op, keys := range s.Condition {
			if cond == nil {
				cond = iampolicy.Condition{}
			}
			cond[op] = map[string][]string{}
			for k, v := range keys {
				cond[op][k] = v
			}
		}
		out.Statement = append(out.Statement, iampolicy.Statement{Sid: s.Sid, Effect: s.Effect,
			Action: slices.Sorted(slices.Values(s.Action)), Resource: slices.Sorted(slices.Values(s.Resource)), Condition: cond})
	}
	return out
}

// splitPolicies joins a role's inline policies named keywarden and
// keywarden-* into one document, and those named deployment and
// deployment-* into another; others are the names of the rest.
func splitPolicies(policies map[string]readDocument) (keywarden, deployment readDocument, others []string) {
	for name, d := range policies {
		switch {
		case name == "keywarden" || strings.HasPrefix(name, "keywarden-"):
			keywarden.Version = d.Version
			keywarden.Statement = append(keywarden.Statement, d.Statement...)
		case name == "deployment" || strings.HasPrefix(name, "deployment-"):
			deployment.Version = d.Version
			deployment.Statement = append(deployment.Statement, d.Statement...)
		default:
			others = append(others, name)
		}
	}
	return keywarden, deployment, others
}

// bySid orders the statements by Sid: the templates split iam-policy's
// document into several policies, so only the order is lost.
func bySid(d iampolicy.Document) iampolicy.Document {
	d.Statement = slices.Clone(d.Statement)
	slices.SortFunc(d.Statement, func(a, b iampolicy.Statement) int { return strings.Compare(a.Sid, b.Sid) })
	return d
}

// noWildcardActions fails the test for any action with a *.
func noWildcardActions(t *testing.T, name string, d readDocument) {
	t.Helper()
	for _, s := range d.Statement {
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("policy %s statement %s grants the wildcard action %s", name, s.Sid, a)
			}
		}
	}
}

// runnerCase is one parameter set of keywarden.yaml and the config it
// describes.
type runnerCase struct {
	name   string
	params map[string]string
	yaml   string
	flags  []string
}

func TestCloudFormationRunnerStackOnMoto(t *testing.T) {
	const account, region = testenv.AccountID, testenv.Region
	tests := []runnerCase{
		{
			name: "read-only, config stored by the stack, events rule",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events",
				"ConfigYaml": notifyOnly + "state: { url: \"dynamodb://keywarden-state\" }\n"},
			yaml:  notifyOnly + "state: { url: \"dynamodb://keywarden-state\" }\n",
			flags: []string{"--config-ssm", "/keywarden/config"},
		},
		{
			name: "remediation with SES, SNS, DynamoDB, an organization, SSM secrets and a KMS key, scheduler",
			params: map[string]string{"CodeS3Bucket": codeBucket, "FunctionName": "kw2", "StateTableName": "kw2-state",
				"ScheduleService": "scheduler", "ScheduleTimezone": "Europe/Berlin", "ScheduleInput": `{"apply": true}`,
				"KeyRemediation": "delete", "RemovePasswords": "true", "RemediateInThisAccount": "true",
				"OrganizationRoleName": "KeywardenAudit", "OrganizationOUs": "true",
				"SesFromAddress": "security@example.com", "SesRegion": "eu-west-1", "SesConfigurationSet": "kw-events",
				"CreateDigestTopic": "true", "SecretParameters": "/keywarden/slack,/keywarden/hook",
				"SsmKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd", "ConfigParameterName": "/kw2/config"},
			yaml: `version: 1
rules:
  password_unused: { after: 90, action: remove_password }
accounts:
  organization: { role_name: KeywardenAudit, ous: [ou-ab12-cdef3456] }
notify:
  from: "Security <security@example.com>"
  users: { via: ses }
  ses: { region: eu-west-1, configuration_set: kw-events }
  admins:
    sns_topic_arn: "arn:aws:sns:` + region + `:` + account + `:kw2-digest"
    slack_webhook_ssm: /keywarden/slack
    webhook_url_ssm: /keywarden/hook
enforce: { allowed_accounts: ["` + account + `", "222222222222"] }
state: { url: "dynamodb://kw2-state" }
`,
			flags: []string{"--config-ssm", "/kw2/config", "--kms-key", "arn:aws:kms:us-east-1:123456789012:key/1234abcd"},
		},
		{
			name: "listed roles, config from S3, SMTP password, a secret by ARN, table key",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events", "KeyRemediation": "disable",
				"ListedRoleArns":   "arn:aws:iam::222222222222:role/KeywardenAudit,arn:aws:iam::333333333333:role/Audit",
				"ConfigS3Uri":      "s3://cfg-bucket/keywarden/config.yaml",
				"SecretParameters": "/keywarden/smtp", "SsmKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/ssm",
				"SecretParameterArns": "arn:aws:ssm:eu-west-1:222222222222:parameter/central/slack",
				"StateTableKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/table"},
			yaml: notifyOnly + `  access_key_unused: { after: 45, action: disable }
accounts:
  list:
    - { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" }
    - { id: "333333333333", role_arn: "arn:aws:iam::333333333333:role/Audit", external_id: kw-ext }
notify:
  from: sec@example.com
  users: { via: smtp }
  smtp: { host: smtp.example.com, username: kw, password_ssm: /keywarden/smtp }
  admins: { slack_webhook_ssm: "arn:aws:ssm:eu-west-1:222222222222:parameter/central/slack" }
enforce: { allowed_accounts: ["222222222222"] }   # through the role: no write for the runner
state: { url: "dynamodb://keywarden-state" }
`,
			flags: []string{"--config-s3", "s3://cfg-bucket/keywarden/config.yaml", "--kms-key", "arn:aws:kms:us-east-1:123456789012:key/ssm"},
		},
		{
			name: "emergency stop created, acting in this account",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events", "KeyRemediation": "delete",
				"RemediateInThisAccount": "true", "StopParameter": "/keywarden/stop"},
			yaml: "version: 1\nenforce: { allowed_accounts: [\"" + account + "\"], stop_parameter: /keywarden/stop }\n" +
				"state: { url: \"dynamodb://keywarden-state\" }\n",
			flags: []string{"--config-ssm", "/keywarden/config"},
		},
		{
			name: "emergency stop by ARN (never created), acting only through the organization's member role; secrets by ARN",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events", "KeyRemediation": "disable",
				"OrganizationRoleName": "KeywardenAudit", "RemediateInMemberAccounts": "true",
				"StopParameter":       "arn:aws:ssm:eu-west-1:" + account + ":parameter/kw/stop",
				"SecretParameterArns": "arn:aws:ssm:eu-west-1:" + account + ":parameter/kw/slack,arn:aws:ssm:eu-west-1:" + account + ":parameter/kw/hook"},
			yaml: notifyOnly + `  access_key_unused: { after: 45, action: disable }
accounts: { organization: { role_name: KeywardenAudit } }
notify:
  admins:
    slack_webhook_ssm: "arn:aws:ssm:eu-west-1:` + account + `:parameter/kw/slack"
    webhook_url_ssm: "arn:aws:ssm:eu-west-1:` + account + `:parameter/kw/hook"
enforce: { allowed_accounts: ["222222222222"], stop_parameter: "arn:aws:ssm:eu-west-1:` + account + `:parameter/kw/stop" }
state: { url: "dynamodb://keywarden-state" }
`,
			flags: []string{"--config-ssm", "/keywarden/config"},
		},
		{
			name: "emergency stop, a name without a slash, acting only through a listed role",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events", "KeyRemediation": "disable",
				"ListedRoleArns": "arn:aws:iam::222222222222:role/KeywardenAudit", "RemediateInMemberAccounts": "true",
				"StopParameter": "keywarden-stop"},
			yaml: notifyOnly + `  access_key_unused: { after: 45, action: disable }
accounts:
  list: [ { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" } ]
enforce: { allowed_accounts: ["222222222222"], stop_parameter: keywarden-stop }
state: { url: "dynamodb://keywarden-state" }
`,
			flags: []string{"--config-ssm", "/keywarden/config"},
		},
		{
			name: "signing certificates deleted and service credentials disabled in this account, SSH keys read, the emergency stop read",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events", "SigningCertificateRemediation": "delete",
				"ServiceCredentialRemediation": "disable", "ReadSSHKeys": "true", "RemediateInThisAccount": "true", "StopParameter": "/keywarden/stop"},
			yaml: acting(`  signing_certificate_age: { human: [ {at: 80, action: disable}, {at: 90, action: delete} ] }
  service_credential_age: { human: [ {at: 80, action: disable} ] }
  ssh_key_age: { users: { names: ["git-*"] }, max_age: 365 }
`) + `enforce: { allowed_accounts: ["` + account + `"], stop_parameter: /keywarden/stop }
state: { url: "dynamodb://keywarden-state" }
`,
			flags: []string{"--config-ssm", "/keywarden/config"},
		},
		{
			name: "rotation in this account creating secrets under a name of its own, the emergency stop read",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events", "RotateKeys": "true",
				"RotationSecretName": "ci/{user}/aws", "RotationCreateSecrets": "true", "RemediateInThisAccount": "true",
				"StopParameter": "/keywarden/stop"},
			yaml: "version: 1\n" + rotatingRules + "enforce: { allowed_accounts: [\"" + account + "\"], stop_parameter: /keywarden/stop }\n" +
				"rotate: { secret_name: \"ci/{user}/aws\", create_secret: true }\nstate: { url: \"dynamodb://keywarden-state\" }\n",
			flags: []string{"--config-ssm", "/keywarden/config"},
		},
		{
			name: "rotation only through the member role: nothing of it here",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events", "RotateKeys": "true",
				"OrganizationRoleName": "KeywardenAudit", "RemediateInMemberAccounts": "true"},
			yaml: "version: 1\n" + rotatingRules + "accounts: { organization: { role_name: KeywardenAudit } }\n" +
				"enforce: { allowed_accounts: [\"222222222222\"] }\nstate: { url: \"dynamodb://keywarden-state\" }\n",
			flags: []string{"--config-ssm", "/keywarden/config"},
		},
		{
			name: "emergency stop that exists, where keywarden cannot act: not read; a secret by ARN, config from S3",
			params: map[string]string{"CodeS3Bucket": codeBucket, "ScheduleService": "events", "KeyRemediation": "delete",
				"StopParameter": "/keywarden/stop", "CreateStopParameter": "false",
				"ConfigS3Uri": "s3://cfg-bucket/keywarden.yaml", "SecretParameterArns": "arn:aws:ssm:us-east-1:222222222222:parameter/hook"},
			yaml: "version: 1\nenforce: { stop_parameter: /keywarden/stop }\nstate: { url: \"dynamodb://keywarden-state\" }\n" +
				"notify: { admins: { webhook_url_ssm: \"arn:aws:ssm:us-east-1:222222222222:parameter/hook\" } }\n",
			flags: []string{"--config-s3", "s3://cfg-bucket/keywarden.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testenv.Moto(t)
			s := createStack(t, m, templates[0], withCredentialRemediation(t, tt.params, tt.yaml))
			ctx := context.Background()
			name := cmpOr(tt.params["FunctionName"], "keywarden")
			role := s.outputs["RoleName"]
			if role != name+"-runner" {
				t.Errorf("output RoleName = %q; want %s-runner", role, name)
			}
			policies := rolePolicies(t, s.cfg, role)
			for n, d := range policies {
				noWildcardActions(t, n, d)
			}

			// The keywarden-* policies together are iam-policy's for the config.
			keywarden, deployment, others := splitPolicies(policies)
			if len(others) > 0 {
				t.Errorf("role %s has other inline policies %v; want keywarden-* and deployment-* only", role, others)
			}
			// The stack's policy is iam-policy's for the runner in the stack's
			// account.
			flags := append([]string{"--runner-account", account}, tt.flags...)
			comparePolicies(t, bySid(iamPolicy(t, tt.yaml, flags...)), bySid(asIAMPolicy(keywarden)))

			// The deployment policies: the log group, the queue, the key.
			dlq := s.outputs["DeadLetterQueueArn"]
			if dlq != "arn:aws:sqs:"+region+":"+account+":"+name+"-dlq" {
				t.Errorf("output DeadLetterQueueArn = %q", dlq)
			}
			wantDeployment := []iampolicy.Statement{
				{Sid: "SendToDeadLetterQueue", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{dlq}},
				{Sid: "WriteLogs", Effect: "Allow", Action: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
					Resource: []string{"arn:aws:logs:" + region + ":" + account + ":log-group:/aws/lambda/" + name + ":*"}},
			}
			if key := tt.params["StateTableKmsKeyArn"]; key != "" {
				wantDeployment = append(wantDeployment, iampolicy.Statement{Sid: "UseStateTableKey", Effect: "Allow",
					Action: []string{"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}, Resource: []string{key},
					Condition: iampolicy.Condition{"StringEquals": {"kms:ViaService": {"dynamodb." + region + ".amazonaws.com"}}}})
			}
			if diff := cmp.Diff(bySid(iampolicy.Document{Statement: wantDeployment}).Statement, bySid(asIAMPolicy(deployment)).Statement); diff != "" {
				t.Errorf("deployment policies (-want +got):\n%s", diff)
			}

			// The function: runtime, handler, role, config source.
			fn, err := lambda.NewFromConfig(s.cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			c := fn.Configuration
			if string(c.Runtime) != "provided.al2023" || aws.ToString(c.Handler) != "bootstrap" ||
				aws.ToString(c.Role) != "arn:aws:iam::"+account+":role/"+role {
				t.Errorf("function: runtime %s, handler %s, role %s; want provided.al2023, bootstrap, the runner role",
					c.Runtime, aws.ToString(c.Handler), aws.ToString(c.Role))
			}
			wantEnv := map[string]string{"KEYWARDEN_CONFIG_SSM": cmpOr(tt.params["ConfigParameterName"], "/keywarden/config")}
			if uri := tt.params["ConfigS3Uri"]; uri != "" {
				wantEnv = map[string]string{"KEYWARDEN_CONFIG_S3": uri}
			}
			if diff := cmp.Diff(wantEnv, c.Environment.Variables); diff != "" {
				t.Errorf("function environment (-want +got):\n%s", diff)
			}

			// The config parameter exists only when the stack was given the YAML.
			p, err := ssm.NewFromConfig(s.cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(wantEnv["KEYWARDEN_CONFIG_SSM"])})
			switch {
			case tt.params["ConfigYaml"] != "" && err != nil:
				t.Errorf("config parameter: %v", err)
			case tt.params["ConfigYaml"] != "" && aws.ToString(p.Parameter.Value) != tt.params["ConfigYaml"]:
				t.Errorf("config parameter = %q; want the ConfigYaml", aws.ToString(p.Parameter.Value))
			case tt.params["ConfigYaml"] == "" && err == nil:
				t.Errorf("the stack created the config parameter %s without ConfigYaml", wantEnv["KEYWARDEN_CONFIG_SSM"])
			}

			checkStopParameter(t, s, tt.params)

			// The state table's schema.
			tableName := s.outputs["StateTableName"]
			if s.outputs["StateUrl"] != "dynamodb://"+tableName {
				t.Errorf("output StateUrl = %q; want dynamodb://%s", s.outputs["StateUrl"], tableName)
			}
			table, err := dynamodb.NewFromConfig(s.cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
			if err != nil {
				t.Fatal(err)
			}
			schema := func(ks any) string { b, _ := json.Marshal(ks); return string(b) }
			if got := schema(table.Table.KeySchema); got != `[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]` {
				t.Errorf("table key schema = %s; want pk HASH, sk RANGE", got)
			}
			if g := table.Table.GlobalSecondaryIndexes; len(g) != 1 || aws.ToString(g[0].IndexName) != "gsi1" ||
				schema(g[0].KeySchema) != `[{"AttributeName":"gsi1pk","KeyType":"HASH"},{"AttributeName":"gsi1sk","KeyType":"RANGE"}]` ||
				g[0].Projection.ProjectionType != "ALL" {
				t.Errorf("table indexes = %s; want gsi1 (gsi1pk HASH, gsi1sk RANGE, ALL)", schema(g))
			}
			if table.Table.BillingModeSummary == nil || table.Table.BillingModeSummary.BillingMode != "PAY_PER_REQUEST" {
				t.Errorf("table billing = %+v; want PAY_PER_REQUEST", table.Table.BillingModeSummary)
			}

			checkSchedule(t, s, tt.params, name)
		})
	}
}

// checkStopParameter: the stack created the emergency stop parameter
// holding go, and output its ARN, when it was asked to (a name, and
// CreateStopParameter not false); otherwise it created none.
func checkStopParameter(t *testing.T, s *stack, params map[string]string) {
	t.Helper()
	name := params["StopParameter"]
	created := name != "" && !strings.HasPrefix(name, "arn:") && params["CreateStopParameter"] != "false"
	var stops []string
	var next *string
	c := ssm.NewFromConfig(s.cfg)
	for {
		out, err := c.DescribeParameters(context.Background(), &ssm.DescribeParametersInput{NextToken: next})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out.Parameters {
			if n := aws.ToString(p.Name); strings.Contains(n, "stop") {
				stops = append(stops, n)
			}
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	wantARN := ""
	if !created {
		if len(stops) > 0 {
			t.Errorf("the stack created the parameters %v; want no stop parameter", stops)
		}
	} else {
		if !cmp.Equal(stops, []string{name}) {
			t.Errorf("stop parameters = %v; want [%s]", stops, name)
		}
		p, err := c.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if p.Parameter.Type != "String" || aws.ToString(p.Parameter.Value) != "go" {
			t.Errorf("stop parameter %s: %s %q; want a String holding go", name, p.Parameter.Type, aws.ToString(p.Parameter.Value))
		}
		wantARN = aws.ToString(p.Parameter.ARN)
	}
	if got := s.outputs["StopParameterArn"]; got != wantARN {
		t.Errorf("output StopParameterArn = %q; want %q", got, wantARN)
	}
}

// checkSchedule: the events rule and its permission, or the scheduler role
// (and the schedule, where moto creates it).
func checkSchedule(t *testing.T, s *stack, params map[string]string, name string) {
	t.Helper()
	ctx := context.Background()
	fnARN := s.outputs["FunctionArn"]
	input := cmpOr(params["ScheduleInput"], `{"dry_run": true}`)
	if params["ScheduleService"] == "events" {
		ev := eventbridge.NewFromConfig(s.cfg)
		rule, err := ev.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(rule.ScheduleExpression) != "cron(0 7 * * ? *)" || rule.State != "ENABLED" {
			t.Errorf("rule: %s %s; want cron(0 7 * * ? *) ENABLED", aws.ToString(rule.ScheduleExpression), rule.State)
		}
		targets, err := ev.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if len(targets.Targets) != 1 || aws.ToString(targets.Targets[0].Arn) != fnARN || aws.ToString(targets.Targets[0].Input) != input {
			t.Errorf("rule targets = %+v; want the function with input %s", targets.Targets, input)
		}
		pol, err := lambda.NewFromConfig(s.cfg).GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if p := aws.ToString(pol.Policy); !strings.Contains(p, `"Service": "events.amazonaws.com"`) || !strings.Contains(p, aws.ToString(rule.Arn)) {
			t.Errorf("function policy = %s; want events.amazonaws.com for the rule %s", p, aws.ToString(rule.Arn))
		}
		return
	}
	role := name + "-scheduler"
	policies := rolePolicies(t, s.cfg, role)
	want := []iampolicy.Statement{{Sid: "InvokeKeywarden", Effect: "Allow", Action: []string{"lambda:InvokeFunction"}, Resource: []string{fnARN}}}
	if len(policies) != 1 || !cmp.Equal(asIAMPolicy(policies["invoke-"+name]).Statement, want) {
		t.Errorf("scheduler role policies = %+v; want only lambda:InvokeFunction on %s", policies, fnARN)
	}
	r, err := iam.NewFromConfig(s.cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	trust := decodePolicy(t, aws.ToString(r.Role.AssumeRolePolicyDocument))
	if len(trust.Statement) != 1 || !cmp.Equal(trust.Statement[0].Principal, map[string]any{"Service": "scheduler.amazonaws.com"}) ||
		!cmp.Equal(trust.Statement[0].Condition["StringEquals"]["aws:SourceAccount"], stringList{testenv.AccountID}) {
		t.Errorf("scheduler role trust = %+v; want scheduler.amazonaws.com from account %s", trust.Statement, testenv.AccountID)
	}
	sched, err := scheduler.NewFromConfig(s.cfg).GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name)})
	if err != nil {
		// moto's CloudFormation has no AWS::Scheduler::Schedule: it skips the
		// resource and completes the stack (docs/deploy.md).
		t.Logf("moto did not create the AWS::Scheduler::Schedule (%v); its properties are checked by cfn-lint only", err)
		return
	}
	if aws.ToString(sched.Target.Arn) != fnARN || aws.ToString(sched.Target.Input) != input || aws.ToString(sched.ScheduleExpressionTimezone) != params["ScheduleTimezone"] {
		t.Errorf("schedule = %+v; want the function, input %s, time zone %s", sched, input, params["ScheduleTimezone"])
	}
}

// withCredentialRemediation is params with SigningCertificateRemediation
// and ServiceCredentialRemediation set as yaml's stages (the built-in ones
// included) call for, where params does not set them.
func withCredentialRemediation(t *testing.T, params map[string]string, yaml string) map[string]string {
	t.Helper()
	out := maps.Clone(params)
	certs, services := credentialRemediation(t, yaml)
	for k, v := range map[string]string{"SigningCertificateRemediation": certs, "ServiceCredentialRemediation": services} {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestCloudFormationMemberRoleOnMoto(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		yaml   string
		// The trust policy's condition.
		condition map[string]map[string]stringList
	}{
		{"remediation in two allowed accounts, only the runner role, with an external ID",
			map[string]string{"RunnerAccountId": "111111111111", "ExternalId": "kw-ext", "KeyRemediation": "delete", "RemovePasswords": "true",
				"AllowedAccounts": testenv.AccountID + ",222222222222"},
			"version: 1\nrules: { password_unused: { after: 90, action: remove_password } }\naccounts: { organization: { role_name: KeywardenAudit } }\n" +
				`enforce: { allowed_accounts: ["111111111111", "222222222222", "` + testenv.AccountID + `"] }` + "\n",
			map[string]map[string]stringList{
				"ArnEquals":    {"aws:PrincipalArn": {"arn:aws:iam::111111111111:role/keywarden-runner"}},
				"StringEquals": {"sts:ExternalId": {"kw-ext"}},
			}},
		{"certificates disabled and service credentials deleted in an allowed account, SSH keys read",
			map[string]string{"RunnerAccountId": "111111111111", "SigningCertificateRemediation": "disable", "ServiceCredentialRemediation": "delete",
				"ReadSSHKeys": "true", "AllowedAccounts": testenv.AccountID},
			acting(`  signing_certificate_age: { human: [ {at: 80, action: disable} ] }
  service_credential_age: { human: [ {at: 90, action: delete} ] }
  ssh_key_age: { users: { names: ["git-*"] }, max_age: 365 }
`) + `accounts: { organization: { role_name: KeywardenAudit } }
enforce: { allowed_accounts: ["` + testenv.AccountID + `"] }
`,
			map[string]map[string]stringList{"ArnEquals": {"aws:PrincipalArn": {"arn:aws:iam::111111111111:role/keywarden-runner"}}}},
		{"rotation in two allowed accounts, creating secrets",
			map[string]string{"RunnerAccountId": "111111111111", "RotateKeys": "true", "RotationCreateSecrets": "true",
				"AllowedAccounts": testenv.AccountID + ",222222222222"},
			"version: 1\n" + rotatingRules + "accounts: { organization: { role_name: KeywardenAudit } }\n" +
				`enforce: { allowed_accounts: ["111111111111", "222222222222", "` + testenv.AccountID + `"] }` + "\nrotate: { create_secret: true }\n",
			map[string]map[string]stringList{"ArnEquals": {"aws:PrincipalArn": {"arn:aws:iam::111111111111:role/keywarden-runner"}}}},
		{"read-only, any principal of the runner account",
			map[string]string{"RunnerAccountId": "111111111111", "RunnerRoleName": "", "RoleName": "Audit"},
			notifyOnly + "accounts: { organization: { role_name: Audit } }\n", nil},
		{"delete rules without an allowed account: read-only",
			map[string]string{"RunnerAccountId": "111111111111", "RunnerRoleName": "", "KeyRemediation": "delete"},
			"version: 1\naccounts: { organization: { role_name: KeywardenAudit } }\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testenv.Moto(t)
			s := createStack(t, m, templates[1], withCredentialRemediation(t, tt.params, tt.yaml))
			role := cmpOr(tt.params["RoleName"], "KeywardenAudit")
			if s.outputs["RoleName"] != role || s.outputs["RoleArn"] != "arn:aws:iam::"+testenv.AccountID+":role/"+role {
				t.Errorf("outputs = %v; want the role %s", s.outputs, role)
			}
			policies := rolePolicies(t, s.cfg, role)
			for n, d := range policies {
				noWildcardActions(t, n, d)
			}
			keywarden, deployment, others := splitPolicies(policies)
			if len(others) > 0 || len(deployment.Statement) > 0 {
				t.Errorf("role %s has inline policies %v; want keywarden-* only", role, policies)
			}
			comparePolicies(t, bySid(iamPolicy(t, tt.yaml, "--role", "member", "--runner-account", "111111111111")), bySid(asIAMPolicy(keywarden)))

			r, err := iam.NewFromConfig(s.cfg).GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(role)})
			if err != nil {
				t.Fatal(err)
			}
			trust := decodePolicy(t, aws.ToString(r.Role.AssumeRolePolicyDocument))
			if len(trust.Statement) != 1 {
				t.Fatalf("trust policy has %d statements; want 1", len(trust.Statement))
			}
			st := trust.Statement[0]
			if !cmp.Equal(st.Principal, map[string]any{"AWS": "arn:aws:iam::111111111111:root"}) || !cmp.Equal(st.Action, stringList{"sts:AssumeRole"}) {
				t.Errorf("trust = %+v %v; want sts:AssumeRole by arn:aws:iam::111111111111:root", st.Principal, st.Action)
			}
			if diff := cmp.Diff(tt.condition, st.Condition); diff != "" {
				t.Errorf("trust condition (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCloudFormationPartitionBranches: a Join delimiter cannot hold
// ${AWS::Partition}, so the templates name the partition by hand in
// Fn::If branches on InChina and InGovCloud. moto's CloudFormation knows
// the aws partition only, so the stacks above never take the other
// branches: here each is checked to be the aws branch with its partition.
func TestCloudFormationPartitionBranches(t *testing.T) {
	for path, want := range map[string]int{templates[0]: 1, templates[1]: 5} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var root yaml.Node
		if err := yaml.Unmarshal(b, &root); err != nil {
			t.Fatal(err)
		}
		text := func(n *yaml.Node) string {
			out, err := yaml.Marshal(n)
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}
		found := 0
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Tag == "!If" && len(n.Content) == 3 && n.Content[0].Value == "InChina" {
				found++
				gov := n.Content[2]
				if gov.Tag != "!If" || len(gov.Content) != 3 || gov.Content[0].Value != "InGovCloud" {
					t.Errorf("%s line %d: the InChina branch's else is not an Fn::If on InGovCloud", path, n.Line)
					return
				}
				cn, us, std := text(n.Content[1]), text(gov.Content[1]), text(gov.Content[2])
				if !strings.Contains(std, "arn:aws:") {
					t.Errorf("%s line %d: the aws branch names no arn:aws: ARN:\n%s", path, n.Line, std)
				}
				if want := strings.ReplaceAll(std, "arn:aws:", "arn:aws-cn:"); cn != want {
					t.Errorf("%s line %d: the aws-cn branch is\n%s\nwant\n%s", path, n.Line, cn, want)
				}
				if want := strings.ReplaceAll(std, "arn:aws:", "arn:aws-us-gov:"); us != want {
					t.Errorf("%s line %d: the aws-us-gov branch is\n%s\nwant\n%s", path, n.Line, us, want)
				}
				return
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&root)
		if found != want {
			t.Errorf("%s: %d partition branches; want %d", path, found, want)
		}
	}
}
