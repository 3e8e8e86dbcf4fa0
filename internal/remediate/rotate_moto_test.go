package remediate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// rotateEnv is a truthEnv whose executor rotates into moto's Secrets
// Manager and SSM (behind the proxy), with a customer-managed KMS key
// encrypting alice's secret and parameter.
type rotateEnv struct {
	*truthEnv
	logs bytes.Buffer
}

func newRotateEnv(t *testing.T) *rotateEnv {
	t.Helper()
	e := &rotateEnv{truthEnv: newTruthEnv(t, seedKeyUser("alice", 85, false))}
	ctx, cfg := context.Background(), e.m.Config(t)
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("keywarden test secrets")})
	if err != nil {
		t.Fatal(err)
	}
	kmsKey := aws.ToString(key.KeyMetadata.Arn)
	if _, err := sm.NewFromConfig(cfg).CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("keywarden/alice"), KmsKeyId: aws.String(kmsKey),
		Tags: []smtypes.Tag{{Key: aws.String(config.TagSecretUser), Value: aws.String("alice")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keywarden/alice"), Value: aws.String("none yet"),
		Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String(kmsKey),
		Tags: []ssmtypes.Tag{{Key: aws.String(config.TagSecretUser), Value: aws.String("alice")}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *rotateEnv) rotator(t *testing.T, run string) *remediate.Executor {
	x := e.executor(run)
	pc := e.p.Config(t, e.m)
	x.Targets = func(context.Context, string) (remediate.Targets, error) {
		return remediate.Targets{Secrets: sm.NewFromConfig(pc), Params: ssm.NewFromConfig(pc), KMS: kms.NewFromConfig(pc)}, nil
	}
	x.Logger = slog.New(slog.NewJSONHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return x
}

// keys are alice's access keys in moto.
func (e *rotateEnv) keys(t *testing.T) []string {
	t.Helper()
	out, err := iam.NewFromConfig(e.m.Config(t)).ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range out.AccessKeyMetadata {
		ids = append(ids, aws.ToString(k.AccessKeyId))
	}
	return ids
}

// stored is the value at target, read (decrypted) straight from moto.
func (e *rotateEnv) stored(t *testing.T, target string) string {
	t.Helper()
	ctx, cfg := context.Background(), e.m.Config(t)
	if path, ok := strings.CutPrefix(target, "ssm:"); ok {
		out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(path), WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Parameter.Value)
	}
	out, err := sm.NewFromConfig(cfg).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(target)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SecretString)
}

// works signs sts:GetCallerIdentity with the credential_process JSON in
// value and checks that moto takes it for alice; it returns the secret
// access key, for the leak checks.
func (e *rotateEnv) works(t *testing.T, value, newID string) string {
	t.Helper()
	var cp struct {
		Version         int
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
	}
	if err := json.Unmarshal([]byte(value), &cp); err != nil || cp.Version != 1 || cp.AccessKeyID != newID || cp.SecretAccessKey == "" {
		t.Fatalf("the target holds no credential_process JSON of %s (%v)", newID, err)
	}
	out, err := sts.NewFromConfig(e.m.ConfigWithKey(t, cp.AccessKeyID, cp.SecretAccessKey)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasSuffix(aws.ToString(out.Arn), ":user/alice") {
		t.Fatalf("GetCallerIdentity signed with the written key = %v, %v; want alice", out, err)
	}
	return cp.SecretAccessKey
}

// leaks fails the test if secret appears in the logs, the records or the
// outcomes.
func (e *rotateEnv) leaks(t *testing.T, secret string, outs ...plan.Action) {
	t.Helper()
	recs, _ := e.store.Actions(context.Background(), state.ActionFilter{})
	b, _ := json.Marshal(recs)
	o, _ := json.Marshal(outs)
	for what, s := range map[string]string{"logs": e.logs.String(), "records": string(b), "outcomes": string(o)} {
		if strings.Contains(s, secret) {
			t.Errorf("the new key's secret appears in the %s", what)
		}
	}
}

// TestRotateAgainstMoto: a rotation into a KMS-encrypted Secrets Manager
// secret and an SSM SecureString parameter leaves a working key there,
// the old key active, and the secret nowhere else.
func TestRotateAgainstMoto(t *testing.T) {
	for _, target := range []string{"keywarden/alice", "ssm:/keywarden/alice"} {
		t.Run(target, func(t *testing.T) {
			e := newRotateEnv(t)
			old := e.ids["alice"][0]
			a := rotateAction(target)
			a.KeyID, a.KeyCreated = old, time.Time{}
			got := e.rotator(t, "run-1").Execute(context.Background(), []plan.Action{a})[0]
			if got.Status != plan.ActionDone {
				t.Fatalf("Execute(rotate) = %s; want done", outcome(got))
			}
			keys := e.keys(t)
			if len(keys) != 2 || e.keyState(t, "alice", old) != state.KeyActive {
				t.Fatalf("alice's keys = %v (old %s); want the old key, still active, and the new one", keys, e.keyState(t, "alice", old))
			}
			rec := e.record(t, got.ID)
			if rec.Status != state.ActionDone || rec.NewKeyID == "" || rec.NewKeyID == old ||
				(target == "keywarden/alice" && !strings.Contains(rec.SecretTarget, ":secret:keywarden/alice-")) {
				t.Errorf("record = %+v; want done, the new key, the target (an ARN for a secret)", rec)
			}
			secret := e.works(t, e.stored(t, rec.SecretTarget), rec.NewKeyID)
			e.leaks(t, secret, got)
		})
	}
}

// TestRotatePutSecretValueFailsAgainstMoto: the write refused leaves no
// new key behind; the write made but its answer lost is confirmed
// written (DescribeSecret's versions), and the key in it works.
func TestRotatePutSecretValueFailsAgainstMoto(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		e := newRotateEnv(t)
		old := e.ids["alice"][0]
		e.p.Inject(testenv.Fault{Match: testenv.IsOp("secretsmanager:PutSecretValue"), Code: "AccessDeniedException", Message: "kms:GenerateDataKey denied"})
		a := rotateAction("keywarden/alice")
		a.KeyID, a.KeyCreated = old, time.Time{}
		got := e.rotator(t, "run-1").Execute(context.Background(), []plan.Action{a})[0]
		if got.Status != plan.ActionFailed || !strings.Contains(got.Reason, "AccessDeniedException") || !strings.Contains(got.Reason, "was deleted") {
			t.Errorf("Execute(rotate) = %s; want failed, the new key deleted", outcome(got))
		}
		if keys := e.keys(t); len(keys) != 1 || keys[0] != old {
			t.Errorf("alice's keys = %v; want only the old key %s", keys, old)
		}
		if rec := e.record(t, got.ID); rec.Status != state.ActionFailed || rec.NewKeyID == "" {
			t.Errorf("record = %+v; want failed, naming the deleted new key", rec)
		}
	})
	t.Run("answer lost", func(t *testing.T) {
		e := newRotateEnv(t)
		old := e.ids["alice"][0]
		e.p.Inject(testenv.Fault{Match: testenv.IsOp("secretsmanager:PutSecretValue"), AfterForward: true, Code: "InternalServiceError", Status: 500})
		a := rotateAction("keywarden/alice")
		a.KeyID, a.KeyCreated = old, time.Time{}
		got := e.rotator(t, "run-1").Execute(context.Background(), []plan.Action{a})[0]
		if got.Status != plan.ActionDone || !strings.Contains(got.Reason, "shows it written") {
			t.Fatalf("Execute(rotate) = %s; want done, confirmed written", outcome(got))
		}
		rec := e.record(t, got.ID)
		secret := e.works(t, e.stored(t, rec.SecretTarget), rec.NewKeyID)
		e.leaks(t, secret, got)
	})
}

