package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
)

// A dry run is the same code as a real run with its writes replaced here,
// once, where the run's store, IAM clients and channels are built: the
// store reads the real state and records nothing, the clients read IAM
// and change nothing, the channels only have names. What it decides to do
// it reports as planned (wouldDo).

// dryStore is a dry run's state: reads pass through to the real store,
// writes are dropped. Every method is spelled out, so that a write added
// to state.Store cannot pass through unnoticed.
type dryStore struct{ real state.Store }

var _ state.Store = dryStore{}

func (d dryStore) Notices(ctx context.Context, accounts []string) ([]state.Notice, error) {
	return d.real.Notices(ctx, accounts)
}

func (d dryStore) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	return d.real.Runs(ctx, limit)
}

func (d dryStore) Actions(ctx context.Context, f state.ActionFilter) ([]state.Action, error) {
	return d.real.Actions(ctx, f)
}

func (d dryStore) InactiveSince(ctx context.Context, k state.KeyRef) (string, error) {
	return d.real.InactiveSince(ctx, k)
}

// Claim grants every claim, and holds nothing: a dry run says what would
// be sent.
func (dryStore) Claim(context.Context, state.Claim) (bool, error) { return true, nil }

func (dryStore) Sent(context.Context, state.NoticeKey, string, string, time.Time) error { return nil }

func (dryStore) Release(context.Context, state.NoticeKey, string) error { return nil }

func (dryStore) Resolve(context.Context, []string, string, time.Time) (int, error) { return 0, nil }

func (dryStore) RecordRun(context.Context, state.Run) error { return nil }

func (dryStore) RecordAction(context.Context, state.Action) error { return nil }

func (dryStore) FinishAction(context.Context, string, state.Outcome) error { return nil }

func (dryStore) ProgressAction(context.Context, string, string) error { return nil }

func (dryStore) RecordInactive(context.Context, state.KeyRef, string, bool) error { return nil }

func (dryStore) ForgetInactive(context.Context, state.KeyRef) error { return nil }

// Close closes nothing: the real store is the run's to close.
func (dryStore) Close() error { return nil }

// dryIAM is a dry run's IAM client: the re-checks read the account, every
// change succeeds and changes nothing.
type dryIAM struct{ remediate.Reader }

var (
	_ remediate.IAM        = dryIAM{}
	_ remediate.KeyCreator = dryIAM{}
)

func (dryIAM) UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	return &iam.UpdateAccessKeyOutput{}, nil
}

func (dryIAM) DeleteAccessKey(context.Context, *iam.DeleteAccessKeyInput, ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	return &iam.DeleteAccessKeyOutput{}, nil
}

func (dryIAM) DeleteLoginProfile(context.Context, *iam.DeleteLoginProfileInput, ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error) {
	return &iam.DeleteLoginProfileOutput{}, nil
}

func (dryIAM) UpdateSigningCertificate(context.Context, *iam.UpdateSigningCertificateInput, ...func(*iam.Options)) (*iam.UpdateSigningCertificateOutput, error) {
	return &iam.UpdateSigningCertificateOutput{}, nil
}

func (dryIAM) DeleteSigningCertificate(context.Context, *iam.DeleteSigningCertificateInput, ...func(*iam.Options)) (*iam.DeleteSigningCertificateOutput, error) {
	return &iam.DeleteSigningCertificateOutput{}, nil
}

func (dryIAM) UpdateServiceSpecificCredential(context.Context, *iam.UpdateServiceSpecificCredentialInput, ...func(*iam.Options)) (*iam.UpdateServiceSpecificCredentialOutput, error) {
	return &iam.UpdateServiceSpecificCredentialOutput{}, nil
}

func (dryIAM) DeleteServiceSpecificCredential(context.Context, *iam.DeleteServiceSpecificCredentialInput, ...func(*iam.Options)) (*iam.DeleteServiceSpecificCredentialOutput, error) {
	return &iam.DeleteServiceSpecificCredentialOutput{}, nil
}

// DryRunKeyID is what a dry run's CreateAccessKey answers: a placeholder,
// never a real key (no secret: an empty one).
const DryRunKeyID = "AKIA-DRY-RUN-NEW-KEY"

func (dryIAM) CreateAccessKey(_ context.Context, in *iam.CreateAccessKeyInput, _ ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	return &iam.CreateAccessKeyOutput{AccessKey: &iamtypes.AccessKey{AccessKeyId: aws.String(DryRunKeyID), UserName: in.UserName,
		Status: iamtypes.StatusTypeActive}}, nil
}

// drySecrets and dryParams read the targets and write nothing.
type drySecrets struct{ remediate.Secrets }

func (drySecrets) CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return &secretsmanager.CreateSecretOutput{}, nil
}

func (drySecrets) PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return &secretsmanager.PutSecretValueOutput{}, nil
}

type dryParams struct{ remediate.Params }

func (dryParams) PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	return &ssm.PutParameterOutput{}, nil
}

// dryTargets are rotation targets whose writes go nowhere.
func dryTargets(targets func(context.Context, string) (remediate.Targets, error)) func(context.Context, string) (remediate.Targets, error) {
	return func(ctx context.Context, account string) (remediate.Targets, error) {
		t, err := targets(ctx, account)
		if err != nil {
			return t, err
		}
		if t.Secrets != nil {
			t.Secrets = drySecrets{t.Secrets}
		}
		if t.Params != nil {
			t.Params = dryParams{t.Params}
		}
		return t, nil
	}
}

// dryClients are clients whose changes go nowhere.
func dryClients(clients func(context.Context, string) (remediate.IAM, error)) func(context.Context, string) (remediate.IAM, error) {
	return func(ctx context.Context, account string) (remediate.IAM, error) {
		c, err := clients(ctx, account)
		if err != nil {
			return nil, err
		}
		return dryIAM{c}, nil
	}
}

// errPlanned is what a dry run's channels answer: the message is not
// sent, by design (DeliveryPlanned).
var errPlanned = errors.New("a dry run does not send")

// plannedChannels names the channels a dry run would use, without setting
// any up (no secret is read, no client built).
func plannedChannels(cfg *config.Config) *Channels {
	via := cfg.Notify.Users.Via
	if via == "" {
		via = "outbox"
	}
	chs := &Channels{User: named(via), Digest: map[string]notify.Channel{}}
	for _, t := range plan.Targets(cfg) {
		switch t {
		case plan.TargetEmail:
			chs.Digest[t] = chs.User
		default:
			chs.Digest[t] = named(t)
		}
	}
	return chs
}

// named is a channel that only has a name.
type named string

func (n named) Name() string { return string(n) }

func (n named) Send(context.Context, *notify.Message) error {
	return fmt.Errorf("%s: %w", string(n), errPlanned)
}

// dryAuditFile is a dry run's enforce.audit_file: nothing is opened,
// nothing written.
func dryAuditFile(string) (func(state.Action) error, func() error, error) {
	return func(state.Action) error { return nil }, func() error { return nil }, nil
}

// DryRunPrefix starts the reason of an action a dry run would make.
const DryRunPrefix = "dry run, re-checked; a real run does this: "

// wouldDo is what a dry run reports of the actions it carried out against
// dryIAM: one the re-check agreed to make stays planned, and says what a
// real run does.
func wouldDo(actions []plan.Action) []plan.Action {
	for i := range actions {
		if a := &actions[i]; a.Status == plan.ActionDone {
			a.Status, a.Reason = plan.ActionPlanned, DryRunPrefix+a.Reason
			a.After, a.DeleteOn = "", ""
		}
	}
	return actions
}
