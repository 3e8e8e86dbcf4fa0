package remediate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
)

// secretPrefix starts every secret access key the fake IAM creates: no
// log, record or error may contain it.
const secretPrefix = "FAKE-SECRET-must-not-leak-"

func (f *fakeIAM) CreateAccessKey(_ context.Context, in *iam.CreateAccessKeyInput, _ ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	if err := f.call("CreateAccessKey", aws.ToString(in.UserName)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("AKIANEW%d", len(f.calls))
	f.keys = append(f.keys, &fakeKey{user: aws.ToString(in.UserName), id: id, created: asOf, active: true})
	return &iam.CreateAccessKeyOutput{AccessKey: &types.AccessKey{AccessKeyId: aws.String(id), SecretAccessKey: aws.String(secretPrefix + id),
		UserName: in.UserName, Status: types.StatusTypeActive}}, nil
}

// fakeSecret is a Secrets Manager secret: its versions (request tokens)
// and its current value.
type fakeSecret struct {
	arn, name string
	tags      map[string]string
	versions  map[string][]string
	value     string
	// policy is its resource policy, kmsKey its KmsKeyId ("" the AWS
	// managed key).
	policy, kmsKey string
}

// fakeTargets is an account's Secrets Manager secrets and SSM parameters.
type fakeTargets struct {
	secrets map[string]*fakeSecret // by name
	params  map[string]*fakeParam  // by name
	calls   []string
	fail    map[string]error
	// lost: the write is made, then answers fail[op].
	lost bool
	// echo: a write answers an error whose message holds the value written.
	echo bool
	// keys are the KMS keys DescribeKey resolves: key ID or alias → ARN.
	keys map[string]string
}

type fakeParam struct {
	typ         ssmtypes.ParameterType
	tier        ssmtypes.ParameterTier
	keyID       string
	description string
	tags        map[string]string
	value       string
}

func (f *fakeTargets) call(op string) error { f.calls = append(f.calls, op); return f.fail[op] }

// echoed is a refusal of op that quotes the value written, as a
// validation message could.
func (f *fakeTargets) echoed(op, value string) error {
	f.calls = append(f.calls, op)
	return &smithy.GenericAPIError{Code: "ValidationException", Message: "invalid value " + value, Fault: smithy.FaultClient}
}

func (f *fakeTargets) find(id string) *fakeSecret {
	for _, s := range f.secrets {
		if s.arn == id || s.name == id {
			return s
		}
	}
	return nil
}

func (f *fakeTargets) DescribeSecret(_ context.Context, in *sm.DescribeSecretInput, _ ...func(*sm.Options)) (*sm.DescribeSecretOutput, error) {
	if err := f.call("DescribeSecret"); err != nil {
		return nil, err
	}
	s := f.find(aws.ToString(in.SecretId))
	if s == nil {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no such secret")}
	}
	out := &sm.DescribeSecretOutput{ARN: aws.String(s.arn), Name: aws.String(s.name), VersionIdsToStages: s.versions}
	if s.kmsKey != "" {
		out.KmsKeyId = aws.String(s.kmsKey)
	}
	for k, v := range s.tags {
		out.Tags = append(out.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

func (f *fakeTargets) GetResourcePolicy(_ context.Context, in *sm.GetResourcePolicyInput, _ ...func(*sm.Options)) (*sm.GetResourcePolicyOutput, error) {
	if err := f.call("GetResourcePolicy"); err != nil {
		return nil, err
	}
	s := f.find(aws.ToString(in.SecretId))
	if s == nil {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no such secret")}
	}
	out := &sm.GetResourcePolicyOutput{ARN: aws.String(s.arn), Name: aws.String(s.name)}
	if s.policy != "" {
		out.ResourcePolicy = aws.String(s.policy)
	}
	return out, nil
}

func (f *fakeTargets) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	if err := f.call("DescribeKey"); err != nil {
		return nil, err
	}
	keyARN, ok := f.keys[aws.ToString(in.KeyId)]
	if !ok {
		return nil, &kmstypes.NotFoundException{Message: aws.String("no such key")}
	}
	return &kms.DescribeKeyOutput{KeyMetadata: &kmstypes.KeyMetadata{Arn: aws.String(keyARN), KeyId: in.KeyId}}, nil
}

func (f *fakeTargets) CreateSecret(_ context.Context, in *sm.CreateSecretInput, _ ...func(*sm.Options)) (*sm.CreateSecretOutput, error) {
	if f.echo {
		return nil, f.echoed("CreateSecret", aws.ToString(in.SecretString))
	}
	if err := f.call("CreateSecret"); err != nil && !f.lost {
		return nil, err
	}
	if in.KmsKeyId != nil || in.AddReplicaRegions != nil {
		return nil, errors.New("keywarden created a secret with a KMS key or replicas: it must use the default key, in the account")
	}
	name := aws.ToString(in.Name)
	s := &fakeSecret{arn: "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:" + name + "-AbCdEf", name: name, tags: map[string]string{},
		versions: map[string][]string{aws.ToString(in.ClientRequestToken): {"AWSCURRENT"}}, value: aws.ToString(in.SecretString)}
	for _, t := range in.Tags {
		s.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	f.secrets[name] = s
	return &sm.CreateSecretOutput{ARN: aws.String(s.arn)}, f.fail["CreateSecret"]
}

func (f *fakeTargets) PutSecretValue(_ context.Context, in *sm.PutSecretValueInput, _ ...func(*sm.Options)) (*sm.PutSecretValueOutput, error) {
	if f.echo {
		return nil, f.echoed("PutSecretValue", aws.ToString(in.SecretString))
	}
	if err := f.call("PutSecretValue"); err != nil && !f.lost {
		return nil, err
	}
	s := f.find(aws.ToString(in.SecretId))
	s.versions[aws.ToString(in.ClientRequestToken)] = []string{"AWSCURRENT"}
	s.value = aws.ToString(in.SecretString)
	return &sm.PutSecretValueOutput{}, f.fail["PutSecretValue"]
}

func (f *fakeTargets) DescribeParameters(_ context.Context, in *ssm.DescribeParametersInput, _ ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error) {
	if err := f.call("DescribeParameters"); err != nil {
		return nil, err
	}
	out := &ssm.DescribeParametersOutput{}
	name := in.ParameterFilters[0].Values[0]
	if p, ok := f.params[name]; ok {
		out.Parameters = append(out.Parameters, ssmtypes.ParameterMetadata{Name: aws.String(name), Type: p.typ, Description: aws.String(p.description),
			Tier: p.tier, KeyId: aws.String(p.keyID)})
	}
	return out, nil
}

func (f *fakeTargets) ListTagsForResource(_ context.Context, in *ssm.ListTagsForResourceInput, _ ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error) {
	if err := f.call("ListTagsForResource"); err != nil {
		return nil, err
	}
	out := &ssm.ListTagsForResourceOutput{}
	for k, v := range f.params[aws.ToString(in.ResourceId)].tags {
		out.TagList = append(out.TagList, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

func (f *fakeTargets) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	if f.echo {
		return nil, f.echoed("PutParameter", aws.ToString(in.Value))
	}
	if err := f.call("PutParameter"); err != nil && !f.lost {
		return nil, err
	}
	p := f.params[aws.ToString(in.Name)]
	if p == nil && (in.KeyId != nil || in.Tier == ssmtypes.ParameterTierAdvanced) {
		return nil, errors.New("keywarden created a parameter with a KMS key or in the Advanced tier: it must use the default key and the Standard tier")
	}
	if p == nil {
		p = &fakeParam{tags: map[string]string{}}
		for _, tg := range in.Tags {
			p.tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		f.params[aws.ToString(in.Name)] = p
	} else if len(in.Tags) > 0 {
		return nil, errors.New("ValidationException: tags can't be used with overwrite")
	}
	p.value, p.description, p.typ = aws.ToString(in.Value), aws.ToString(in.Description), in.Type
	return &ssm.PutParameterOutput{}, f.fail["PutParameter"]
}

const aliceARN = "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:keywarden/alice-AbCdEf"

// aliceTargets holds alice's secret and parameter, both tagged for her.
func aliceTargets() *fakeTargets {
	return &fakeTargets{
		secrets: map[string]*fakeSecret{"keywarden/alice": {arn: aliceARN, name: "keywarden/alice",
			tags: map[string]string{config.TagSecretUser: "alice"}, versions: map[string][]string{}}},
		params: map[string]*fakeParam{"/keywarden/alice": {typ: ssmtypes.ParameterTypeSecureString,
			tags: map[string]string{config.TagSecretUser: "alice"}}},
	}
}

func rotateAction(target string) plan.Action {
	a := keyAction(config.ActionDisable, "alice", "AKIA1", daysAgo(85), true)
	a.Kind, a.Target, a.StageAt = config.ActionRotate, target, 80
	return a
}

// rotator is an executor with targets t and a log in logs.
func rotator(f *fakeIAM, t *fakeTargets, store state.Store, logs *bytes.Buffer) *remediate.Executor {
	e := executor(f, store)
	e.Rotate = config.Rotate{OverlapDays: 7}
	e.Targets = func(context.Context, string) (remediate.Targets, error) {
		return remediate.Targets{Secrets: t, Params: t, KMS: t}, nil
	}
	e.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return e
}

// noSecret fails the test if a secret access key appears in the logs, the
// records or the outcomes.
func noSecret(t *testing.T, store state.Store, logs *bytes.Buffer, outs ...plan.Action) {
	t.Helper()
	recs, err := store.Actions(context.Background(), state.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(recs)
	o, _ := json.Marshal(outs)
	for what, s := range map[string]string{"logs": logs.String(), "records": string(b), "outcomes": string(o)} {
		if strings.Contains(s, secretPrefix) {
			t.Errorf("a secret access key appears in the %s: %s", what, s)
		}
	}
}

func oneKey() []*fakeKey {
	return []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85), active: true}}
}

func TestRotateRefusedTargets(t *testing.T) {
	tests := []struct {
		name   string
		keys   []*fakeKey
		target string
		change func(*fakeTargets)
		want   string
	}{
		{"two keys", append(oneKey(), &fakeKey{user: "alice", id: "AKIA2", created: daysAgo(3)}), "keywarden/alice", nil,
			"the user has two access keys: rotation needs a free slot; delete the unused one"},
		{"no target", oneKey(), "", nil, "rotation blocked: the user has no rotation target"},
		{"other account", oneKey(), "arn:aws:secretsmanager:us-east-1:999999999999:secret:keywarden/alice-AbCdEf", nil,
			"is in account 999999999999, not the user's account " + acct},
		{"wrong name", oneKey(), "keywarden/bob", func(f *fakeTargets) {
			f.secrets["keywarden/bob"] = &fakeSecret{arn: "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:keywarden/bob-XyZ123", name: "keywarden/bob",
				tags: map[string]string{config.TagSecretUser: "alice"}, versions: map[string][]string{}}
		}, "is named keywarden/bob, not keywarden/alice"},
		{"missing tag", oneKey(), "keywarden/alice", func(f *fakeTargets) { f.secrets["keywarden/alice"].tags = nil }, "has no tag keywarden:user"},
		{"tag names another user", oneKey(), aliceARN, func(f *fakeTargets) { f.secrets["keywarden/alice"].tags[config.TagSecretUser] = "mallory" },
			"is tagged keywarden:user=mallory, not alice"},
		{"missing secret, create_secret off", oneKey(), "keywarden/alice", func(f *fakeTargets) { delete(f.secrets, "keywarden/alice") },
			"does not exist and rotate.create_secret is off"},
		{"ssm: missing, create_secret off", oneKey(), "ssm:/keywarden/alice", func(f *fakeTargets) { delete(f.params, "/keywarden/alice") },
			"does not exist and rotate.create_secret is off"},
		{"ssm: wrong path", oneKey(), "ssm:/other/alice", nil, "the parameter name must be /keywarden/alice"},
		{"ssm: not SecureString", oneKey(), "ssm:/keywarden/alice", func(f *fakeTargets) { f.params["/keywarden/alice"].typ = ssmtypes.ParameterTypeString },
			"is a String parameter, not SecureString"},
		{"ssm: tag names another user", oneKey(), "ssm:/keywarden/alice", func(f *fakeTargets) { f.params["/keywarden/alice"].tags[config.TagSecretUser] = "bob" },
			"is tagged keywarden:user=bob, not alice"},
		{"resource policy", oneKey(), "keywarden/alice", func(f *fakeTargets) {
			f.secrets["keywarden/alice"].policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
		}, "has a resource policy: keywarden writes keys only where the account's IAM policies alone decide who reads them"},
		{"key of another account, by ARN", oneKey(), "keywarden/alice", func(f *fakeTargets) {
			f.secrets["keywarden/alice"].kmsKey = "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		}, "is encrypted with KMS key arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab of account 999999999999, not the user's account " + acct},
		{"key of another account, by alias", oneKey(), "keywarden/alice", func(f *fakeTargets) {
			f.secrets["keywarden/alice"].kmsKey = "alias/outside"
			f.keys = map[string]string{"alias/outside": "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
		}, "of account 999999999999, not the user's account " + acct},
		{"ssm: key of another account", oneKey(), "ssm:/keywarden/alice", func(f *fakeTargets) {
			f.params["/keywarden/alice"].keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
			f.keys = map[string]string{"1234abcd-12ab-34cd-56ef-1234567890ab": "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
		}, "of account 999999999999, not the user's account " + acct},
		{"ssm: Advanced tier", oneKey(), "ssm:/keywarden/alice", func(f *fakeTargets) { f.params["/keywarden/alice"].tier = ssmtypes.ParameterTierAdvanced },
			"is an Advanced-tier parameter, which can be shared with other accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, tg, store, logs := &fakeIAM{keys: tt.keys}, aliceTargets(), memstore.New(), &bytes.Buffer{}
			if tt.change != nil {
				tt.change(tg)
			}
			got := rotator(f, tg, store, logs).Execute(context.Background(), []plan.Action{rotateAction(tt.target)})[0]
			if got.Status != plan.ActionSkipped || !strings.Contains(got.Reason, tt.want) {
				t.Errorf("Execute(rotate) = %s; want skipped: …%s…", outcome(got), tt.want)
			}
			for _, c := range f.calls {
				if strings.HasPrefix(c, "CreateAccessKey") {
					t.Errorf("a refused rotation created a key (calls %v)", f.calls)
				}
			}
			for _, c := range tg.calls {
				if strings.HasPrefix(c, "Put") || strings.HasPrefix(c, "Create") {
					t.Errorf("a refused rotation wrote a target (calls %v)", tg.calls)
				}
			}
			if recs, _ := store.Actions(context.Background(), state.ActionFilter{}); len(recs) != 1 || recs[0].Status != state.ActionSkipped || recs[0].NewKeyID != "" {
				t.Errorf("records = %+v; want one skipped, without a new key", recs)
			}
		})
	}
}

// checkWritten: the value is the credential_process JSON of the new key.
func checkWritten(t *testing.T, value, newID string) {
	t.Helper()
	var cp struct {
		Version         int
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
	}
	if err := json.Unmarshal([]byte(value), &cp); err != nil || cp.Version != 1 || cp.AccessKeyID != newID || cp.SecretAccessKey != secretPrefix+newID {
		t.Errorf("the target holds %+v (%v); want the credential_process JSON of %s", cp, err, newID)
	}
}

func TestRotateWrites(t *testing.T) {
	for _, tt := range []struct {
		name, target, wantRef string
		create, lost          bool
		value                 func(*fakeTargets) string
	}{
		{"secrets manager, by name", "keywarden/alice", aliceARN, false, false, func(f *fakeTargets) string { return f.secrets["keywarden/alice"].value }},
		{"secrets manager, by ARN", aliceARN, aliceARN, false, false, func(f *fakeTargets) string { return f.secrets["keywarden/alice"].value }},
		{"secrets manager, answer lost: confirmed written", aliceARN, aliceARN, false, true, func(f *fakeTargets) string { return f.secrets["keywarden/alice"].value }},
		{"ssm", "ssm:/keywarden/alice", "ssm:/keywarden/alice", false, false, func(f *fakeTargets) string { return f.params["/keywarden/alice"].value }},
		{"ssm, answer lost: confirmed written", "ssm:/keywarden/alice", "ssm:/keywarden/alice", false, true, func(f *fakeTargets) string { return f.params["/keywarden/alice"].value }},
		{"created with create_secret", "keywarden/alice", aliceARN, true, false, func(f *fakeTargets) string { return f.secrets["keywarden/alice"].value }},
		{"created with create_secret, answer lost", "keywarden/alice", aliceARN, true, true, func(f *fakeTargets) string { return f.secrets["keywarden/alice"].value }},
		{"ssm, created with create_secret", "ssm:/keywarden/alice", "ssm:/keywarden/alice", true, false, func(f *fakeTargets) string { return f.params["/keywarden/alice"].value }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, tg, store, logs := &fakeIAM{keys: oneKey()}, aliceTargets(), memstore.New(), &bytes.Buffer{}
			if tt.create {
				delete(tg.secrets, "keywarden/alice")
				delete(tg.params, "/keywarden/alice")
			}
			if tt.lost {
				tg.lost = true
				tg.fail = map[string]error{"PutSecretValue": errors.New("connection reset"), "PutParameter": errors.New("connection reset"),
					"CreateSecret": errors.New("connection reset")}
			}
			e := rotator(f, tg, store, logs)
			e.Rotate.CreateSecret = tt.create
			got := e.Execute(context.Background(), []plan.Action{rotateAction(tt.target)})[0]
			if got.Status != plan.ActionDone || got.Target != tt.wantRef {
				t.Fatalf("Execute(rotate) = %s (target %s); want done, written to %s", outcome(got), got.Target, tt.wantRef)
			}
			if len(f.keys) != 2 || !f.keys[0].active {
				t.Fatalf("keys after the rotation = %d, old key active %v; want the old key (active) and the new one", len(f.keys), f.keys[0].active)
			}
			newID := f.keys[1].id
			checkWritten(t, tt.value(tg), newID)
			if tt.create && strings.HasPrefix(tt.target, "ssm:") && (tg.params["/keywarden/alice"].tags[config.TagSecretUser] != "alice" ||
				tg.params["/keywarden/alice"].typ != ssmtypes.ParameterTypeSecureString) {
				t.Errorf("the created parameter = %+v; want a SecureString tagged keywarden:user=alice", tg.params["/keywarden/alice"])
			} else if tt.create && !strings.HasPrefix(tt.target, "ssm:") && tg.secrets["keywarden/alice"].tags[config.TagSecretUser] != "alice" {
				t.Errorf("the created secret's tags = %v; want keywarden:user=alice", tg.secrets["keywarden/alice"].tags)
			}
			recs, _ := store.Actions(context.Background(), state.ActionFilter{})
			if len(recs) != 1 || recs[0].Status != state.ActionDone || recs[0].Kind != state.KindRotate || recs[0].NewKeyID != newID || recs[0].SecretTarget != tt.wantRef {
				t.Errorf("records = %+v; want one rotate done, new key %s, target %s", recs, newID, tt.wantRef)
			}
			want := "rotated: new key " + newID + " written to " + tt.wantRef + "; the old key AKIA1 is disabled when the new one is first used or on 2026-11-30, then deleted after 10 days"
			if !strings.HasPrefix(got.Reason, want) {
				t.Errorf("reason = %q; want it to start %q", got.Reason, want)
			}
			noSecret(t, store, logs, got)
		})
	}
}

func TestRotateWriteFailureDeletesTheNewKey(t *testing.T) {
	for _, target := range []string{"keywarden/alice", "ssm:/keywarden/alice"} {
		t.Run(target, func(t *testing.T) {
			f, tg, store, logs := &fakeIAM{keys: oneKey()}, aliceTargets(), memstore.New(), &bytes.Buffer{}
			denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "kms"}
			tg.fail = map[string]error{"PutSecretValue": denied, "PutParameter": denied}
			got := rotator(f, tg, store, logs).Execute(context.Background(), []plan.Action{rotateAction(target)})[0]
			if got.Status != plan.ActionFailed || !strings.Contains(got.Reason, "AccessDeniedException") || !strings.Contains(got.Reason, "was deleted") {
				t.Errorf("Execute(rotate) = %s; want failed with the write's error, the new key deleted", outcome(got))
			}
			if len(f.keys) != 1 || f.keys[0].id != "AKIA1" {
				t.Errorf("keys after a failed write = %+v; want only the old key", f.keys)
			}
			recs, _ := store.Actions(context.Background(), state.ActionFilter{})
			if len(recs) != 1 || recs[0].Status != state.ActionFailed || recs[0].NewKeyID == "" {
				t.Errorf("records = %+v; want the rotation failed, naming the deleted key", recs)
			}
			noSecret(t, store, logs, got)
		})
	}
}

// TestRotateUnconfirmedStaysPlanned: the write fails and so does the
// check: the record stays planned with the new key, for reconcile.
func TestRotateUnconfirmedStaysPlanned(t *testing.T) {
	f, tg, store, logs := &fakeIAM{keys: oneKey()}, aliceTargets(), memstore.New(), &bytes.Buffer{}
	e := rotator(f, tg, store, logs)
	e.Targets = func(context.Context, string) (remediate.Targets, error) {
		return remediate.Targets{Secrets: &describeFailsAfterWrite{tg, 0}}, nil
	}
	tg.fail = map[string]error{"PutSecretValue": errors.New("timeout")}
	got := e.Execute(context.Background(), []plan.Action{rotateAction("keywarden/alice")})[0]
	if got.Status != plan.ActionFailed || !got.Unsettled {
		t.Errorf("Execute(rotate) = %s (unsettled %v); want failed, unsettled", outcome(got), got.Unsettled)
	}
	recs, _ := store.Actions(context.Background(), state.ActionFilter{})
	if len(recs) != 1 || recs[0].Status != state.ActionPlanned || recs[0].NewKeyID == "" {
		t.Errorf("records = %+v; want the rotation planned with its new key", recs)
	}
	noSecret(t, store, logs, got)
}

// describeFailsAfterWrite answers the first DescribeSecret (the target
// check), then fails.
type describeFailsAfterWrite struct {
	*fakeTargets
	n int
}

func (d *describeFailsAfterWrite) DescribeSecret(ctx context.Context, in *sm.DescribeSecretInput, o ...func(*sm.Options)) (*sm.DescribeSecretOutput, error) {
	if d.n++; d.n > 1 {
		return nil, errors.New("throttled")
	}
	return d.fakeTargets.DescribeSecret(ctx, in, o...)
}

// deadRotation is run-0's planned rotation of AKIA1, two hours old.
func deadRotation(t *testing.T, store state.Store, newKeyID, target string) state.Action {
	t.Helper()
	r := state.Action{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: "access_key", KeyID: "AKIA1",
		Kind: state.KindRotate, Rule: config.RuleAccessKeyAge, Stage: 80, Status: state.ActionPlanned, Before: state.KeyActive,
		SecretTarget: target, At: asOf.Add(-2 * time.Hour)}
	recordPlanned(t, store, r)
	if newKeyID != "" {
		if err := store.ProgressAction(context.Background(), r.ID, newKeyID); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestReconcileRotation(t *testing.T) {
	newKey := func() *fakeKey {
		return &fakeKey{user: "alice", id: "AKIANEW9", created: asOf.Add(-time.Hour), active: true}
	}
	for _, tt := range []struct {
		name, recorded string
		written        bool
		wantStatus     state.ActionStatus
		wantKeys       int
		wantReason     string
	}{
		{"crash after CreateAccessKey, before the write", "AKIANEW9", false, state.ActionFailed, 1, "killed before the secret was written; the new key AKIANEW9 was deleted"},
		{"crash before the new key was recorded", "", false, state.ActionFailed, 1, "the key it created (AKIANEW9) was deleted"},
		{"written, not finished", "AKIANEW9", true, state.ActionDone, 2, "new key AKIANEW9 written to keywarden/alice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, tg, store, logs := &fakeIAM{keys: append(oneKey(), newKey())}, aliceTargets(), memstore.New(), &bytes.Buffer{}
			r := deadRotation(t, store, tt.recorded, "keywarden/alice")
			if tt.written {
				tg.lost = true
				_, _ = tg.PutSecretValue(context.Background(), &sm.PutSecretValueInput{SecretId: aws.String("keywarden/alice"),
					SecretString: aws.String(`{"Version":1}`), ClientRequestToken: aws.String(remediate.RequestToken(r.ID))})
			}
			out, err := rotator(f, tg, store, logs).Reconcile(context.Background(), []string{acct}, nil)
			if err != nil || len(out) != 1 {
				t.Fatalf("Reconcile() = %+v, %v; want the rotation settled", out, err)
			}
			recs, _ := store.Actions(context.Background(), state.ActionFilter{IDs: []string{r.ID}})
			if recs[0].Status != tt.wantStatus || !strings.Contains(recs[0].Reason, tt.wantReason) {
				t.Errorf("record = %s: %s; want %s: …%s…", recs[0].Status, recs[0].Reason, tt.wantStatus, tt.wantReason)
			}
			if len(f.keys) != tt.wantKeys {
				t.Errorf("keys after reconcile = %d; want %d", len(f.keys), tt.wantKeys)
			}
			if tt.written && recs[0].SecretTarget != aliceARN {
				t.Errorf("target = %s; want the secret's ARN", recs[0].SecretTarget)
			}
		})
	}
}

// doneRotation is a rotation of AKIA1 done on day, its new key AKIANEW9.
func doneRotation(t *testing.T, store state.Store, day time.Time) state.Action {
	t.Helper()
	r := state.Action{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: "access_key", KeyID: "AKIA1",
		Kind: state.KindRotate, Rule: config.RuleAccessKeyAge, Stage: 80, Status: state.ActionPlanned, Before: state.KeyActive,
		SecretTarget: "keywarden/alice", At: day}
	recordPlanned(t, store, r)
	ctx := context.Background()
	if err := store.ProgressAction(ctx, r.ID, "AKIANEW9"); err != nil {
		t.Fatal(err)
	}
	if err := store.FinishAction(ctx, r.ID, state.Outcome{Status: state.ActionDone, Reason: "rotated", Before: state.KeyActive, After: state.KeyActive,
		At: day, SecretTarget: aliceARN}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUndoRotation(t *testing.T) {
	ctx := context.Background()
	f := &fakeIAM{keys: append(oneKey(), &fakeKey{user: "alice", id: "AKIANEW9", created: daysAgo(3), active: true, lastUsed: daysAgo(1)})}
	store, logs := memstore.New(), &bytes.Buffer{}
	rot := doneRotation(t, store, daysAgo(3))
	if out := rotator(f, aliceTargets(), store, logs).Execute(ctx, []plan.Action{retiring(config.ActionDisable, rot, true)}); out[0].Status != plan.ActionDone || f.keys[0].active {
		t.Fatalf("Execute(retiring disable) = %s; want the old key disabled", outcome(out[0]))
	}
	u := rotator(f, aliceTargets(), store, logs)
	u.RunID = "undo-1"
	recs, err := u.Undo(ctx, []string{rot.ID})
	if err != nil || len(recs) != 1 || recs[0].Status != state.ActionDone || recs[0].UndoOf != rot.ID ||
		!strings.Contains(recs[0].Reason, "the new key AKIANEW9 stays (in "+aliceARN+")") {
		t.Fatalf("Undo(rotation) = %+v, %v; want the old key re-enabled, the new key named as staying", recs, err)
	}
	if !f.keys[0].active || f.key("AKIANEW9") == nil {
		t.Errorf("after the undo: old key active %v, new key %v; want both there, the old one active", f.keys[0].active, f.key("AKIANEW9"))
	}
}

// retiring is the plan's retiring kind of rotation rot's old key AKIA1.
func retiring(kind string, rot state.Action, active bool) plan.Action {
	a := keyAction(kind, "alice", "AKIA1", daysAgo(85), active)
	a.RotationOf = rot.ID
	return a
}

// TestRotateCreateRefused: CreateAccessKey refused (a client error) fails
// the rotation at once, nothing written; an answer lost (a server error)
// leaves the record planned for the next run's reconcile.
func TestRotateCreateRefused(t *testing.T) {
	for _, tt := range []struct {
		name      string
		err       error
		unsettled bool
		want      state.ActionStatus
	}{
		{"access denied", &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient}, false, state.ActionFailed},
		{"server error", &smithy.GenericAPIError{Code: "ServiceFailure", Fault: smithy.FaultServer}, true, state.ActionPlanned},
		// a retry's answer, or another's key: the first request may have made a key
		{"limit exceeded", &types.LimitExceededException{Message: aws.String("at most 2 access keys")}, true, state.ActionPlanned},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, tg, store, logs := &fakeIAM{keys: oneKey(), fail: map[string]error{"CreateAccessKey": tt.err}}, aliceTargets(), memstore.New(), &bytes.Buffer{}
			got := rotator(f, tg, store, logs).Execute(context.Background(), []plan.Action{rotateAction("keywarden/alice")})[0]
			if got.Status != plan.ActionFailed || got.Unsettled != tt.unsettled {
				t.Errorf("Execute(rotate) = %s (unsettled %v); want failed, unsettled %v", outcome(got), got.Unsettled, tt.unsettled)
			}
			if recs, _ := store.Actions(context.Background(), state.ActionFilter{}); len(recs) != 1 || recs[0].Status != tt.want {
				t.Errorf("records = %+v; want the rotation %s", recs, tt.want)
			}
			for _, c := range tg.calls {
				if strings.HasPrefix(c, "Put") {
					t.Errorf("a rotation without a new key wrote a target (calls %v)", tg.calls)
				}
			}
		})
	}
}

// TestPlannedRetirementKeepsItsRotation: the plan's retiring disable and
// delete (Action.RotationOf) are recorded with their rotation, so the
// plan sees the rotation's old key disabled, then the rotation closed.
func TestPlannedRetirementKeepsItsRotation(t *testing.T) {
	ctx := context.Background()
	f := &fakeIAM{keys: append(oneKey(), &fakeKey{user: "alice", id: "AKIANEW9", created: daysAgo(20), active: true})}
	store, logs := memstore.New(), &bytes.Buffer{}
	rot := doneRotation(t, store, daysAgo(20))
	dis := retiring(config.ActionDisable, rot, true)
	e := rotator(f, aliceTargets(), store, logs)
	e.AsOf = daysAgo(12)
	got := e.Execute(ctx, []plan.Action{dis})[0]
	if got.Status != plan.ActionDone || !strings.Contains(got.Reason, "retired by rotation "+rot.ID) {
		t.Fatalf("Execute(retiring disable) = %s; want done, retired by rotation %s", outcome(got), rot.ID)
	}
	recs, _ := store.Actions(ctx, state.ActionFilter{IDs: []string{got.ID}})
	if len(recs) != 1 || recs[0].RotationOf != rot.ID || recs[0].Kind != state.KindDisable || recs[0].After != state.KeyInactive {
		t.Fatalf("disable record = %+v; want a disable to Inactive, RotationOf %s (the rotation's old key disabled)", recs, rot.ID)
	}
	del := retiring(config.ActionDelete, rot, false)
	e2 := rotator(f, aliceTargets(), store, logs)
	e2.RunID, e2.AsOf = "run-2", asOf
	got = e2.Execute(ctx, []plan.Action{del})[0]
	if got.Status != plan.ActionDone || f.key("AKIA1") != nil || !strings.Contains(got.Reason, "retired by rotation "+rot.ID) {
		t.Fatalf("Execute(retiring delete) = %s; want the old key deleted, retired by rotation %s", outcome(got), rot.ID)
	}
	if recs, _ := store.Actions(ctx, state.ActionFilter{IDs: []string{got.ID}}); len(recs) != 1 || recs[0].RotationOf != rot.ID || recs[0].After != state.KeyDeleted {
		t.Errorf("delete record = %+v; want RotationOf %s, deleted (which closes the rotation)", recs, rot.ID)
	}
}

// TestRetiringDeleteOfReenabledKey: a rotation's retiring delete that
// finds the old key active (re-enabled by hand since the rotation
// disabled it) never disables it: skipped, saying why, the key untouched.
func TestRetiringDeleteOfReenabledKey(t *testing.T) {
	ctx := context.Background()
	f := &fakeIAM{keys: append(oneKey(), &fakeKey{user: "alice", id: "AKIANEW9", created: daysAgo(20), active: true})}
	store, logs := memstore.New(), &bytes.Buffer{}
	rot := doneRotation(t, store, daysAgo(20))
	del := retiring(config.ActionDelete, rot, false) // the plan saw it inactive; it is active now
	got := rotator(f, aliceTargets(), store, logs).Execute(ctx, []plan.Action{del})[0]
	if got.Status != plan.ActionSkipped || got.Reason != remediate.ReasonRetireReenabled {
		t.Fatalf("Execute(retiring delete of an active key) = %s; want skipped: %s", outcome(got), remediate.ReasonRetireReenabled)
	}
	if k := f.key("AKIA1"); k == nil || !k.active {
		t.Errorf("old key = %+v; want it still there and active", k)
	}
	if recs, _ := store.Actions(ctx, state.ActionFilter{IDs: []string{got.ID}}); len(recs) != 1 || recs[0].Status != state.ActionSkipped || recs[0].After != state.KeyActive {
		t.Errorf("record = %+v; want skipped, the key left Active", recs)
	}
}

// TestRotateWriteErrorKeepsOnlyItsCode: a write refused with a message
// that quotes the value (PutSecretValue, PutParameter, CreateSecret) is
// recorded and logged by its operation and error code only.
func TestRotateWriteErrorKeepsOnlyItsCode(t *testing.T) {
	for _, tt := range []struct{ name, target, op string }{
		{"secret", "keywarden/alice", "PutSecretValue"},
		{"parameter", "ssm:/keywarden/alice", "PutParameter"},
		{"new secret", "keywarden/alice", "CreateSecret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, tg, store, logs := &fakeIAM{keys: oneKey()}, aliceTargets(), memstore.New(), &bytes.Buffer{}
			tg.echo = true
			e := rotator(f, tg, store, logs)
			if tt.op == "CreateSecret" {
				delete(tg.secrets, "keywarden/alice")
				e.Rotate.CreateSecret = true
			}
			got := e.Execute(context.Background(), []plan.Action{rotateAction(tt.target)})[0]
			if got.Status != plan.ActionFailed || !strings.Contains(got.Reason, tt.op+" failed: ValidationException") || strings.Contains(got.Reason, "invalid value") {
				t.Errorf("Execute(rotate) = %s; want failed with %s's code only, not its message", outcome(got), tt.op)
			}
			if strings.Contains(logs.String(), "invalid value") {
				t.Errorf("the write's message is logged: %s", logs.String())
			}
			noSecret(t, store, logs, got)
		})
	}
}

// TestReconcileRotationLeavesTheUsersKeys: a dead rotation that recorded
// no new key deletes only the one never-used key created within the
// lease after it; a used key, a key made later, or two candidates are
// left, and the reason tells the admins to check the user's keys.
func TestReconcileRotationLeavesTheUsersKeys(t *testing.T) {
	at := asOf.Add(-2 * time.Hour) // deadRotation's record
	for _, tt := range []struct {
		name       string
		keys       []*fakeKey
		wantKeys   []string
		wantReason string
	}{
		{"the rotation's key", []*fakeKey{{id: "AKIANEW9", created: at.Add(time.Minute)}},
			[]string{"AKIA1"}, "the key it created (AKIANEW9) was deleted"},
		{"a used key", []*fakeKey{{id: "AKIAUSER", created: at.Add(time.Minute), lastUsed: at.Add(time.Hour)}},
			[]string{"AKIA1", "AKIAUSER"}, "the key AKIAUSER of alice, created within the lease after it, has been used, so it is left: check the user's keys"},
		{"a key made after the lease", []*fakeKey{{id: "AKIALATE", created: at.Add(remediate.DefaultLease + time.Minute)}},
			[]string{"AKIA1", "AKIALATE"}, "run run-0 stopped before recording a new key; it is planned again"},
		{"two candidates", []*fakeKey{{id: "AKIAONE", created: at.Add(time.Minute)}, {id: "AKIATWO", created: at.Add(2 * time.Minute)}},
			[]string{"AKIA1", "AKIAONE", "AKIATWO"}, "keys AKIAONE, AKIATWO of alice were created within the lease after it: none is taken for its key; check the user's keys"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			keys := oneKey()
			for _, k := range tt.keys {
				k.user, k.active = "alice", true
				keys = append(keys, k)
			}
			f, store, logs := &fakeIAM{keys: keys}, memstore.New(), &bytes.Buffer{}
			r := deadRotation(t, store, "", "keywarden/alice")
			e := rotator(f, aliceTargets(), store, logs)
			e.AsOf = at.Add(remediate.DefaultLease + 2*time.Minute)
			if out, err := e.Reconcile(context.Background(), []string{acct}, nil); err != nil || len(out) != 1 {
				t.Fatalf("Reconcile() = %+v, %v; want the rotation settled", out, err)
			}
			recs, _ := store.Actions(context.Background(), state.ActionFilter{IDs: []string{r.ID}})
			if recs[0].Status != state.ActionFailed || !strings.Contains(recs[0].Reason, tt.wantReason) {
				t.Errorf("record = %s: %s; want failed: …%s…", recs[0].Status, recs[0].Reason, tt.wantReason)
			}
			var ids []string
			for _, k := range f.keys {
				ids = append(ids, k.id)
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("keys after reconcile = %v; want %v", ids, tt.wantKeys)
			}
		})
	}
}

// A target encrypted with a customer managed key of the user's account
// (given by alias or key ID, resolved with DescribeKey) or with the AWS
// managed key is written.
func TestRotateAcceptsKeysOfTheAccount(t *testing.T) {
	const keyARN = "arn:aws:kms:us-east-1:" + acct + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tt := range []struct {
		name, target string
		change       func(*fakeTargets)
	}{
		{"secret, customer key by alias", "keywarden/alice", func(f *fakeTargets) {
			f.secrets["keywarden/alice"].kmsKey = "alias/mine"
			f.keys = map[string]string{"alias/mine": keyARN}
		}},
		{"secret, customer key by ARN", "keywarden/alice", func(f *fakeTargets) {
			f.secrets["keywarden/alice"].kmsKey = keyARN
			f.keys = map[string]string{keyARN: keyARN}
		}},
		{"ssm, AWS managed key", "ssm:/keywarden/alice", func(f *fakeTargets) { f.params["/keywarden/alice"].keyID = "alias/aws/ssm" }},
		{"ssm, customer key by ID", "ssm:/keywarden/alice", func(f *fakeTargets) {
			f.params["/keywarden/alice"].keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
			f.keys = map[string]string{"1234abcd-12ab-34cd-56ef-1234567890ab": keyARN}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, tg, store, logs := &fakeIAM{keys: oneKey()}, aliceTargets(), memstore.New(), &bytes.Buffer{}
			tt.change(tg)
			got := rotator(f, tg, store, logs).Execute(context.Background(), []plan.Action{rotateAction(tt.target)})[0]
			if got.Status != plan.ActionDone {
				t.Errorf("Execute(rotate) = %s; want done", outcome(got))
			}
		})
	}
}