// TestRotateCreateAnswerLostAgainstMoto: CreateAccessKey makes the key,
// then its answer is lost. The create is not retried (a retry would make
// a second key, or answer LimitExceeded as if none had been made): the
// record stays planned, and the next run's reconcile deletes the key.
func TestRotateCreateAnswerLostAgainstMoto(t *testing.T) {
	e := newRotateEnv(t)
	old := e.ids["alice"][0]
	e.p.Inject(testenv.Fault{Match: testenv.IsOp("iam:CreateAccessKey"), AfterForward: true, Drop: true, Times: 1})
	a := rotateAction("keywarden/alice")
	a.KeyID, a.KeyCreated = old, time.Time{}
	got := e.rotator(t, "run-1").Execute(context.Background(), []plan.Action{a})[0]
	if got.Status != plan.ActionFailed || !got.Unsettled {
		t.Fatalf("Execute(rotate) = %s (unsettled %v); want failed, unsettled", outcome(got), got.Unsettled)
	}
	if rec := e.record(t, got.ID); rec.Status != state.ActionPlanned {
		t.Fatalf("record = %+v; want planned, for reconcile", rec)
	}
	if keys := e.keys(t); len(keys) != 2 {
		t.Fatalf("alice's keys = %v; want the old key and the one made by the single create", keys)
	}
	x := e.rotator(t, "run-2")
	x.AsOf = e.now.Add(remediate.DefaultLease + time.Minute) // run-1 is presumed dead
	if _, err := x.Reconcile(context.Background(), []string{acct}, nil); err != nil {
		t.Fatal(err)
	}
	if rec := e.record(t, got.ID); rec.Status != state.ActionFailed {
		t.Errorf("record after reconcile = %+v; want failed", rec)
	}
	if keys := e.keys(t); len(keys) != 1 || keys[0] != old {
		t.Errorf("alice's keys after reconcile = %v; want only the old key %s", keys, old)
	}
}

