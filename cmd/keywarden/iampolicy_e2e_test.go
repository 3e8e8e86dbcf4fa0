package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	dynamostate "github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/testenv"
)

// coverageUsers are the users of each account in the coverage scenario:
// one of each remediation (a key, a signing certificate and a service
// credential to disable, inactive ones to delete, an unused console
// password to remove), and a compliant user.
func coverageUsers(account string) []testenv.SeedUser {
	return []testenv.SeedUser{
		{Name: "stale-" + account, Tags: map[string]string{"Email": "stale-" + account + "@example.com"},
			Keys: []testenv.SeedKey{{AgeDays: 85, LastUsedDaysAgo: 1}}, Certs: []testenv.SeedCert{{AgeDays: 85}},
			ServiceCredentials: []testenv.SeedServiceCredential{{Service: "codecommit.amazonaws.com", AgeDays: 85}},
			PasswordAgeDays:    -1, PasswordLastUsedDaysAgo: -1},
		{Name: "inactive-" + account, Tags: map[string]string{"Email": "inactive-" + account + "@example.com"},
			Keys: []testenv.SeedKey{{AgeDays: 100, LastUsedDaysAgo: 60, Inactive: true}}, Certs: []testenv.SeedCert{{AgeDays: 100, Inactive: true}},
			ServiceCredentials: []testenv.SeedServiceCredential{{Service: "bedrock.amazonaws.com", AgeDays: 100, Inactive: true}},
			PasswordAgeDays:    -1, PasswordLastUsedDaysAgo: -1},
		{Name: "console-" + account, Tags: map[string]string{"Email": "console-" + account + "@example.com"},
			PasswordAgeDays: 120, PasswordLastUsedDaysAgo: -1, MFA: true},
		{Name: "fine-" + account, Keys: []testenv.SeedKey{{AgeDays: 3, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
	}
}

// coverageCase is one config of TestIAMPolicyCoversEveryCall: setup seeds
// moto and returns the config and what the scenario runs.
type coverageCase struct {
	name  string
	setup func(t *testing.T, m *testenv.MotoServer) coverageSetup
}

// coverageSetup is a case's config and scenario.
type coverageSetup struct {
	config string
	// securityHub: scan --security-hub, and iam-policy --security-hub.
	securityHub bool
	// acts: run --apply disables, deletes and removes a password in each of
	// these accounts (and in no other), and undo re-enables a key in the
	// last one.
	acts []string
	// beforeApply runs between the notifying run and run --apply.
	beforeApply func(t *testing.T)
	// world answers what the requests need beyond themselves.
	world *world
}

// world is what the evaluation of a request needs to know beyond the
// request: whose keys are whose, each account's organization, and which
// SES identity sent the mail at a given time.
type world struct {
	mu       sync.Mutex
	keyOwner map[string]string // access key ID → user
	orgOf    map[string]string // account → organization ID
	// sesIdentity names the verified SES identity mail from
	// security@example.com goes out as, from a time on (the address's when
	// both are verified).
	sesIdentity []sesEra
	// secrets maps "ACCOUNT NAME" to a Secrets Manager secret's ARN, and
	// secretKey an ARN to its customer managed KMS key; learn, when set,
	// fills them (and keyOwner) with what the scenario created, before
	// the requests are evaluated.
	secrets   map[string]string
	secretKey map[string]string
	learn     func(t *testing.T)
	// created holds the "ACCOUNT NAME" of the secrets the scenario
	// created, from its CreateSecret on (requests are evaluated in order):
	// before it, a request names a secret that does not exist.
	created, creates map[string]bool
}

type sesEra struct {
	from     time.Time
	identity string
}

func newWorld() *world {
	return &world{keyOwner: map[string]string{}, orgOf: map[string]string{}, secrets: map[string]string{}, secretKey: map[string]string{},
		created: map[string]bool{}, creates: map[string]bool{}}
}

// secretARN is the ARN IAM authorizes a request on a secret named id (a
// name or an ARN) in account on: the secret's full ARN, or for a secret
// that does not exist, the ARN of the name the request gives.
func (w *world) secretARN(account, id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	if a := w.secrets[account+" "+id]; a != "" && (!w.creates[account+" "+id] || w.created[account+" "+id]) {
		return a
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s", testenv.Region, account, id)
}

// seed seeds users into the account cfg signs for and remembers their keys.
func (w *world) seed(t *testing.T, m *testenv.MotoServer, cfg aws.Config, users []testenv.SeedUser) {
	t.Helper()
	for user, keys := range m.SeedInto(t, cfg, users) {
		for _, k := range keys {
			w.keyOwner[k] = user
		}
	}
}

// identityAt is the SES identity mail sent at time at goes out as.
func (w *world) identityAt(at time.Time) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := ""
	for _, e := range w.sesIdentity {
		if !at.Before(e.from) {
			id = e.identity
		}
	}
	return id
}

// memberConfig is a configuration for account id, through the role moto
// lets anyone assume there.
func memberConfig(t *testing.T, m *testenv.MotoServer, id string) aws.Config {
	return m.AssumeRoleConfig(t, "arn:aws:iam::"+id+":role/OrganizationAccountAccessRole")
}

// coverageRules disable at 80 days, delete at 90 (access keys by the
// default rules, certificates and service credentials named here) and
// remove console passwords unused for 90 days: every write keywarden can
// make.
const coverageRules = `rules:
  password_unused: { after: 90, action: remove_password }
  signing_certificate_age: { human: [ {at: 70, action: notify}, {at: 80, action: disable}, {at: 90, action: delete} ] }
  service_credential_age: { human: [ {at: 70, action: notify}, {at: 80, action: disable}, {at: 90, action: delete} ] }
`

var coverageCases = []coverageCase{
	{"single account, read-only", func(t *testing.T, m *testenv.MotoServer) coverageSetup {
		w := newWorld()
		w.seed(t, m, m.Config(t), coverageUsers(testenv.AccountID))
		return coverageSetup{world: w, config: `version: 1
` + coverageRules + `notify: { users: { email_tags: [Email] } }
`}
	}},
	{"single account, apply in allowed_accounts, an emergency stop parameter", func(t *testing.T, m *testenv.MotoServer) coverageSetup {
		w := newWorld()
		w.seed(t, m, m.Config(t), coverageUsers(testenv.AccountID))
		putStopParameter(t, m, "/keywarden/stop", "go")
		return coverageSetup{world: w, acts: []string{testenv.AccountID}, config: fmt.Sprintf(`version: 1
%snotify: { users: { email_tags: [Email] } }
enforce: { allowed_accounts: [%q], grace_after_disable: 0, max_fraction: 1, stop_parameter: /keywarden/stop }
`, coverageRules, testenv.AccountID)}
	}},
	{"organization, read-only", func(t *testing.T, m *testenv.MotoServer) coverageSetup {
		w := newWorld()
		org := m.CreateOrganization(t, 2)
		w.seed(t, m, m.Config(t), coverageUsers(testenv.AccountID))
		w.orgOf[testenv.AccountID] = org.ID
		for _, id := range org.Members {
			w.seed(t, m, memberConfig(t, m, id), coverageUsers(id))
			w.orgOf[id] = org.ID
		}
		return coverageSetup{world: w, config: `version: 1
accounts: { organization: { role_name: KeywardenAudit } }
` + coverageRules + `notify: { users: { email_tags: [Email] } }
`}
	}},
	{"organization by OU, apply in two allowed member accounts", func(t *testing.T, m *testenv.MotoServer) coverageSetup {
		w := newWorld()
		org := m.CreateOrganization(t, 3)
		ou := m.CreateOU(t, org, org.RootID, "workloads", testenv.AccountID, org.Members[0], org.Members[2])
		m.CreateOU(t, org, ou, "nested", org.Members[1])
		w.seed(t, m, m.Config(t), coverageUsers(testenv.AccountID))
		w.orgOf[testenv.AccountID] = org.ID
		for _, id := range org.Members {
			w.seed(t, m, memberConfig(t, m, id), coverageUsers(id))
			w.orgOf[id] = org.ID
		}
		// The management account and the third member are scanned, never
		// changed.
		return coverageSetup{world: w, acts: []string{org.Members[0], org.Members[1]}, config: fmt.Sprintf(`version: 1
accounts: { organization: { role_name: KeywardenAudit, ous: [%s] } }
%snotify: { users: { email_tags: [Email] } }
enforce: { allowed_accounts: [%q, %q], grace_after_disable: 0, max_fraction: 1 }
`, ou, coverageRules, org.Members[0], org.Members[1])}
	}},
	{"accounts.list with role ARNs", func(t *testing.T, m *testenv.MotoServer) coverageSetup {
		w := newWorld()
		w.seed(t, m, m.Config(t), coverageUsers(testenv.AccountID))
		for _, id := range []string{"222222222222", "333333333333"} {
			w.seed(t, m, memberConfig(t, m, id), coverageUsers(id))
		}
		// Acts in its own account (listed without a role) and in one listed
		// with a role; the other is only read.
		return coverageSetup{world: w, acts: []string{testenv.AccountID, "222222222222"}, config: fmt.Sprintf(`version: 1
accounts:
  list:
    - { id: %q }
    - { id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/KeywardenAudit" }
    - { id: "333333333333", role_arn: "arn:aws:iam::333333333333:role/Audit", external_id: kw-ext }
%snotify: { users: { email_tags: [Email] } }
enforce: { allowed_accounts: [%q, "222222222222"], grace_after_disable: 0, max_fraction: 1 }
`, testenv.AccountID, coverageRules, testenv.AccountID)}
	}},
	{"single account, rotating into Secrets Manager and SSM (one of each under a KMS key, one of each created)", func(t *testing.T, m *testenv.MotoServer) coverageSetup {
		ctx := context.Background()
		w := newWorld()
		direct := m.Config(t)
		key, err := kms.NewFromConfig(direct).CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		keyARN := aws.ToString(key.KeyMetadata.Arn)
		users := append(coverageUsers(testenv.AccountID), machine("rot-sm", 85, "keywarden/rot-sm"),
			machine("rot-ssm", 85, "ssm:/keywarden/rot-ssm"), machine("rot-new", 85, "keywarden/rot-new"),
			machine("rot-ssm-new", 85, "ssm:/keywarden/rot-ssm-new"))
		w.seed(t, m, direct, users)
		w.secretKey[putSecret(t, m, "keywarden/rot-sm", "rot-sm", keyARN)] = keyARN
		if _, err := ssm.NewFromConfig(direct).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keywarden/rot-ssm"),
			// By key ID: the target check resolves it with kms:DescribeKey.
			Value: aws.String("{}"), Type: ssmtypes.ParameterTypeSecureString, KeyId: key.KeyMetadata.KeyId,
			Tags: []ssmtypes.Tag{{Key: aws.String(config.TagSecretUser), Value: aws.String("rot-ssm")}}}); err != nil {
			t.Fatal(err)
		}
		// The secret the scenario creates, and the keys it creates.
		w.learn = func(t *testing.T) {
			list, err := sm.NewFromConfig(direct).ListSecrets(ctx, &sm.ListSecretsInput{})
			if err != nil {
				t.Fatal(err)
			}
			for _, sec := range list.SecretList {
				w.secrets[testenv.AccountID+" "+aws.ToString(sec.Name)] = aws.ToString(sec.ARN)
			}
			w.creates[testenv.AccountID+" keywarden/rot-new"] = true
			for _, u := range users {
				for k := range keyStatus(t, m, u.Name) {
					w.keyOwner[k] = u.Name
				}
			}
		}
		return coverageSetup{world: w, acts: []string{testenv.AccountID}, config: fmt.Sprintf(`version: 1
classes:
  - name: machine
    match: { tags: { UserType: machine } }
rules:
  access_key_age:
    human: [ {at: 70, action: notify}, {at: 80, action: disable}, {at: 90, action: delete} ]
    machine: [ {at: 70, action: notify}, {at: 80, action: rotate} ]
%snotify: { users: { email_tags: [Email] } }
enforce: { allowed_accounts: [%q], grace_after_disable: 0, max_fraction: 1 }
rotate: { create_secret: true }
`, strings.TrimPrefix(coverageRules, "rules:\n"), testenv.AccountID)}
	}},
	{"DynamoDB state, SES, SNS, a Slack webhook from SSM, Security Hub", func(t *testing.T, m *testenv.MotoServer) coverageSetup {
		ctx := context.Background()
		w := newWorld()
		direct := m.Config(t)
		w.seed(t, m, direct, coverageUsers(testenv.AccountID))
		// Both SES identities at first, so owner mail goes out as the
		// address's; run --apply mails as the domain's, once the address's is
		// gone.
		ses := sesv2.NewFromConfig(direct)
		for _, id := range []string{"example.com", "security@example.com"} {
			if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(id)}); err != nil {
				t.Fatal(err)
			}
		}
		w.sesIdentity = []sesEra{{identity: "security@example.com"}}
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
		return coverageSetup{world: w, securityHub: true, acts: []string{testenv.AccountID},
			beforeApply: func(t *testing.T) {
				if _, err := ses.DeleteEmailIdentity(ctx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String("security@example.com")}); err != nil {
					t.Fatal(err)
				}
				w.mu.Lock()
				w.sesIdentity = append(w.sesIdentity, sesEra{from: time.Now(), identity: "example.com"})
				w.mu.Unlock()
			},
			config: fmt.Sprintf(`version: 1
%snotify:
  from: "Security <security@example.com>"
  users: { email_tags: [Email], via: ses }
  admins: { sns_topic_arn: %q, slack_webhook_ssm: /keywarden/slack }
enforce: { allowed_accounts: [%q], grace_after_disable: 0, max_fraction: 1 }
state: { url: "dynamodb://keywarden-state" }
`, coverageRules, aws.ToString(topic.TopicArn), testenv.AccountID)}
	}},
}

