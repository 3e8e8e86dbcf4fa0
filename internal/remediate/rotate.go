package remediate

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
)

// A rotation (design sections 3 to 7): under the lock on the old key, the
// key is re-checked, the user must have a free key slot, the target is
// checked (same account, name pattern, keywarden:user tag) before anything
// is created; then CreateAccessKey, ProgressAction (the new key's ID in
// the planned record, for a run killed now), and the write of the
// credential_process JSON. A write that failed (and is confirmed not
// made) deletes the new key at once. The new key's secret lives only in
// the write's input: never logged, recorded or put in an error.

// KeyCreator creates access keys: a rotation's new key. *iam.Client
// satisfies it; a dry run's answers a placeholder.
type KeyCreator interface {
	CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
}

// Secrets is the part of the Secrets Manager API a rotation calls;
// *secretsmanager.Client satisfies it.
type Secrets interface {
	DescribeSecret(ctx context.Context, in *sm.DescribeSecretInput, optFns ...func(*sm.Options)) (*sm.DescribeSecretOutput, error)
	GetResourcePolicy(ctx context.Context, in *sm.GetResourcePolicyInput, optFns ...func(*sm.Options)) (*sm.GetResourcePolicyOutput, error)
	CreateSecret(ctx context.Context, in *sm.CreateSecretInput, optFns ...func(*sm.Options)) (*sm.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *sm.PutSecretValueInput, optFns ...func(*sm.Options)) (*sm.PutSecretValueOutput, error)
}

