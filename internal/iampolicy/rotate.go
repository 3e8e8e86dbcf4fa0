package iampolicy

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/config"
)

// SecretSuffix is what a policy's Resource adds to a secret's name to
// match its ARN: Secrets Manager ends every secret's ARN with a hyphen and
// six random characters, and IAM authorizes a request on an existing secret
// against that full ARN (whether it was named by name or by ARN).
const SecretSuffix = "-??????"

// createTagCondition: a secret or parameter keywarden creates carries
// the tag keywarden:user (a value, whatever the user; IAM cannot compare
// it with the name), and no other tag.
func createTagCondition() Condition {
	return Condition{
		"StringLike":                {"aws:RequestTag/" + config.TagSecretUser: {"?*"}},
		"ForAllValues:StringEquals": {"aws:TagKeys": {config.TagSecretUser}},
	}
}

// kmsViaServices: the customer managed keys of the secrets and parameters
// keywarden writes, used only by Secrets Manager (GenerateDataKey for
// each new value) and by SSM (Encrypt for a SecureString parameter) on
// keywarden's behalf.
func kmsViaServices() Condition {
	return Condition{"StringLike": {"kms:ViaService": {"secretsmanager.*.amazonaws.com", "ssm.*.amazonaws.com"}}}
}

// SecretNamePattern is rotate.secret_name (its default when unset) with
// {user} as *: the names of the secrets and parameters a rotation may
// write.
func SecretNamePattern(cfg *config.Config) string {
	return strings.ReplaceAll(cmp.Or(cfg.Rotate.SecretName, config.DefaultSecretName), "{user}", "*")
}

// RotationStatements are what rotating access keys calls in accounts
// (where keywarden acts with the identity's credentials), beside the
// disable and delete that retire the old key:
//   - RotateAccessKeys: iam:CreateAccessKey, and the reads of the free
//     slot (ListAccessKeys) and of the new key's first use
//     (GetAccessKeyLastUsed), on the accounts' users;
//   - DescribeRotationSecrets: secretsmanager:DescribeSecret (the account,
//     the name, the keywarden:user tag, the KMS key, and whether a version
//     was written) and GetResourcePolicy (a secret with one is refused),
//     on the secrets named by the pattern in the accounts (the condition
//     aws:ResourceAccount), by their ARN (NAME-??????) and, for a secret
//     that does not exist, which IAM authorizes on the name the request
//     gives, by name (one pattern when the name ends in {user});
//   - WriteRotationSecrets: secretsmanager:PutSecretValue, on their ARNs;
//   - CreateRotationSecrets, with rotate.create_secret only:
//     secretsmanager:CreateSecret and TagResource (a secret created with
//     tags needs both), with the keywarden:user tag and no other;
//   - DescribeRotationParameters: ssm:DescribeParameters, which IAM
//     authorizes on "*" only (it reads metadata, never a value);
//   - WriteRotationParameters: ssm:PutParameter and ListTagsForResource on
//     the parameters named by the pattern;
//   - CreateRotationParameters, with rotate.create_secret only:
//     ssm:AddTagsToResource (a parameter created with tags), with the
//     keywarden:user tag and no other;
//   - DescribeRotationKeys: kms:DescribeKey on the keys of the accounts
//     (a target's key given by ID or alias, resolved to its account);
//   - EncryptRotationSecrets: kms:GenerateDataKey and kms:Encrypt on the
//     keys of the accounts, only through Secrets Manager or SSM: a
//     customer managed key of a secret or parameter (the AWS managed keys
//     need no grant). A key of another account is refused by the target
//     check, and this condition denies it besides.
func RotationStatements(cfg *config.Config, partition string, accounts []string) []Statement {
	if len(accounts) == 0 {
		return nil
	}
	pattern := SecretNamePattern(cfg)
	var users []string
	for _, a := range accounts {
		users = append(users, UsersARN(partition, a))
	}
	secret := fmt.Sprintf("arn:%s:secretsmanager:*:*:secret:%s", partition, pattern)
	param := fmt.Sprintf("arn:%s:ssm:*:*:parameter/%s", partition, strings.TrimPrefix(pattern, "/"))
	// The accounts by a condition: a template can give a list there,
	// where it could not repeat the name pattern in each account's ARN.
	inAccounts := func(more Condition) Condition {
		c := Condition{"StringEquals": {"aws:ResourceAccount": sortedUnique(accounts)}}
		for op, keys := range more {
			c[op] = keys
		}
		return c
	}
	st := func(sid string, actions, resources []string, cond Condition) Statement {
		return Statement{Sid: sid, Effect: "Allow", Action: sortedUnique(actions), Resource: sortedUnique(resources), Condition: cond}
	}
	out := []Statement{
		st("RotateAccessKeys", rotateActions, users, nil),
		st("DescribeRotationSecrets", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"}, describeSecrets(secret), inAccounts(nil)),
		st("WriteRotationSecrets", []string{"secretsmanager:PutSecretValue"}, []string{secret + SecretSuffix}, inAccounts(nil)),
	}
	if cfg.Rotate.CreateSecret {
		out = append(out, st("CreateRotationSecrets", []string{"secretsmanager:CreateSecret", "secretsmanager:TagResource"},
			[]string{secret + SecretSuffix}, inAccounts(createTagCondition())))
	}
	out = append(out,
		st("DescribeRotationParameters", []string{"ssm:DescribeParameters"}, []string{"*"}, nil),
		st("WriteRotationParameters", []string{"ssm:ListTagsForResource", "ssm:PutParameter"}, []string{param}, inAccounts(nil)),
	)
	if cfg.Rotate.CreateSecret {
		out = append(out, st("CreateRotationParameters", []string{"ssm:AddTagsToResource"}, []string{param}, inAccounts(createTagCondition())))
	}
	return append(out,
		st("DescribeRotationKeys", []string{"kms:DescribeKey"}, []string{"*"}, inAccounts(nil)),
		st("EncryptRotationSecrets", []string{"kms:Encrypt", "kms:GenerateDataKey"}, []string{"*"}, inAccounts(kmsViaServices())))
}

// describeSecrets are the resources of DescribeSecret for secret (an ARN
// pattern): by name, for a secret that does not exist, and by ARN
// (NAME-??????), unless the name ends in a wildcard, which matches that
// too.
func describeSecrets(secret string) []string {
	if strings.HasSuffix(secret, "*") {
		return []string{secret}
	}
	return []string{secret, secret + SecretSuffix}
}