// TestIAMPolicyCoversEveryCall is the least-privilege comparison: for seven
// configs it records every AWS request of scan (--security-hub where the
// config imports), run, run --apply, history and undo through the proxy,
// and checks them against `keywarden iam-policy --runner-account` for the
// same config. Each request — its action, the ARN of its resource and the
// condition keys IAM would see — must be allowed by the runner policy when
// made with keywarden's own credentials, by the member policy when made in
// an account reached through a role (nothing missing); and every action and
// resource pattern either policy grants must have been used by some
// request (nothing extra). run --apply must change exactly the allowed
// accounts, so a write anywhere else fails both the scenario and the
// policy.
func TestIAMPolicyCoversEveryCall(t *testing.T) {
	for _, tc := range coverageCases {
		t.Run(tc.name, func(t *testing.T) {
			m := testenv.Moto(t)
			cs := tc.setup(t, m)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(cs.config), 0o644); err != nil {
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
			scan := []string{"scan", "--format", "json"}
			if cs.securityHub {
				scan = append(scan, "--security-hub")
			}
			mustRun(0, scan...)
			mustRun(0, "run", "--format", "json")
			if cs.beforeApply != nil {
				cs.beforeApply(t)
			}
			res := decodeRun(t, mustRun(0, "run", "--apply", "--format", "json"))
			checkActed(t, res, cs.acts)
			if len(cs.acts) > 0 {
				// A finding that disappeared is resolved in Security Hub; a
				// disable in the last allowed account is undone.
				if cs.securityHub {
					mustRun(0, scan...)
				}
				undo := ""
				for _, a := range history(t, env, dir, "--account", cs.acts[len(cs.acts)-1], "--status", "done") {
					if a.Kind == state.KindDisable {
						undo = a.ID
					}
				}
				mustRun(0, "undo", undo)
			}
			// The next run resolves the notices of what was deleted.
			mustRun(0, "run", "--format", "json")
			history(t, env, dir)

			// A config without a role to assume has no member policy: its
			// member requests, if any, are allowed by nothing.
			docs := map[string]*iampolicy.Document{iampolicy.RoleMember: {}}
			for _, role := range []string{iampolicy.RoleRunner, iampolicy.RoleMember} {
				args := []string{"iam-policy", "--role", role, "--runner-account", testenv.AccountID}
				if cs.securityHub {
					args = append(args, "--security-hub")
				}
				r := keywarden(t, env, dir, args...)
				if role == iampolicy.RoleMember && r.code == 2 && strings.Contains(r.stderr, "there is no member role") {
					continue
				}
				if r.code != 0 {
					t.Fatalf("keywarden %v: exit %d\n%s", args, r.code, r.stderr)
				}
				var d iampolicy.Document
				if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
					t.Fatal(err)
				}
				docs[role] = &d
			}
			if cs.world.learn != nil {
				cs.world.learn(t)
			}
			checkCoverage(t, p.Ops(), docs, cs.world)
		})
	}
}

