package run

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestDryRunRotatesNothing: a dry run's rotation checks the target for
// real (DescribeSecret), then creates no key (the placeholder), writes no
// secret, records nothing, and reports what a real run would do.
func TestDryRunRotatesNothing(t *testing.T) {
	m := testenv.Moto(t)
	ids := m.Seed(t, []testenv.SeedUser{{Name: "alice", Keys: []testenv.SeedKey{{AgeDays: 85, LastUsedDaysAgo: 1}},
		PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}})
	ctx, cfg := context.Background(), m.Config(t)
	if _, err := sm.NewFromConfig(cfg).CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("keywarden/alice"),
		Tags: []smtypes.Tag{{Key: aws.String(config.TagSecretUser), Value: aws.String("alice")}}}); err != nil {
		t.Fatal(err)
	}
	p := m.NewProxy(t)
	pc := p.Config(t, m)
	store := memstore.New()
	e := &remediate.Executor{
		Clients: dryClients(func(context.Context, string) (remediate.IAM, error) { return iam.NewFromConfig(pc), nil }),
		Targets: dryTargets(func(context.Context, string) (remediate.Targets, error) {
			return remediate.Targets{Secrets: sm.NewFromConfig(pc), Params: ssm.NewFromConfig(pc)}, nil
		}),
		Audit: dryStore{store}, RunID: "dry-1", AsOf: time.Now().UTC(), Grace: 10,
	}
	old := ids["alice"][0]
	a := plan.Action{Kind: config.ActionRotate, Account: testenv.AccountID, User: "alice", Credential: policy.CredentialAccessKey, KeyID: old,
		KeyActive: true, Rule: config.RuleAccessKeyAge, StageAt: 80, Target: "keywarden/alice", Status: plan.ActionPlanned}
	got := wouldDo(e.Execute(ctx, []plan.Action{a}))[0]
	if got.Status != plan.ActionPlanned || !strings.HasPrefix(got.Reason, DryRunPrefix+"rotated: new key "+DryRunKeyID) {
		t.Errorf("dry rotation = %s: %s; want planned, saying what a real run does", got.Status, got.Reason)
	}
	keys, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil || len(keys.AccessKeyMetadata) != 1 {
		t.Errorf("alice's keys after a dry rotation = %+v, %v; want only the old one", keys, err)
	}
	if _, err := sm.NewFromConfig(cfg).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("keywarden/alice")}); err == nil {
		t.Error("the secret has a value after a dry rotation; want none written")
	}
	if recs, _ := store.Actions(ctx, state.ActionFilter{}); len(recs) != 0 {
		t.Errorf("a dry rotation recorded %+v; want nothing", recs)
	}
	if p.Count("secretsmanager:DescribeSecret") == 0 {
		t.Error("the dry rotation did not check its target")
	}
	for _, op := range []string{"iam:CreateAccessKey", "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"} {
		if n := p.Count(op); n != 0 {
			t.Errorf("a dry rotation called %s %d times; want never", op, n)
		}
	}
}
