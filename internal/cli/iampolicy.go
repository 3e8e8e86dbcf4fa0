package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// IAMPolicyOptions are the parsed flags of `keywarden iam-policy`.
type IAMPolicyOptions struct {
	ConfigFile  string
	Role        string
	SecurityHub bool
	ConfigSSM   string
	ConfigS3    string
	KMSKeys     []string
	Partition   string
	// RunnerAccount is the account keywarden runs in (--runner-account).
	RunnerAccount string
	Format        string
	// Guardrail prints the SCP guardrail (--guardrail), GuardrailBoundary
	// the permissions-boundary variant (--guardrail-boundary);
	// GuardrailAdmins are their --guardrail-admin principals.
	Guardrail         bool
	GuardrailBoundary bool
	GuardrailAdmins   []string
}

// NewCmdIAMPolicy builds `keywarden iam-policy`. runF replaces the
// behaviour in tests.
func NewCmdIAMPolicy(f *Factory, runF func(context.Context, *IAMPolicyOptions) error) *cobra.Command {
	o := &IAMPolicyOptions{}
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policy this config needs",
		Long: `iam-policy prints the IAM policy document (JSON) keywarden needs to run with the
config: read-only IAM for the scan; the write actions (iam:UpdateAccessKey,
iam:DeleteAccessKey, iam:DeleteLoginProfile) and their re-checks only for the
remediation the config's rules can take, and only on the users of the accounts
where keywarden can act (enforce.allowed_accounts that the config reaches: none
when it is empty); ses:SendEmail on the notify.from identity, sns:Publish on the
topic, ssm:GetParameter on the named secrets, dynamodb on the state table,
sts:AssumeRole on the listed roles, or on the member role in accounts of the
caller's own organization. No wildcard actions. ARNs are in --partition, else
accounts.partition, else aws. It is the truth the Terraform module and
CloudFormation templates follow.

--role runner (default) is the identity keywarden runs as (a Lambda execution role
or a cron job's role); --role member is the role it assumes in each member account
(IAM only). --runner-account names the account the runner is in, when it is known:
the runner then writes only there (if it is allowed), and the member role's
writes leave it out.

--guardrail prints a service control policy instead (--guardrail-boundary: a
permissions boundary) that stops users from exempting themselves: it denies
iam:TagUser, iam:UntagUser and iam:CreateUser with any tag key the config reads
(classes, exemptions, notify.users.email_tags), changes to the members of the
groups classes and exemptions match, and changes to keywarden's member role —
to every principal but the --guardrail-admin ones. The SCP is checked against
AWS's syntax and its 5,120-character limit. See docs/enforcement.md#threat-model.`,
		Example: `  keywarden iam-policy --config keywarden.yaml > keywarden-policy.json
  keywarden iam-policy --config keywarden.yaml --role member
  keywarden iam-policy --config keywarden.yaml --config-ssm /keywarden/config --format actions
  keywarden iam-policy --config keywarden.yaml --partition aws-us-gov --runner-account 111111111111
  keywarden iam-policy --config keywarden.yaml --guardrail --guardrail-admin 'arn:aws:iam::*:role/SecurityAdmin' > keywarden-scp.json
  keywarden iam-policy --config keywarden.yaml --guardrail-boundary --guardrail-admin 'arn:aws:iam::*:role/SecurityAdmin'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return iamPolicyRun(f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.ConfigFile, "config", "", "config file (default: ./keywarden.yaml if present, else built-in defaults)")
	fl.StringVar(&o.Role, "role", iampolicy.RoleRunner, "whose policy: runner (keywarden's own identity) or member (the role assumed in member accounts)")
	fl.BoolVar(&o.SecurityHub, "security-hub", false, "also grant what scan --security-hub needs")
	fl.StringVar(&o.ConfigSSM, "config-ssm", "", "the SSM parameter the Lambda reads its config from (KEYWARDEN_CONFIG_SSM)")
	fl.StringVar(&o.ConfigS3, "config-s3", "", "the s3://BUCKET/KEY the Lambda reads its config from (KEYWARDEN_CONFIG_S3)")
	fl.StringSliceVar(&o.KMSKeys, "kms-key", nil, "ARN of a customer managed KMS key that encrypts the SSM parameters (repeatable)")
	fl.StringVar(&o.Partition, "partition", "", "AWS partition of the ARNs: aws, aws-us-gov or aws-cn (default: accounts.partition, else aws)")
	fl.StringVar(&o.RunnerAccount, "runner-account", "", "the account keywarden runs in, when known: the runner's writes name it alone")
	fl.StringVar(&o.Format, "format", "json", "json (the policy document) or actions (one action per line)")
	fl.BoolVar(&o.Guardrail, "guardrail", false, "print the guardrail SCP instead: no self-exemption by tags, groups or the member role")
	fl.BoolVar(&o.GuardrailBoundary, "guardrail-boundary", false, "print the guardrail as a permissions boundary instead")
	fl.StringArrayVar(&o.GuardrailAdmins, "guardrail-admin", nil, "principal ARN the guardrail leaves free (repeatable; wildcards allowed)")
	return cmd
}

func iamPolicyRun(f *Factory, o *IAMPolicyOptions) error {
	cfg, err := loadConfig(f, o.ConfigFile)
	if err != nil {
		return err
	}
	if o.Guardrail || o.GuardrailBoundary {
		return guardrailRun(f, cfg, o)
	}
	if len(o.GuardrailAdmins) > 0 {
		return usageError(fmt.Errorf("--guardrail-admin needs --guardrail"))
	}
	doc, err := iampolicy.For(cfg, iampolicy.Options{Role: o.Role, SecurityHub: o.SecurityHub, ConfigSSM: o.ConfigSSM,
		ConfigS3: o.ConfigS3, KMSKeyARNs: o.KMSKeys, Partition: o.Partition, RunnerAccount: o.RunnerAccount})
	if err != nil {
		return usageError(err)
	}
	return writePolicy(f, doc, o.Format, doc.JSON)
}

// guardrailRun prints the guardrail (--guardrail, --guardrail-boundary).
func guardrailRun(f *Factory, cfg *config.Config, o *IAMPolicyOptions) error {
	kind := iampolicy.GuardrailSCP
	if o.GuardrailBoundary {
		kind = iampolicy.GuardrailBoundary
	}
	doc, err := iampolicy.Guardrail(cfg, iampolicy.GuardrailOptions{Kind: kind, Admins: o.GuardrailAdmins, Partition: o.Partition})
	if err != nil {
		return usageError(err)
	}
	return writePolicy(f, doc, o.Format, func() ([]byte, error) { return iampolicy.PrintGuardrail(doc, kind) })
}

// writePolicy prints doc in format: json, as printJSON prints it, or
// actions, one a line.
func writePolicy(f *Factory, doc *iampolicy.Document, format string, printJSON func() ([]byte, error)) error {
	switch strings.ToLower(format) {
	case "json":
		b, err := printJSON()
		if err != nil {
			return err
		}
		_, err = f.Out.Write(b)
		return err
	case "actions":
		_, err := fmt.Fprintln(f.Out, strings.Join(doc.Actions(), "\n"))
		return err
	}
	return usageError(fmt.Errorf("--format %q: want json or actions", format))
}