// checkActed: run --apply disabled and deleted a key, a signing
// certificate and a service credential, and removed a password, in each
// account of acts, and did nothing anywhere else.
func checkActed(t *testing.T, res run.Result, acts []string) {
	t.Helper()
	done := map[string]int{}
	for _, a := range res.Plan.Actions {
		if a.Status == plan.ActionDone {
			done[a.Account+" "+a.Credential+" "+a.Done]++
			if !slices.Contains(acts, a.Account) {
				t.Errorf("run --apply %s %s in account %s, which the config does not allow", a.Done, a.Title, a.Account)
			}
		}
	}
	var want []string
	for _, cred := range []string{policy.CredentialAccessKey, policy.CredentialSigningCert, policy.CredentialServiceCredential} {
		want = append(want, cred+" disable", cred+" delete")
	}
	want = append(want, policy.CredentialPassword+" remove_password")
	for _, acct := range acts {
		for _, kind := range want {
			if done[acct+" "+kind] != 1 {
				t.Errorf("account %s: %d %s actions done; want 1 (the scenario must exercise every remediation where it may)", acct, done[acct+" "+kind], kind)
			}
		}
	}
}

// checkCoverage evaluates every recorded request against the policy of
// the identity that made it, and every grant of the policies against the
// requests.
func checkCoverage(t *testing.T, ops []testenv.Op, docs map[string]*iampolicy.Document, w *world) {
	t.Helper()
	used := map[string]map[iampolicy.Grant]bool{iampolicy.RoleRunner: {}, iampolicy.RoleMember: {}}
	counts := map[string]map[string]int{iampolicy.RoleRunner: {}, iampolicy.RoleMember: {}}
	for _, op := range ops {
		role := iampolicy.RoleRunner
		if op.Account != testenv.AccountID {
			role = iampolicy.RoleMember
		}
		counts[role][op.Name()]++
		needs, err := requestsOf(op, w)
		if err != nil {
			t.Errorf("%s in account %s: %v", op.Name(), op.Account, err)
			continue
		}
		for _, anyOf := range needs {
			allowed := false
			for _, r := range anyOf {
				dec, err := docs[role].Evaluate(r)
				if err != nil {
					t.Fatalf("evaluate %+v: %v", r, err)
				}
				if dec.Allowed {
					allowed = true
					for _, g := range dec.Grants {
						used[role][g] = true
					}
				}
			}
			if !allowed {
				t.Errorf("%s on %s (in account %s) is not allowed by the %s policy", op.Name(), anyOf[0].Resource, op.Account, role)
			}
		}
	}
	for role, d := range docs {
		for _, g := range d.Grants() {
			if !used[role][g] {
				t.Errorf("the %s policy grants %s on %s (statement %s), which no request of the scenario needed", role, g.Action, g.Resource, g.Sid)
			}
		}
		var names []string
		for n, c := range counts[role] {
			names = append(names, fmt.Sprintf("%s×%d", n, c))
		}
		sort.Strings(names)
		t.Logf("%s requests: %s", role, strings.Join(names, " "))
	}
}