// Params is the part of the SSM API a rotation calls (never a parameter's
// value); *ssm.Client satisfies it.
type Params interface {
	DescribeParameters(ctx context.Context, in *ssm.DescribeParametersInput, optFns ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error)
	ListTagsForResource(ctx context.Context, in *ssm.ListTagsForResourceInput, optFns ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// Keys resolves the KMS key of a secret or parameter (its ARN, hence its
// account); *kms.Client satisfies it.
type Keys interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

var (
	_ Secrets    = (*sm.Client)(nil)
	_ Params     = (*ssm.Client)(nil)
	_ Keys       = (*kms.Client)(nil)
	_ KeyCreator = (*iam.Client)(nil)
)

// Targets are the clients of one account where rotations write. KMS is
// needed only for a target encrypted with a key other than the AWS
// managed one.
type Targets struct {
	Secrets Secrets
	Params  Params
	KMS     Keys
}

// The AWS managed keys of Secrets Manager and SSM: always in the
// secret's own account.
const (
	awsSecretsKey = "alias/aws/secretsmanager"
	awsSSMKey     = "alias/aws/ssm"
)

// ssmPrefix marks an SSM parameter target: ssm:/path.
const ssmPrefix = "ssm:"

// ReasonRetireReenabled skips a rotation's retiring delete that finds the
// old key active: it was re-enabled by hand since the rotation disabled it.
const ReasonRetireReenabled = "re-enabled since the rotation disabled it; not deleted"

// secretName is rotate.secret_name for user.
func (e *Executor) secretName(user string) string {
	p := e.Rotate.SecretName
	if p == "" {
		p = config.DefaultSecretName
	}
	return strings.ReplaceAll(p, "{user}", user)
}

// overlapDays is rotate.overlap_days.
func (e *Executor) overlapDays() int {
	if e.Rotate.OverlapDays > 0 {
		return e.Rotate.OverlapDays
	}
	return config.DefaultOverlapDays
}

// requestToken is the ClientRequestToken of a rotation's PutSecretValue:
// derived from the action ID, so that a repeat is the same version and
// DescribeSecret's VersionIdsToStages shows whether it was written.
func requestToken(actionID string) string {
	h := sha256.Sum256([]byte("keywarden rotation " + actionID))
	return hex.EncodeToString(h[:16])
}

// paramDescription marks the SSM parameter a rotation wrote.
func paramDescription(actionID string) string { return "keywarden rotation " + actionID }

// destination is a checked target: where the key goes (Ref: the secret's
// ARN or ssm:/path) and how.
type destination struct {
	Ref    string
	secret string // Secrets Manager SecretId (ARN), or "" for SSM
	param  string // SSM parameter name
	// kmsKey is the parameter's KMS key: PutParameter without one would
	// encrypt the new value with the account's default key (aws/ssm).
	kmsKey string
	create bool // the secret does not exist: create it first
}

// refused is a target check that failed: the rotation is skipped with it.
type refused struct{ reason string }

func (r *refused) Error() string { return r.reason }

func refuse(format string, args ...any) error {
	return &refused{reason: fmt.Sprintf(format, args...)}
}

// checkTarget resolves and checks a rotation's target for user in
// account: a *refused when a check fails, another error when a call does.
func (e *Executor) checkTarget(ctx context.Context, t Targets, account, user, target string) (destination, error) {
	want := e.secretName(user)
	if target == "" {
		return destination{}, refuse("the user has no rotation target (tag %s or rotate.targets); nothing was created", config.TagSecret)
	}
	if path, ok := strings.CutPrefix(target, ssmPrefix); ok {
		if t.Params == nil {
			return destination{}, fmt.Errorf("no SSM client for account %s", account)
		}
		if path != "/"+want {
			return destination{}, refuse("target %s: the parameter name must be /%s (rotate.secret_name); nothing was created", target, want)
		}
		meta, err := describeParam(ctx, t.Params, path)
		if err != nil {
			return destination{}, fmt.Errorf("check target %s of %s in account %s: %w", target, user, account, err)
		}
		if meta == nil {
			if !e.Rotate.CreateSecret {
				return destination{}, refuse("target %s does not exist and rotate.create_secret is off; nothing was created", target)
			}
			return destination{Ref: target, param: path, create: true}, nil
		}
		if meta.Type != ssmtypes.ParameterTypeSecureString {
			return destination{}, refuse("target %s is a %s parameter, not SecureString; nothing was created", target, meta.Type)
		}
		if meta.Tier == ssmtypes.ParameterTierAdvanced {
			return destination{}, refuse("target %s is an Advanced-tier parameter, which can be shared with other accounts: keywarden writes keys only to Standard-tier parameters; nothing was created", target)
		}
		if err := checkKey(ctx, t.KMS, target, account, aws.ToString(meta.KeyId), awsSSMKey); err != nil {
			return destination{}, err
		}
		tags, err := t.Params.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{
			ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(path)})
		if err != nil {
			return destination{}, fmt.Errorf("check the tags of target %s of %s in account %s: %w", target, user, account, err)
		}
		var owner []string
		for _, tg := range tags.TagList {
			if aws.ToString(tg.Key) == config.TagSecretUser {
				owner = append(owner, aws.ToString(tg.Value))
			}
		}
		if err := ownerCheck(target, user, owner); err != nil {
			return destination{}, err
		}
		return destination{Ref: ssmPrefix + path, param: path, kmsKey: aws.ToString(meta.KeyId)}, nil
	}
	if t.Secrets == nil {
		return destination{}, fmt.Errorf("no Secrets Manager client for account %s", account)
	}
	if a, err := arn.Parse(target); err == nil && a.AccountID != account {
		return destination{}, refuse("target %s is in account %s, not the user's account %s; nothing was created", target, a.AccountID, account)
	}
	out, err := t.Secrets.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(target)})
	var notFound *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		if arn.IsARN(target) || target != want {
			return destination{}, refuse("target %s does not exist, and only a secret named %s (rotate.secret_name) is created; nothing was created", target, want)
		}
		if !e.Rotate.CreateSecret {
			return destination{}, refuse("target %s does not exist and rotate.create_secret is off; nothing was created", target)
		}
		return destination{Ref: target, secret: target, create: true}, nil
	case err != nil:
		return destination{}, fmt.Errorf("check target %s of %s in account %s: %w", target, user, account, err)
	}
	ref := aws.ToString(out.ARN)
	if a, err := arn.Parse(ref); err != nil || a.AccountID != account {
		return destination{}, refuse("target %s (%s) is not in the user's account %s; nothing was created", target, ref, account)
	}
	if name := aws.ToString(out.Name); name != want {
		return destination{}, refuse("target %s is named %s, not %s (rotate.secret_name); nothing was created", target, name, want)
	}
	var owner []string
	for _, tg := range out.Tags {
		if aws.ToString(tg.Key) == config.TagSecretUser {
			owner = append(owner, aws.ToString(tg.Value))
		}
	}
	if err := ownerCheck(ref, user, owner); err != nil {
		return destination{}, err
	}
	pol, err := t.Secrets.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String(ref)})
	if err != nil {
		return destination{}, fmt.Errorf("check the resource policy of target %s of %s in account %s: %w", ref, user, account, err)
	}
	if strings.TrimSpace(aws.ToString(pol.ResourcePolicy)) != "" {
		return destination{}, refuse("target %s has a resource policy: keywarden writes keys only where the account's IAM policies alone decide who reads them; remove the policy; nothing was created", ref)
	}
	if err := checkKey(ctx, t.KMS, ref, account, aws.ToString(out.KmsKeyId), awsSecretsKey); err != nil {
		return destination{}, err
	}
	return destination{Ref: ref, secret: ref}, nil
}