// TestReconcileRotationAgainstMoto: a run killed after CreateAccessKey
// and ProgressAction, before the write: the next run deletes the new key.
func TestReconcileRotationAgainstMoto(t *testing.T) {
	e := newRotateEnv(t)
	old := e.ids["alice"][0]
	out, err := iam.NewFromConfig(e.m.Config(t)).CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	newID := aws.ToString(out.AccessKey.AccessKeyId)
	r := state.Action{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: "access_key", KeyID: old,
		Kind: state.KindRotate, Status: state.ActionPlanned, Before: state.KeyActive, SecretTarget: "keywarden/alice", At: e.now.Add(-2 * time.Hour)}
	recordPlanned(t, e.store, r)
	if err := e.store.ProgressAction(context.Background(), r.ID, newID); err != nil {
		t.Fatal(err)
	}
	if got, err := e.rotator(t, "run-1").Reconcile(context.Background(), []string{acct}, nil); err != nil || len(got) != 1 || got[0].Status != string(state.ActionFailed) {
		t.Fatalf("Reconcile() = %+v, %v; want the rotation failed", got, err)
	}
	if keys := e.keys(t); len(keys) != 1 || keys[0] != old {
		t.Errorf("alice's keys after reconcile = %v; want only the old key %s", keys, old)
	}
}

// TestRotateCreatesTargetAgainstMoto: with rotate.create_secret, a
// missing secret or parameter is created, tagged for the user, holding a
// working key.
func TestRotateCreatesTargetAgainstMoto(t *testing.T) {
	for _, target := range []string{"keywarden/alice", "ssm:/keywarden/alice"} {
		t.Run(target, func(t *testing.T) {
			e := newRotateEnv(t)
			ctx, cfg := context.Background(), e.m.Config(t)
			if _, err := sm.NewFromConfig(cfg).DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("keywarden/alice"),
				ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			if _, err := ssm.NewFromConfig(cfg).DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/keywarden/alice")}); err != nil {
				t.Fatal(err)
			}
			x := e.rotator(t, "run-1")
			x.Rotate.CreateSecret = true
			a := rotateAction(target)
			a.KeyID, a.KeyCreated = e.ids["alice"][0], time.Time{}
			got := x.Execute(ctx, []plan.Action{a})[0]
			if got.Status != plan.ActionDone {
				t.Fatalf("Execute(rotate) = %s; want done", outcome(got))
			}
			rec := e.record(t, got.ID)
			e.works(t, e.stored(t, rec.SecretTarget), rec.NewKeyID)
			var tags map[string]string
			if path, ok := strings.CutPrefix(target, "ssm:"); ok {
				out, err := ssm.NewFromConfig(cfg).ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(path)})
				if err != nil {
					t.Fatal(err)
				}
				tags = map[string]string{}
				for _, tg := range out.TagList {
					tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
				}
			} else {
				out, err := sm.NewFromConfig(cfg).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(target)})
				if err != nil {
					t.Fatal(err)
				}
				tags = map[string]string{}
				for _, tg := range out.Tags {
					tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
				}
			}
			if tags[config.TagSecretUser] != "alice" {
				t.Errorf("the created target's tags = %v; want keywarden:user=alice", tags)
			}
		})
	}
}