// requestsOf is what IAM authorizes a recorded request as: a list of
// needs, each met by any one of its requests. nil: the operation needs no
// permission (sts:GetCallerIdentity). An operation this does not know is
// an error: a new call must be modelled before it passes.
func requestsOf(op testenv.Op, w *world) ([][]iampolicy.Request, error) {
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, testenv.Region, op.Account, resource)
	}
	// keyARN is a KMS key's ARN: as given, or a key ID's in the caller's account.
	keyARN := func(key string) string {
		if strings.HasPrefix(key, "arn:") {
			return key
		}
		return arn("kms", "key/"+key)
	}
	accountOf := func(a string) string {
		if parts := strings.Split(a, ":"); len(parts) > 4 {
			return parts[4]
		}
		return ""
	}
	one := func(action, resource string, ctx map[string][]string) [][]iampolicy.Request {
		return [][]iampolicy.Request{{{Action: action, Resource: resource, Context: ctx}}}
	}
	user := func(name string) string { return fmt.Sprintf("arn:aws:iam::%s:user/%s", op.Account, name) }
	var body map[string]any
	if len(op.Body) > 0 {
		if err := json.Unmarshal(op.Body, &body); err != nil {
			return nil, fmt.Errorf("request body: %w", err)
		}
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	name := op.Name()
	switch name {
	case "sts:GetCallerIdentity":
		return nil, nil
	case "iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails",
		"iam:GetAccountPasswordPolicy", "iam:ListAccountAliases", "iam:GetAccountSummary",
		"organizations:ListAccounts", "organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent":
		return one(name, "*", nil), nil
	case "iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:GetLoginProfile", "iam:GetUser", "iam:DeleteLoginProfile",
		"iam:ListSigningCertificates", "iam:UpdateSigningCertificate", "iam:DeleteSigningCertificate", "iam:ListSSHPublicKeys",
		"iam:UpdateServiceSpecificCredential", "iam:DeleteServiceSpecificCredential":
		if op.Params.Get("UserName") == "" {
			return nil, errors.New("no UserName: the request would act on its caller")
		}
		return one(name, user(op.Params.Get("UserName")), nil), nil
	case "iam:ListServiceSpecificCredentials":
		// The scan lists every user's (AllUsers=true): authorized on the
		// account's users; a re-check, one user's.
		switch u := op.Params.Get("UserName"); {
		case u != "":
			return one(name, user(u), nil), nil
		case op.Params.Get("AllUsers") == "true":
			return one(name, user("*"), nil), nil
		}
		return nil, errors.New("neither UserName nor AllUsers: the request would list its caller's")
	case "iam:GetAccessKeyLastUsed":
		// Authorized on the user who owns the key.
		owner := w.keyOwner[op.Params.Get("AccessKeyId")]
		if owner == "" {
			return nil, fmt.Errorf("access key %s: not one the test seeded", op.Params.Get("AccessKeyId"))
		}
		return one(name, user(owner), nil), nil
	case "sts:AssumeRole":
		role := op.Params.Get("RoleArn")
		ctx := map[string][]string{}
		if org := w.orgOf[testenv.AccountID]; org != "" {
			ctx["aws:PrincipalOrgID"] = []string{org}
		}
		if parts := strings.Split(role, ":"); len(parts) > 4 && w.orgOf[parts[4]] != "" {
			ctx["aws:ResourceOrgID"] = []string{w.orgOf[parts[4]]}
		}
		return one(name, role, ctx), nil
	case "iam:CreateAccessKey":
		if op.Params.Get("UserName") == "" {
			return nil, errors.New("no UserName: the request would create a key for its caller")
		}
		return one(name, user(op.Params.Get("UserName")), nil), nil
	case "secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret":
		// On the secret's ARN, in its account; a new value under a customer
		// managed key is encrypted with a data key Secrets Manager asks KMS
		// for on the caller's behalf (kms:GenerateDataKey through the
		// service); tags on a new secret need secretsmanager:TagResource.
		id := cmp.Or(str(body, "SecretId"), str(body, "Name"))
		if name == "secretsmanager:CreateSecret" {
			w.created[op.Account+" "+id] = true
		}
		res := w.secretARN(op.Account, id)
		ctx := map[string][]string{"aws:ResourceAccount": {op.Account}}
		var tagNeed []iampolicy.Request
		if tags, _ := body["Tags"].([]any); len(tags) > 0 {
			tagCtx := map[string][]string{"aws:ResourceAccount": {op.Account}}
			for _, tg := range tags {
				kv, _ := tg.(map[string]any)
				tagCtx["aws:TagKeys"] = append(tagCtx["aws:TagKeys"], str(kv, "Key"))
				tagCtx["aws:RequestTag/"+str(kv, "Key")] = []string{str(kv, "Value")}
			}
			ctx = tagCtx
			tagNeed = []iampolicy.Request{{Action: "secretsmanager:TagResource", Resource: res, Context: tagCtx}}
		}
		needs := one(name, res, ctx)
		if tagNeed != nil {
			needs = append(needs, tagNeed)
		}
		key := cmp.Or(str(body, "KmsKeyId"), w.secretKey[res])
		if name != "secretsmanager:DescribeSecret" && name != "secretsmanager:GetResourcePolicy" && key != "" {
			res := keyARN(key)
			needs = append(needs, []iampolicy.Request{{Action: "kms:GenerateDataKey", Resource: res,
				Context: map[string][]string{"kms:ViaService": {"secretsmanager." + testenv.Region + ".amazonaws.com"}, "aws:ResourceAccount": {accountOf(res)}}}})
		}
		return needs, nil
	case "ssm:DescribeParameters":
		return one(name, "*", nil), nil
	case "ssm:ListTagsForResource", "ssm:PutParameter":
		// On the parameter; a SecureString under a customer managed key is
		// encrypted by SSM with kms:Encrypt on the caller's behalf.
		param := cmp.Or(str(body, "Name"), str(body, "ResourceId"))
		res := arn("ssm", "parameter/"+strings.TrimPrefix(param, "/"))
		needs := one(name, res, map[string][]string{"aws:ResourceAccount": {op.Account}})
		// A parameter created with tags needs ssm:AddTagsToResource too.
		if tags, _ := body["Tags"].([]any); name == "ssm:PutParameter" && len(tags) > 0 {
			tagCtx := map[string][]string{"aws:ResourceAccount": {op.Account}}
			for _, tg := range tags {
				kv, _ := tg.(map[string]any)
				tagCtx["aws:TagKeys"] = append(tagCtx["aws:TagKeys"], str(kv, "Key"))
				tagCtx["aws:RequestTag/"+str(kv, "Key")] = []string{str(kv, "Value")}
			}
			needs[0][0].Context = tagCtx
			needs = append(needs, []iampolicy.Request{{Action: "ssm:AddTagsToResource", Resource: res, Context: tagCtx}})
		}
		if key := str(body, "KeyId"); name == "ssm:PutParameter" && key != "" && key != "alias/aws/ssm" {
			res := keyARN(key)
			needs = append(needs, []iampolicy.Request{{Action: "kms:Encrypt", Resource: res,
				Context: map[string][]string{"kms:ViaService": {"ssm." + testenv.Region + ".amazonaws.com"}, "aws:ResourceAccount": {accountOf(res)}}}})
		}
		return needs, nil
	case "kms:DescribeKey":
		// On the key (a key ID is one of the caller's account).
		key := str(body, "KeyId")
		if strings.HasPrefix(key, "alias/") {
			return nil, fmt.Errorf("DescribeKey of alias %s: the scenario names keys by ID or ARN", key)
		}
		res := keyARN(key)
		return one(name, res, map[string][]string{"aws:ResourceAccount": {accountOf(res)}}), nil
	case "sns:Publish":
		return one(name, op.Params.Get("TopicArn"), nil), nil
	case "ssm:GetParameter":
		return one(name, arn("ssm", "parameter/"+strings.TrimPrefix(str(body, "Name"), "/")), nil), nil
	case "ses:SendEmail":
		// SES v2 SendEmail with raw MIME content: ses:SendRawEmail (or
		// ses:SendEmail), on the identity the mail goes out as.
		id := w.identityAt(op.At)
		if id == "" {
			return nil, errors.New("no SES identity is verified in this scenario")
		}
		res := arn("ses", "identity/"+id)
		return [][]iampolicy.Request{{{Action: "ses:SendEmail", Resource: res}, {Action: "ses:SendRawEmail", Resource: res}}}, nil
	case "securityhub:BatchImportFindings":
		return one(name, arn("securityhub", "product/"+op.Account+"/default"), nil), nil
	case "securityhub:GetFindings", "securityhub:BatchUpdateFindings":
		return one(name, arn("securityhub", "hub/default"), nil), nil
	case "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query":
		res := arn("dynamodb", "table/"+str(body, "TableName"))
		if idx := str(body, "IndexName"); idx != "" {
			res += "/index/" + idx
		}
		return one(name, res, nil), nil
	case "dynamodb:TransactWriteItems":
		// Authorized item by item, by the action of each.
		items, _ := body["TransactItems"].([]any)
		var needs [][]iampolicy.Request
		for _, it := range items {
			item, _ := it.(map[string]any)
			for kind, action := range map[string]string{"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
				"Delete": "dynamodb:DeleteItem", "ConditionCheck": "dynamodb:ConditionCheckItem"} {
				if x, ok := item[kind].(map[string]any); ok {
					needs = append(needs, []iampolicy.Request{{Action: action, Resource: arn("dynamodb", "table/"+str(x, "TableName"))}})
				}
			}
		}
		if len(needs) == 0 {
			return nil, errors.New("a transaction without items")
		}
		return needs, nil
	}
	return nil, fmt.Errorf("no model of what IAM authorizes this operation as: add it to requestsOf")
}

