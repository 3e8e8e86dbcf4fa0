package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/iampolicy"
	dynamostate "github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/testenv"
)

// coverageUsers are the users of each account in the coverage scenario:
// one of each remediation (a key to disable, an inactive key to delete, an
// unused console password to remove), and a compliant user.
func coverageUsers(account string) []testenv.SeedUser {
	return []testenv.SeedUser{
		{Name: "stale-" + account, Tags: map[string]string{"Email": "stale-" + account + "@example.com"},
			Keys: []testenv.SeedKey{{AgeDays: 85, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
		{Name: "inactive-" + account, Tags: map[string]string{"Email": "inactive-" + account + "@example.com"},
			Keys: []testenv.SeedKey{{AgeDays: 100, LastUsedDaysAgo: 60, Inactive: true}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
		{Name: "console-" + account, Tags: map[string]string{"Email": "console-" + account + "@example.com"},
			PasswordAgeDays: 120, PasswordLastUsedDaysAgo: -1, MFA: true},
		{Name: "fine-" + account, Keys: []testenv.SeedKey{{AgeDays: 3, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
	}
}

// TestIAMPolicyCoversEveryCall records every AWS request keywarden makes
// in a scenario that uses every feature — an organization walked by OU
// (the management account and two members, one in a nested OU), scan
// --security-hub, run --apply that disables, deletes and removes a
// password in each account, SES, SNS, a Slack webhook URL from SSM,
// DynamoDB state, undo — and checks, against `keywarden iam-policy` for the
// same config: every request made with keywarden's own credentials is
// allowed by the runner policy, every request made in a member account by
// the member policy, and neither policy grants an action no request needed.
func TestIAMPolicyCoversEveryCall(t *testing.T) {
	m := testenv.Moto(t)
	ctx := context.Background()
	org := m.CreateOrganization(t, 2)
	ou := m.CreateOU(t, org, org.RootID, "workloads", testenv.AccountID, org.Members[0])
	m.CreateOU(t, org, ou, "nested", org.Members[1])
	for _, id := range append([]string{testenv.AccountID}, org.Members...) {
		cfg := m.Config(t)
		if id != testenv.AccountID {
			cfg = m.AssumeRoleConfig(t, "arn:aws:iam::"+id+":role/OrganizationAccountAccessRole")
		}
		m.SeedInto(t, cfg, coverageUsers(id))
	}
	direct := m.Config(t)
	if _, err := sesv2.NewFromConfig(direct).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("example.com")}); err != nil {
		t.Fatal(err)
	}
	topic, err := sns.NewFromConfig(direct).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keywarden-digest")})
	if err != nil {
		t.Fatal(err)
	}
	slack := newHook(t, http.StatusOK)
	if _, err := ssm.NewFromConfig(direct).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keywarden/slack"),
		Value: aws.String(slack.srv.URL + "/services/T/B/secret"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	if err := dynamostate.CreateTable(ctx, ddb.NewFromConfig(direct), "keywarden-state", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.NewFromConfig(direct).EnableSecurityHub(ctx, &sh.EnableSecurityHubInput{}); err != nil {
		t.Fatal(err)
	}

	configYAML := fmt.Sprintf(`version: 1
accounts:
  organization: { role_name: KeywardenAudit, ous: [%s] }
rules:
  password_unused: { after: 90, action: remove_password }
notify:
  from: "Security <security@example.com>"
  users: { email_tags: [Email], via: ses }
  admins: { sns_topic_arn: %q, slack_webhook_ssm: /keywarden/slack }
enforce:
  allowed_accounts: [%q, %q, %q]
  grace_after_disable: 0
  max_fraction: 1
state: { url: "dynamodb://keywarden-state" }
`, ou, aws.ToString(topic.TopicArn), testenv.AccountID, org.Members[0], org.Members[1])
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(configYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	p := m.NewProxy(t)
	env := p.Env(m)
	mustRun := func(want int, args ...string) result {
		t.Helper()
		r := keywarden(t, env, dir, args...)
		if r.code != want {
			t.Fatalf("keywarden %v: exit %d; want %d\n%s", args, r.code, want, r.stderr)
		}
		return r
	}
	mustRun(0, "scan", "--security-hub", "--format", "json")
	res := decodeRun(t, mustRun(0, "run", "--apply", "--format", "json"))
	done := map[string]int{}
	for _, a := range res.Plan.Actions {
		if a.Status == "done" {
			done[a.Account+" "+a.Done]++
		}
	}
	for _, acct := range append([]string{testenv.AccountID}, org.Members...) {
		for _, kind := range []string{"disable", "delete", "remove_password"} {
			if done[acct+" "+kind] != 1 {
				t.Errorf("account %s: %d %s actions done; want 1 (the scenario must exercise every remediation everywhere)", acct, done[acct+" "+kind], kind)
			}
		}
	}
	// A finding that disappeared is resolved in Security Hub; the disable
	// in a member account is undone.
	mustRun(0, "scan", "--security-hub", "--format", "json")
	var undo string
	for _, a := range history(t, env, dir, "--account", org.Members[1], "--status", "done") {
		if a.Kind == "disable" {
			undo = a.ID
		}
	}
	mustRun(0, "undo", undo)

	cfg, err := config.Load(filepath.Join(dir, "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]*iampolicy.Document{}
	for _, role := range []string{iampolicy.RoleRunner, iampolicy.RoleMember} {
		r := mustRun(0, "iam-policy", "--role", role, "--security-hub")
		var d iampolicy.Document
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			t.Fatal(err)
		}
		want, err := iampolicy.For(cfg, iampolicy.Options{Role: role, SecurityHub: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Actions(), want.Actions()) {
			t.Fatalf("keywarden iam-policy --role %s = %v; want %v", role, d.Actions(), want.Actions())
		}
		docs[role] = &d
	}

	used := map[string]map[string]bool{iampolicy.RoleRunner: {}, iampolicy.RoleMember: {}}
	ops := map[string]map[string]int{iampolicy.RoleRunner: {}, iampolicy.RoleMember: {}}
	for _, op := range p.Ops() {
		role := iampolicy.RoleRunner
		if op.Account != testenv.AccountID {
			role = iampolicy.RoleMember
		}
		ops[role][op.Name()]++
		ok, by := docs[role].Covers(op.Name())
		if !ok {
			t.Errorf("%s (in account %s) is not allowed by the %s policy", op.Name(), op.Account, role)
		}
		for _, a := range by {
			used[role][a] = true
		}
	}
	for role, d := range docs {
		for _, a := range d.Actions() {
			if !used[role][a] {
				t.Errorf("the %s policy grants %s, which no request of the scenario needed", role, a)
			}
		}
		var names []string
		for n, c := range ops[role] {
			names = append(names, fmt.Sprintf("%s×%d", n, c))
		}
		sort.Strings(names)
		t.Logf("%s requests: %s", role, strings.Join(names, " "))
	}
}