// checkKey: the KMS key (ID, ARN, alias or alias ARN) that encrypts
// target must be in account: whoever controls the key can read what is
// written. Empty or the AWS managed key (awsKey) is the account's own; a
// key ARN or alias ARN names its account (an alias points only to a key
// of its own account), so it is decided without a call (the IAM policy
// allows kms:DescribeKey only in the accounts); a key ID or alias name is
// resolved with kms:DescribeKey to its key ARN.
func checkKey(ctx context.Context, k Keys, target, account, keyID, awsKey string) error {
	if keyID == "" || keyID == awsKey {
		return nil
	}
	foreign := func(keyARN, owner string) error {
		return refuse("target %s is encrypted with KMS key %s of account %s, not the user's account %s: whoever controls that key can read what is written; nothing was created",
			target, keyARN, owner, account)
	}
	if a, err := arn.Parse(keyID); err == nil {
		if a.AccountID != account {
			return foreign(keyID, a.AccountID)
		}
		return nil
	}
	if k == nil {
		return fmt.Errorf("no KMS client for account %s to resolve the key %s of target %s", account, keyID, target)
	}
	out, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return fmt.Errorf("resolve the KMS key %s of target %s in account %s: %w", keyID, target, account, err)
	}
	var keyARN string
	if out.KeyMetadata != nil {
		keyARN = aws.ToString(out.KeyMetadata.Arn)
	}
	a, err := arn.Parse(keyARN)
	if err != nil {
		return refuse("target %s is encrypted with KMS key %s, whose ARN (%q) does not tell its account; nothing was created", target, keyID, keyARN)
	}
	if a.AccountID != account {
		return foreign(keyARN, a.AccountID)
	}
	return nil
}

// ownerCheck: the target must carry keywarden:user = user.
func ownerCheck(target, user string, owner []string) error {
	switch {
	case len(owner) == 0:
		return refuse("target %s has no tag %s (whoever provisions it sets it to the user's name); nothing was created", target, config.TagSecretUser)
	case !slices.Equal(owner, []string{user}):
		return refuse("target %s is tagged %s=%s, not %s; nothing was created", target, config.TagSecretUser, strings.Join(owner, ","), user)
	}
	return nil
}

// describeParam is an SSM parameter's metadata (never its value); nil
// when it does not exist.
func describeParam(ctx context.Context, p Params, name string) (*ssmtypes.ParameterMetadata, error) {
	out, err := p.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
		{Key: aws.String("Name"), Option: aws.String("Equals"), Values: []string{name}}}})
	if err != nil {
		return nil, err
	}
	for i := range out.Parameters {
		if aws.ToString(out.Parameters[i].Name) == name {
			return &out.Parameters[i], nil
		}
	}
	return nil, nil
}

// credentialProcess is the JSON the AWS CLI's credential_process reads.
func credentialProcess(id, secret string) string {
	b, _ := json.Marshal(struct {
		Version         int
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
	}{1, id, secret})
	return string(b)
}

