package iampolicy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// rotating parses yaml, whose access_key_age stages at 80 days disable,
// and makes those stages rotate (built in code, so that the test does
// not depend on the config's validation of the stage).
func rotating(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg := cfgOf(t, yaml)
	n := 0
	for class, stages := range cfg.Rules.AccessKeyAge {
		for i := range stages {
			if stages[i].At == 80 && stages[i].Action == config.ActionDisable {
				cfg.Rules.AccessKeyAge[class][i].Action = config.ActionRotate
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no stage at 80 days disables")
	}
	return cfg
}

// machineRotates: the machine class rotates at 80 days, notifies before.
const machineRotates = "version: 1\nrules:\n  access_key_age:\n    human: [ {at: 70, action: notify} ]\n" +
	"    machine: [ {at: 70, action: notify}, {at: 80, action: disable} ]\n"

// TestRotationStatements: a rotate stage adds CreateAccessKey and the
// secret writes on the allowed accounts, in statements of their own, and
// the retiring disable and delete; create_secret adds the creates.
func TestRotationStatements(t *testing.T) {
	const users = "arn:aws:iam::111111111111:user/*"
	secret := "arn:aws:secretsmanager:*:*:secret:keywarden/*"
	param := "arn:aws:ssm:*:*:parameter/keywarden/*"
	in := iampolicy.Condition{"StringEquals": {"aws:ResourceAccount": {"111111111111"}}}
	want := []iampolicy.Statement{
		{Sid: "RotateAccessKeys", Effect: "Allow", Action: []string{"iam:CreateAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys"},
			Resource: []string{users}},
		{Sid: "DescribeRotationSecrets", Effect: "Allow", Action: []string{"secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"},
			Resource: []string{secret}, Condition: in},
		{Sid: "WriteRotationSecrets", Effect: "Allow", Action: []string{"secretsmanager:PutSecretValue"}, Resource: []string{secret + "-??????"}, Condition: in},
		{Sid: "DescribeRotationParameters", Effect: "Allow", Action: []string{"ssm:DescribeParameters"}, Resource: []string{"*"}},
		{Sid: "WriteRotationParameters", Effect: "Allow", Action: []string{"ssm:ListTagsForResource", "ssm:PutParameter"}, Resource: []string{param}, Condition: in},
		{Sid: "DescribeRotationKeys", Effect: "Allow", Action: []string{"kms:DescribeKey"}, Resource: []string{"*"}, Condition: in},
		{Sid: "EncryptRotationSecrets", Effect: "Allow", Action: []string{"kms:Encrypt", "kms:GenerateDataKey"}, Resource: []string{"*"},
			Condition: iampolicy.Condition{"StringLike": {"kms:ViaService": {"secretsmanager.*.amazonaws.com", "ssm.*.amazonaws.com"}},
				"StringEquals": {"aws:ResourceAccount": {"111111111111"}}}},
	}
	tags := iampolicy.Condition{"StringLike": {"aws:RequestTag/keywarden:user": {"?*"}},
		"ForAllValues:StringEquals": {"aws:TagKeys": {"keywarden:user"}}, "StringEquals": {"aws:ResourceAccount": {"111111111111"}}}
	withCreate := slices.Clone(want)
	withCreate = slices.Insert(withCreate, 3, iampolicy.Statement{Sid: "CreateRotationSecrets", Effect: "Allow",
		Action: []string{"secretsmanager:CreateSecret", "secretsmanager:TagResource"}, Resource: []string{secret + "-??????"}, Condition: tags})
	withCreate = slices.Insert(withCreate, 6, iampolicy.Statement{Sid: "CreateRotationParameters", Effect: "Allow",
		Action: []string{"ssm:AddTagsToResource"}, Resource: []string{param}, Condition: tags})

	for name, tt := range map[string]struct {
		yaml string
		want []iampolicy.Statement
	}{
		"rotate":                {machineRotates + allowed, want},
		"rotate, create_secret": {machineRotates + allowed + "rotate: { create_secret: true }\n", withCreate},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := iampolicy.For(rotating(t, tt.yaml), iampolicy.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []iampolicy.Statement
			for _, s := range d.Statement {
				if strings.Contains(s.Sid, "Rotat") {
					got = append(got, s)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rotation statements (-want +got):\n%s", diff)
			}
			// The old key is retired by a disable and a delete, though no
			// stage of the config disables or deletes.
			res := resources(t, d)
			for _, a := range []string{"iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed"} {
				if !slices.Contains(res[a], users) {
					t.Errorf("%s on %v; want it on %s (the old key's retirement)", a, res[a], users)
				}
			}
		})
	}
}

// TestNoRotationWithoutARotateStage: without a rotate stage, or without an
// account to act in, nothing of rotation is granted.
func TestNoRotationWithoutARotateStage(t *testing.T) {
	for name, cfg := range map[string]*config.Config{
		"disable and delete stages":        cfgOf(t, "version: 1\n"+allowed+"rotate: { create_secret: true }\n"),
		"rotate stage, no allowed account": rotating(t, machineRotates),
	} {
		d, err := iampolicy.For(cfg, iampolicy.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range d.Actions() {
			if a == "iam:CreateAccessKey" || strings.HasPrefix(a, "secretsmanager:") || strings.HasPrefix(a, "kms:") ||
				a == "ssm:PutParameter" || a == "ssm:DescribeParameters" {
				t.Errorf("%s: grants %s", name, a)
			}
		}
	}
}

// TestRotationRequests evaluates the requests a rotation makes, and ones
// it must not be able to make, against the policy.
func TestRotationRequests(t *testing.T) {
	cfg := rotating(t, machineRotates+"accounts: { organization: { role_name: Audit } }\n"+
		"enforce: { allowed_accounts: [\"111111111111\", \"222222222222\"] }\nrotate: { secret_name: \"ci/{user}/aws\", create_secret: true }\n")
	tag := func(kv ...string) map[string][]string {
		ctx := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			ctx["aws:RequestTag/"+kv[i]] = []string{kv[i+1]}
			ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], kv[i])
		}
		return ctx
	}
	const sm = "arn:aws:secretsmanager:eu-west-1:"
	for _, tt := range []struct {
		role    string
		req     iampolicy.Request
		allowed bool
	}{
		{iampolicy.RoleRunner, iampolicy.Request{Action: "iam:CreateAccessKey", Resource: "arn:aws:iam::111111111111:user/ci-bot"}, true},
		{iampolicy.RoleMember, iampolicy.Request{Action: "iam:CreateAccessKey", Resource: "arn:aws:iam::222222222222:user/ci-bot"}, true},
		{iampolicy.RoleMember, iampolicy.Request{Action: "iam:CreateAccessKey", Resource: "arn:aws:iam::333333333333:user/ci-bot"}, false},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:PutSecretValue", Resource: sm + "111111111111:secret:ci/ci-bot/aws-AbCdEf"}, true},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:DescribeSecret", Resource: sm + "111111111111:secret:ci/ci-bot/aws"}, true},
		// Another name, another account, a name that only starts like one.
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:PutSecretValue", Resource: sm + "111111111111:secret:prod/db-AbCdEf"}, false},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:PutSecretValue", Resource: sm + "333333333333:secret:ci/ci-bot/aws-AbCdEf"}, false},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:PutSecretValue", Resource: sm + "111111111111:secret:ci/ci-bot/aws-prod-AbCdEf"}, false},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:GetSecretValue", Resource: sm + "111111111111:secret:ci/ci-bot/aws-AbCdEf"}, false},
		// Created only with the keywarden:user tag, and no other.
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:CreateSecret", Resource: sm + "111111111111:secret:ci/ci-bot/aws-AbCdEf",
			Context: tag("keywarden:user", "ci-bot")}, true},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:TagResource", Resource: sm + "111111111111:secret:ci/ci-bot/aws-AbCdEf",
			Context: tag("keywarden:user", "ci-bot")}, true},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:CreateSecret", Resource: sm + "111111111111:secret:ci/ci-bot/aws-AbCdEf"}, false},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:TagResource", Resource: sm + "111111111111:secret:ci/ci-bot/aws-AbCdEf",
			Context: tag("keywarden:user", "ci-bot", "team", "x")}, false},
		{iampolicy.RoleMember, iampolicy.Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:eu-west-1:222222222222:parameter/ci/ci-bot/aws"}, true},
		{iampolicy.RoleMember, iampolicy.Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:eu-west-1:222222222222:parameter/keywarden/stop"}, false},
		{iampolicy.RoleMember, iampolicy.Request{Action: "ssm:AddTagsToResource", Resource: "arn:aws:ssm:eu-west-1:222222222222:parameter/ci/ci-bot/aws",
			Context: tag("keywarden:user", "ci-bot")}, true},
		{iampolicy.RoleMember, iampolicy.Request{Action: "ssm:AddTagsToResource", Resource: "arn:aws:ssm:eu-west-1:222222222222:parameter/ci/ci-bot/aws",
			Context: tag("keywarden:user", "ci-bot", "owner", "x")}, false},
		{iampolicy.RoleMember, iampolicy.Request{Action: "ssm:DescribeParameters", Resource: "*"}, true},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "kms:GenerateDataKey", Resource: "arn:aws:kms:eu-west-1:111111111111:key/k",
			Context: map[string][]string{"kms:ViaService": {"secretsmanager.eu-west-1.amazonaws.com"}}}, true},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "kms:Encrypt", Resource: "arn:aws:kms:eu-west-1:111111111111:key/k",
			Context: map[string][]string{"kms:ViaService": {"ssm.eu-west-1.amazonaws.com"}}}, true},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "kms:GenerateDataKey", Resource: "arn:aws:kms:eu-west-1:111111111111:key/k"}, false},
		// A key of an account keywarden does not act in: not even through
		// the services.
		{iampolicy.RoleRunner, iampolicy.Request{Action: "kms:GenerateDataKey", Resource: "arn:aws:kms:eu-west-1:999999999999:key/k",
			Context: map[string][]string{"kms:ViaService": {"secretsmanager.eu-west-1.amazonaws.com"}}}, false},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "kms:DescribeKey", Resource: "arn:aws:kms:eu-west-1:111111111111:key/k"}, true},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "kms:DescribeKey", Resource: "arn:aws:kms:eu-west-1:999999999999:key/k"}, false},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:GetResourcePolicy", Resource: sm + "111111111111:secret:ci/ci-bot/aws-AbCdEf"}, true},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "secretsmanager:GetResourcePolicy", Resource: sm + "333333333333:secret:ci/ci-bot/aws-AbCdEf"}, false},
		{iampolicy.RoleRunner, iampolicy.Request{Action: "kms:Encrypt", Resource: "arn:aws:kms:eu-west-1:111111111111:key/k",
			Context: map[string][]string{"kms:ViaService": {"s3.eu-west-1.amazonaws.com"}}}, false},
	} {
		d, err := iampolicy.For(cfg, iampolicy.Options{Role: tt.role, RunnerAccount: "111111111111"})
		if err != nil {
			t.Fatal(err)
		}
		// The account a resource is in, as IAM puts it in the context.
		if parts := strings.Split(tt.req.Resource, ":"); len(parts) > 4 && parts[4] != "" {
			ctx := map[string][]string{"aws:ResourceAccount": {parts[4]}}
			for k, v := range tt.req.Context {
				ctx[k] = v
			}
			tt.req.Context = ctx
		}
		dec, err := d.Evaluate(tt.req)
		if err != nil {
			t.Fatal(err)
		}
		if dec.Allowed != tt.allowed {
			t.Errorf("%s policy: %s on %s (%v): allowed %v; want %v", tt.role, tt.req.Action, tt.req.Resource, tt.req.Context, dec.Allowed, tt.allowed)
		}
	}
}

// TestGuardrailProtectsTheRotationTag: with a rotate stage, the guardrail
// denies setting keywarden:secret (which names where a user's new key is
// written) to everyone but the admins; without one, it does not name it.
func TestGuardrailProtectsTheRotationTag(t *testing.T) {
	for _, tt := range []struct {
		cfg  *config.Config
		want bool
	}{{rotating(t, machineRotates+allowed), true}, {cfgOf(t, machineRotates+allowed), false}} {
		d, err := iampolicy.Guardrail(tt.cfg, iampolicy.GuardrailOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := d.Evaluate(iampolicy.Request{Action: "iam:TagUser", Resource: "arn:aws:iam::111111111111:user/admin",
			Context: map[string][]string{"aws:TagKeys": {"Keywarden:Secret"}, "aws:PrincipalArn": {"arn:aws:iam::111111111111:user/dev"}}})
		if err != nil {
			t.Fatal(err)
		}
		if dec.Denied != tt.want {
			t.Errorf("rotating %v: iam:TagUser keywarden:secret denied %v; want %v", tt.want, dec.Denied, tt.want)
		}
	}
}