// TestIAMPolicyGuardrail: `iam-policy --guardrail` prints the SCP,
// --guardrail-boundary the boundary, both for the config and admins given,
// and --guardrail-admin alone is a usage error.
func TestIAMPolicyGuardrail(t *testing.T) {
	dir := t.TempDir()
	const yaml = `version: 1
accounts: { organization: { role_name: KeywardenAudit }, partition: aws-us-gov }
exemptions: [ { tags: { "keywarden:exempt": "true" }, reason: "managed elsewhere" } ]
`
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	admin := "arn:aws-us-gov:iam::*:role/SecurityAdmin"
	for flag, kind := range map[string]string{"--guardrail": iampolicy.GuardrailSCP, "--guardrail-boundary": iampolicy.GuardrailBoundary} {
		r := keywarden(t, nil, dir, "iam-policy", flag, "--guardrail-admin", admin)
		if r.code != 0 {
			t.Fatalf("iam-policy %s: exit %d\n%s", flag, r.code, r.stderr)
		}
		d, err := iampolicy.Guardrail(cfg, iampolicy.GuardrailOptions{Kind: kind, Admins: []string{admin}})
		if err != nil {
			t.Fatal(err)
		}
		want, err := iampolicy.PrintGuardrail(d, kind)
		if err != nil {
			t.Fatal(err)
		}
		if r.stdout != string(want) {
			t.Errorf("iam-policy %s printed:\n%s\nwant:\n%s", flag, r.stdout, want)
		}
		if !strings.Contains(r.stdout, `"arn:aws-us-gov:iam::*:role/KeywardenAudit"`) || !strings.Contains(r.stdout, `"keywarden:exempt"`) {
			t.Errorf("iam-policy %s does not guard the member role and the exemption's tag:\n%s", flag, r.stdout)
		}
	}
	if r := keywarden(t, nil, dir, "iam-policy", "--guardrail-admin", admin); r.code != 2 || !strings.Contains(r.stderr, "--guardrail-admin needs --guardrail") {
		t.Errorf("iam-policy --guardrail-admin alone: exit %d, %s; want 2 and the reason", r.code, r.stderr)
	}
}