// write puts the key at d (a created secret's ARN becomes d.Ref). Its
// errors are the operation, the error code and the HTTP status only
// (writeError): never the service's message, which could echo the value.
func (e *Executor) write(ctx context.Context, t Targets, d *destination, user, actionID, keyID, secret string) error {
	value := credentialProcess(keyID, secret)
	if d.param != "" {
		in := &ssm.PutParameterInput{Name: aws.String(d.param), Value: aws.String(value),
			Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true), Description: aws.String(paramDescription(actionID))}
		if d.kmsKey != "" {
			in.KeyId = aws.String(d.kmsKey)
		}
		if d.create { // tags only on a new parameter (SSM refuses them with Overwrite)
			in.Overwrite, in.Tags = nil, []ssmtypes.Tag{{Key: aws.String(config.TagSecretUser), Value: aws.String(user)}}
		}
		_, err := t.Params.PutParameter(ctx, in)
		return writeError("PutParameter", err)
	}
	if d.create {
		out, err := t.Secrets.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(d.secret), SecretString: aws.String(value),
			ClientRequestToken: aws.String(requestToken(actionID)),
			Description:        aws.String("access key of IAM user " + user + ", rotated by keywarden"),
			Tags:               []smtypes.Tag{{Key: aws.String(config.TagSecretUser), Value: aws.String(user)}}})
		if err == nil && out.ARN != nil {
			d.Ref, d.secret = aws.ToString(out.ARN), aws.ToString(out.ARN)
		}
		return writeError("CreateSecret", err)
	}
	_, err := t.Secrets.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(d.secret), SecretString: aws.String(value),
		ClientRequestToken: aws.String(requestToken(actionID))})
	return writeError("PutSecretValue", err)
}

// writeError is a secret write's error reduced to op, the error code and
// the HTTP status; an error without an answer (the connection, a
// timeout) says only that. Nothing else of err is kept: a service's
// message could echo the value written.
func writeError(op string, err error) error {
	if err == nil {
		return nil
	}
	s := op + " failed:"
	if code := awsapi.ErrorCode(err); code != "" {
		s += " " + code
	}
	var re *awshttp.ResponseError
	switch {
	case errors.As(err, &re):
		s += fmt.Sprintf(" (HTTP %d)", re.HTTPStatusCode())
	case awsapi.ErrorCode(err) != "":
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		s += " no answer (cancelled or timed out)"
	default:
		s += " no answer (the connection failed)"
	}
	return errors.New(s)
}

// written reports whether the rotation actionID wrote d, from metadata
// only (never GetSecretValue or GetParameter).
// It sets d.Ref to the secret's ARN (a secret named, or created, is
// written to its ARN).
func written(ctx context.Context, t Targets, d *destination, actionID string) (bool, error) {
	if d.param != "" {
		meta, err := describeParam(ctx, t.Params, d.param)
		if err != nil {
			return false, err
		}
		return meta != nil && aws.ToString(meta.Description) == paramDescription(actionID), nil
	}
	out, err := t.Secrets.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(d.secret)})
	var notFound *smtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if out.ARN != nil {
		d.Ref = aws.ToString(out.ARN)
	}
	_, ok := out.VersionIdsToStages[requestToken(actionID)]
	return ok, nil
}

// countKeys is how many access keys user has.
func countKeys(ctx context.Context, r Reader, user string) ([]iamtypes.AccessKeyMetadata, error) {
	var keys []iamtypes.AccessKeyMetadata
	p := iam.NewListAccessKeysPaginator(r, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the access keys of %s: %w", user, err)
		}
		keys = append(keys, out.AccessKeyMetadata...)
	}
	return keys, nil
}

// retireDay is the day a rotation on day disables the old key at the
// latest.
func (e *Executor) retireDay(day string) string { return state.AddDays(day, e.overlapDays()) }