// TestRotateRefusesOutsideReadersAgainstMoto: a secret tagged for the user
// but readable outside the account's IAM policies (a resource policy, a
// KMS key of another account) and an Advanced-tier parameter are refused
// before any key is created; a key of the account named by alias (resolved
// with kms:DescribeKey) is accepted.
func TestRotateRefusesOutsideReadersAgainstMoto(t *testing.T) {
	const outsideKey = "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tt := range []struct {
		name, target string
		setup        func(t *testing.T, ctx context.Context, c *sm.Client, p *ssm.Client, k *kms.Client)
		want         string // "" = done
	}{
		{"resource policy", "keywarden/alice", func(t *testing.T, ctx context.Context, c *sm.Client, _ *ssm.Client, _ *kms.Client) {
			pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
			if _, err := c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("keywarden/alice"), ResourcePolicy: aws.String(pol)}); err != nil {
				t.Fatal(err)
			}
		}, "has a resource policy"},
		{"key of another account", "keywarden/alice", func(t *testing.T, ctx context.Context, c *sm.Client, _ *ssm.Client, _ *kms.Client) {
			if _, err := c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("keywarden/alice"), KmsKeyId: aws.String(outsideKey)}); err != nil {
				t.Fatal(err)
			}
		}, "is encrypted with KMS key " + outsideKey + " of account 999999999999"},
		{"key of the account by alias", "keywarden/alice", func(t *testing.T, ctx context.Context, c *sm.Client, _ *ssm.Client, k *kms.Client) {
			key, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/keywarden-test"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("keywarden/alice"), KmsKeyId: aws.String("alias/keywarden-test")}); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"ssm: Advanced tier", "ssm:/keywarden/alice", func(t *testing.T, ctx context.Context, _ *sm.Client, p *ssm.Client, _ *kms.Client) {
			if _, err := p.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keywarden/alice"), Value: aws.String("none yet"),
				Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true), Tier: ssmtypes.ParameterTierAdvanced}); err != nil {
				t.Fatal(err)
			}
		}, "is an Advanced-tier parameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newRotateEnv(t)
			ctx, cfg := context.Background(), e.m.Config(t)
			tt.setup(t, ctx, sm.NewFromConfig(cfg), ssm.NewFromConfig(cfg), kms.NewFromConfig(cfg))
			a := rotateAction(tt.target)
			a.KeyID, a.KeyCreated = e.ids["alice"][0], time.Time{}
			got := e.rotator(t, "run-1").Execute(ctx, []plan.Action{a})[0]
			if tt.want == "" {
				if got.Status != plan.ActionDone {
					t.Errorf("Execute(rotate) = %s; want done", outcome(got))
				}
				return
			}
			if got.Status != plan.ActionSkipped || !strings.Contains(got.Reason, tt.want) {
				t.Errorf("Execute(rotate) = %s; want skipped: …%s…", outcome(got), tt.want)
			}
			if keys := e.keys(t); len(keys) != 1 {
				t.Errorf("alice's keys = %v; want only the old one (nothing created)", keys)
			}
		})
	}
}