// rotate carries out a rotate action whose old key the caller re-checked
// (it exists, created as the report saw it, and is active).
func (e *Executor) rotate(ctx context.Context, c IAM, a *plan.Action) error {
	a.After = a.Before
	keys, err := countKeys(ctx, c, a.User)
	if err != nil {
		return err
	}
	if len(keys) >= 2 {
		a.Status = plan.ActionSkipped
		a.Reason = "the user has two access keys: rotation needs a free slot; delete the unused one"
		return nil
	}
	if e.Targets == nil {
		return fmt.Errorf("rotate access key %s of %s in account %s: no Secrets Manager or SSM clients", a.KeyID, a.User, a.Account)
	}
	t, err := e.Targets(ctx, a.Account)
	if err != nil {
		return fmt.Errorf("rotate access key %s of %s in account %s: %w", a.KeyID, a.User, a.Account, err)
	}
	d, err := e.checkTarget(ctx, t, a.Account, a.User, a.Target)
	var no *refused
	if errors.As(err, &no) {
		a.Status, a.Reason = plan.ActionSkipped, "rotation blocked: "+no.reason
		return nil
	}
	if err != nil {
		return err
	}
	kc, ok := c.(KeyCreator)
	if !ok {
		return fmt.Errorf("rotate access key %s of %s in account %s: the client cannot create access keys", a.KeyID, a.User, a.Account)
	}
	// One attempt, never retried by the SDK: a retry of a create whose
	// answer was lost makes a second key, or answers LimitExceeded as if
	// none had been made.
	out, err := kc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(a.User)}, func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		err = fmt.Errorf("create a new access key for %s in account %s: %w", a.User, a.Account, err)
		if createRefused(err) {
			return err // refused (access denied, no such user): no key was created
		}
		// Not confirmed here: a key created without an answer is found by
		// the next run's reconcile (a key of the user created within the
		// lease after the record, never used), and deleted.
		return &unconfirmedError{write: err, read: errors.New("a key created without an answer is found by the next run")}
	}
	newID, secret := aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)
	if err := e.Audit.ProgressAction(ctx, a.ID, newID); err != nil {
		return e.dropNewKey(ctx, c, a, newID, fmt.Errorf("cannot record the new key %s before writing it: %w", newID, err))
	}
	werr := e.write(ctx, t, &d, a.User, a.ID, newID, secret)
	secret = ""
	var note string
	if werr != nil {
		werr = fmt.Errorf("write the new key %s to %s: %w", newID, d.Ref, werr)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ConfirmTimeout)
		made, err := written(rctx, t, &d, a.ID)
		cancel()
		switch {
		case err != nil:
			// The record stays planned with the new key: reconcile settles it.
			return &unconfirmedError{write: werr, read: err}
		case !made:
			return e.dropNewKey(ctx, c, a, newID, werr)
		}
		note = " (the write answered an error, but the target shows it written)"
		e.log().Warn("the secret write answered an error, but the target shows it written", "action", a.ID, "target", d.Ref, "error", werr)
	}
	a.Status, a.Done, a.Target = plan.ActionDone, config.ActionRotate, d.Ref
	a.Reason = fmt.Sprintf("rotated: new key %s written to %s; the old key %s is disabled when the new one is first used or on %s, then deleted after %d days",
		newID, d.Ref, a.KeyID, e.retireDay(e.day()), e.Grace) + note
	return nil
}

// createRefused reports whether CreateAccessKey's err is AWS's refusal of
// the one request (made without retries): a client fault answered, not
// a quota. LimitExceeded is not one: the request before it may have
// created the key that fills the user's slots. Anything else (a server
// fault, no answer) may have created a key.
func createRefused(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient && api.ErrorCode() != "LimitExceeded"
}

// dropNewKey deletes a rotation's new key after cause (the write failed):
// the action fails with cause, and with the delete's error when that
// failed too (the record then stays planned, for reconcile).
func (e *Executor) dropNewKey(ctx context.Context, c IAM, a *plan.Action, newID string, cause error) error {
	_, err := c.DeleteAccessKey(context.WithoutCancel(ctx), &iam.DeleteAccessKeyInput{UserName: aws.String(a.User), AccessKeyId: aws.String(newID)})
	var noSuch *iamtypes.NoSuchEntityException
	if err != nil && !errors.As(err, &noSuch) {
		return &unconfirmedError{write: cause, read: fmt.Errorf("delete the new key %s: %w", newID, err)}
	}
	return fmt.Errorf("%w; the new key %s was deleted", cause, newID)
}

// findOrphan is the key a dead rotation r made without recording it: the
// one key of the user, other than the old key, created within the lease
// after r.At and never used. left says why keys that might be it are left
// alone (used, or more than one): the admins check the user's keys.
func (e *Executor) findOrphan(ctx context.Context, c IAM, r *state.Action) (orphan, left string, err error) {
	keys, err := countKeys(ctx, c, r.User)
	if err != nil {
		return "", "", err
	}
	lease := cmp.Or(e.Lease, DefaultLease)
	from := r.At.Truncate(time.Second)
	var made []string
	for _, k := range keys {
		id, created := aws.ToString(k.AccessKeyId), aws.ToTime(k.CreateDate)
		if id != r.KeyID && !created.Before(from) && !created.After(r.At.Add(lease)) {
			made = append(made, id)
		}
	}
	switch {
	case len(made) == 0:
		return "", "", nil
	case len(made) > 1:
		return "", fmt.Sprintf("keys %s of %s were created within the lease after it: none is taken for its key; check the user's keys and delete the one nobody uses",
			strings.Join(made, ", "), r.User), nil
	}
	out, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(made[0])})
	if err != nil {
		return "", "", fmt.Errorf("read the last use of the key %s of %s: %w", made[0], r.User, err)
	}
	if out.AccessKeyLastUsed != nil && out.AccessKeyLastUsed.LastUsedDate != nil {
		return "", fmt.Sprintf("the key %s of %s, created within the lease after it, has been used, so it is left: check the user's keys",
			made[0], r.User), nil
	}
	return made[0], "", nil
}

// reconcileRotation settles a planned rotation of a dead run (design 4):
// a new key recorded and written → done; recorded, not written → the new
// key deleted, failed; none recorded → the one key of the user created
// within the lease after the record, other than the old one and never
// used, is the rotation's orphan (findOrphan): deleted, failed (any
// other is left, and the reason says to check the user's keys). ok is
// false when it cannot tell (left for later).
func (e *Executor) reconcileRotation(ctx context.Context, c IAM, r *state.Action) (o state.Outcome, ok bool, err error) {
	o = state.Outcome{Before: r.Before, After: r.Before, At: e.now()}
	if r.NewKeyID != "" {
		if e.Targets == nil {
			return o, false, errors.New("no Secrets Manager or SSM clients")
		}
		t, err := e.Targets(ctx, r.Account)
		if err != nil {
			return o, false, err
		}
		d := destination{Ref: r.SecretTarget, secret: r.SecretTarget}
		if path, isParam := strings.CutPrefix(r.SecretTarget, ssmPrefix); isParam {
			d = destination{Ref: r.SecretTarget, param: path}
		}
		made, err := written(ctx, t, &d, r.ID)
		if err != nil {
			return o, false, err
		}
		if made {
			o.SecretTarget = d.Ref
			o.Status = state.ActionDone
			o.Reason = fmt.Sprintf("rotated by run %s, which stopped before recording it: new key %s written to %s; confirmed by run %s",
				r.Run, r.NewKeyID, r.SecretTarget, e.RunID)
			return o, true, nil
		}
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(r.User), AccessKeyId: aws.String(r.NewKeyID)}); err != nil {
			var noSuch *iamtypes.NoSuchEntityException
			if !errors.As(err, &noSuch) {
				return o, false, fmt.Errorf("delete the new key %s of %s: %w", r.NewKeyID, r.User, err)
			}
		}
		o.Status = state.ActionFailed
		o.Reason = fmt.Sprintf("run %s was killed before the secret was written; the new key %s was deleted; it is planned again when due", r.Run, r.NewKeyID)
		return o, true, nil
	}
	orphan, left, err := e.findOrphan(ctx, c, r)
	if err != nil {
		return o, false, err
	}
	if orphan != "" {
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(r.User), AccessKeyId: aws.String(orphan)}); err != nil {
			return o, false, fmt.Errorf("delete the orphan key %s of %s: %w", orphan, r.User, err)
		}
	}
	o.Status = state.ActionFailed
	o.Reason = fmt.Sprintf("run %s stopped before recording a new key", r.Run)
	if orphan != "" {
		o.Reason += fmt.Sprintf("; the key it created (%s) was deleted", orphan)
	}
	if left != "" {
		o.Reason += "; " + left
	}
	o.Reason += "; it is planned again when due"
	return o, true, nil
}
