package iampolicy

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/state"
)

// Version is the IAM policy language version.
const Version = "2012-10-17"

// Roles a policy is for.
const (
	// RoleRunner is the identity keywarden runs as: the Lambda execution
	// role, or the user or role of a cron job. It reads (and, when the
	// policy can act, changes) IAM in its own account, assumes the member
	// role in the other accounts, and reaches notify and state.
	RoleRunner = "runner"
	// RoleMember is the role keywarden assumes in each member account of
	// accounts.organization or accounts.list: IAM only (and, with a rotate
	// stage, the secrets and parameters a rotation writes there).
	RoleMember = "member"
)

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement: Allow in the policies keywarden needs, Deny
// in its guardrails.
type Statement struct {
	Sid       string    `json:"Sid"`
	Effect    string    `json:"Effect"`
	Action    []string  `json:"Action"`
	Resource  []string  `json:"Resource"`
	Condition Condition `json:"Condition,omitempty"`
}

// Condition maps a condition operator (StringEquals, ArnNotLike,
// ForAnyValue:StringEqualsIgnoreCase…) to condition keys and their values.
type Condition map[string]map[string][]string

// Options say what the configuration file does not: how keywarden is run.
type Options struct {
	// Role is RoleRunner (default) or RoleMember.
	Role string
	// SecurityHub grants what scan --security-hub needs.
	SecurityHub bool
	// ConfigSSM and ConfigS3 name where the Lambda reads its config from
	// (KEYWARDEN_CONFIG_SSM, KEYWARDEN_CONFIG_S3: s3://BUCKET/KEY).
	ConfigSSM string
	ConfigS3  string
	// KMSKeyARNs are customer managed keys that encrypt the SSM
	// SecureString parameters (kms:Decrypt); the AWS managed aws/ssm key
	// needs none.
	KMSKeyARNs []string
	// Partition is the AWS partition of every ARN: aws, aws-us-gov or
	// aws-cn; "" takes accounts.partition, else aws. Both set, they must
	// agree.
	Partition string
	// RunnerAccount is the account keywarden runs in, when it is known:
	// the runner's write statements then name that account alone (when
	// it is allowed), and the member role's leave it out, since keywarden
	// acts there with its own credentials.
	RunnerAccount string
}

// The IAM actions each feature needs. Read-only ones are granted for any
// scan; the write actions only for the remediation the policy can take.
var (
	scanActions = []string{
		"iam:GenerateCredentialReport",
		"iam:GetCredentialReport",
		"iam:GetAccountAuthorizationDetails",
		"iam:GetAccountPasswordPolicy",
		"iam:ListAccountAliases",
		"iam:ListAccessKeys",
		"iam:GetAccountSummary",
		// Also the re-checks before a certificate or a service credential
		// is changed (per user).
		"iam:ListSigningCertificates",
		"iam:ListServiceSpecificCredentials",
	}
	// sshKeyActions: only the opt-in ssh_key_age rule reads SSH keys.
	sshKeyActions = []string{"iam:ListSSHPublicKeys"}
	// keyRecheck is the re-check before an access key is changed.
	keyRecheck      = []string{"iam:GetAccessKeyLastUsed"}
	passwordRecheck = []string{"iam:GetLoginProfile", "iam:GetUser"}
	disableActions  = []string{"iam:UpdateAccessKey"} // disable, and undo
	deleteActions   = []string{"iam:DeleteAccessKey"}
	removePwActions = []string{"iam:DeleteLoginProfile"}
	// Signing certificates and service-specific credentials: a disable
	// (and undo's re-enable), a delete.
	certDisableActions    = []string{"iam:UpdateSigningCertificate"}
	certDeleteActions     = []string{"iam:DeleteSigningCertificate"}
	serviceDisableActions = []string{"iam:UpdateServiceSpecificCredential"}
	serviceDeleteActions  = []string{"iam:DeleteServiceSpecificCredential"}
	// rotateActions: a rotation creates the new key, after the re-check
	// and the free-slot check, and reads when the new key is first used;
	// it retires the old one with the disable and delete actions above.
	rotateActions     = []string{"iam:CreateAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys"}
	orgActions        = []string{"organizations:ListAccounts"}
	orgUnitActions    = []string{"organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent"}
	securityHubAction = []string{"securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings", "securityhub:GetFindings"}
	// sesActions: SES authorizes an SES v2 SendEmail with raw MIME content
	// (keywarden's multipart messages) as ses:SendRawEmail, and a simple
	// one as ses:SendEmail; AWS's own CDK grant for sending gives both.
	sesActions = []string{"ses:SendEmail", "ses:SendRawEmail"}
	// DynamoDBActions are what the DynamoDB state store's calls need
	// (internal/state/dynamodb.Operations; its transactions are authorized
	// by their items' PutItem and UpdateItem).
	DynamoDBActions = []string{
		"dynamodb:DeleteItem",
		"dynamodb:DescribeTable",
		"dynamodb:GetItem",
		"dynamodb:PutItem",
		"dynamodb:Query",
		"dynamodb:UpdateItem",
	}
)

// NoPermission lists the API operations keywarden calls that IAM does not
// authorize (they need no permission).
var NoPermission = []string{"sts:GetCallerIdentity"}

// For returns the least-privilege policy that cfg needs for role. It never
// grants a wildcard action; resources are as narrow as the config allows
// (account and region are wildcards where the config does not name them).
// The write actions and their re-checks are granted only on the users of
// the accounts where keywarden can act (Reach), and only for the changes
// the rules can call for.
func For(cfg *config.Config, o Options) (*Document, error) {
	if cfg == nil {
		cfg = config.Default()
	}
	role := cmp.Or(o.Role, RoleRunner)
	if role != RoleRunner && role != RoleMember {
		return nil, fmt.Errorf("role %q: want %s or %s", o.Role, RoleRunner, RoleMember)
	}
	part, err := PartitionOf(cfg, o.Partition)
	if err != nil {
		return nil, err
	}
	if role == RoleMember && !HasMemberRole(cfg) {
		return nil, errors.New("role member: the config reaches no account through a role (accounts.organization, or accounts.list with role_arn), so there is no member role")
	}
	if o.RunnerAccount != "" && !accountIDRE.MatchString(o.RunnerAccount) {
		return nil, fmt.Errorf("runner account %q: want a 12-digit account ID", o.RunnerAccount)
	}
	for _, k := range o.KMSKeyARNs {
		if got := config.ARNPartition(k); got != part {
			return nil, fmt.Errorf("KMS key %q: want an ARN in partition %s", k, part)
		}
	}
	d := &Document{Version: Version}
	add := func(sid string, actions, resources []string, cond Condition) {
		if len(actions) == 0 || len(resources) == 0 {
			return
		}
		d.Statement = append(d.Statement, Statement{Sid: sid, Effect: "Allow", Action: sortedUnique(actions),
			Resource: sortedUnique(resources), Condition: cond})
	}

	// IAM in the account the identity lives in: the runner's own account
	// (scanned with its own credentials), or each member account.
	reads := scanActions
	if r := cfg.Rules.SSHKeyAge; r != nil && (r.Enabled == nil || *r.Enabled) {
		reads = append(slices.Clone(reads), sshKeyActions...)
	}
	add("ReadIAMCredentials", reads, []string{"*"}, nil)
	rem := RemediationOf(cfg)
	var recheck, write []string
	if rem.Rotate {
		// The old key is retired by a disable, then a delete, whatever
		// the class's other stages; a new key whose secret could not be
		// written is deleted at once.
		rem.Disable, rem.Delete = true, true
	}
	if rem.Disable || rem.Delete {
		recheck = append(recheck, keyRecheck...)
		write = append(write, disableActions...) // a delete stage disables an active key first
	}
	if rem.Delete {
		write = append(write, deleteActions...)
	}
	if rem.RemovePassword {
		recheck = append(recheck, passwordRecheck...)
		write = append(write, removePwActions...)
	}
	// A certificate's or a service credential's re-check is a read of the
	// scan's (ListSigningCertificates, ListServiceSpecificCredentials); a
	// delete stage disables an active one first. Each kind has its own
	// statement, so that a template can grant each by a condition.
	var certWrite, serviceWrite []string
	if rem.CertDisable || rem.CertDelete {
		certWrite = append(certWrite, certDisableActions...)
	}
	if rem.CertDelete {
		certWrite = append(certWrite, certDeleteActions...)
	}
	if rem.ServiceDisable || rem.ServiceDelete {
		serviceWrite = append(serviceWrite, serviceDisableActions...)
	}
	if rem.ServiceDelete {
		serviceWrite = append(serviceWrite, serviceDeleteActions...)
	}
	own, member := Reach(cfg, o.RunnerAccount)
	acts := own
	if role == RoleMember {
		acts = member
	}
	var users []string
	for _, a := range acts {
		users = append(users, UsersARN(part, a))
	}
	add("RecheckCredentials", recheck, users, nil)
	add("RemediateCredentials", write, users, nil)
	add("RemediateSigningCertificates", certWrite, users, nil)
	add("RemediateServiceCredentials", serviceWrite, users, nil)
	if rem.Rotate {
		for _, st := range RotationStatements(cfg, part, acts) {
			add(st.Sid, st.Action, st.Resource, st.Condition)
		}
	}
	if role == RoleMember {
		return d, nil
	}
	// The emergency stop, read with the runner's credentials before each
	// action it may take.
	writes := len(write) + len(certWrite) + len(serviceWrite)
	if stop := cfg.Enforce.StopParameter; stop != "" && writes > 0 && len(own)+len(member) > 0 {
		add("ReadStopParameter", []string{"ssm:GetParameter"}, []string{ssmParameterARN(part, stop)}, nil)
	}

	// Other accounts: organization discovery and the member role.
	if org := cfg.Accounts.Organization; org != nil {
		// The whole organization is listed with ListAccounts; OUs are
		// walked with the parent listings instead.
		if len(org.OUs) == 0 {
			add("ListOrganizationAccounts", orgActions, []string{"*"}, nil)
		} else {
			add("ListOrganizationalUnits", orgUnitActions, []string{"*"}, nil)
		}
		// The role in any account of the caller's own organization: IAM
		// compares the organization of the role's account with the
		// caller's.
		add("AssumeMemberRole", []string{"sts:AssumeRole"}, []string{fmt.Sprintf("arn:%s:iam::*:role/%s", part, org.RoleName)},
			Condition{"StringEquals": {"aws:ResourceOrgID": {"${aws:PrincipalOrgID}"}}})
	}
	var roles []string
	for _, t := range cfg.Accounts.List {
		if t.RoleARN != "" {
			roles = append(roles, t.RoleARN)
		}
	}
	add("AssumeListedRoles", []string{"sts:AssumeRole"}, roles, nil)

	// Notifications.
	n := cfg.Notify
	mailVia := cmp.Or(n.Users.Via, "outbox")
	if mailVia == "ses" {
		res, err := sesResources(part, n)
		if err != nil {
			return nil, err
		}
		add("SendMailWithSES", sesActions, res, nil)
	}
	if n.Admins.SNSTopicARN != "" {
		add("PublishDigest", []string{"sns:Publish"}, []string{n.Admins.SNSTopicARN}, nil)
	}
	// SSM parameters read: the SMTP password (only when SMTP logs in),
	// the webhook URLs, and the config itself.
	names := []string{n.Admins.SlackWebhookSSM, n.Admins.WebhookURLSSM, o.ConfigSSM}
	if mailVia == "smtp" && n.SMTP.Username != "" {
		names = append(names, n.SMTP.PasswordSSM)
	}
	var params []string
	for _, name := range names {
		if name != "" {
			params = append(params, ssmParameterARN(part, name))
		}
	}
	add("ReadSecretParameters", []string{"ssm:GetParameter"}, params, nil)
	if len(params) > 0 {
		add("DecryptSecretParameters", []string{"kms:Decrypt"}, o.KMSKeyARNs, nil)
	}

	// Configuration from S3.
	if o.ConfigS3 != "" {
		bucket, key, err := awsapi.ParseS3URL(o.ConfigS3)
		if err != nil {
			return nil, fmt.Errorf("config S3 URI %w", err)
		}
		add("ReadConfigObject", []string{"s3:GetObject"}, []string{fmt.Sprintf("arn:%s:s3:::%s/%s", part, bucket, key)}, nil)
	}

	// State.
	if u, err := state.ParseURL(cfg.State.URL); err == nil && u.Scheme == state.SchemeDynamoDB {
		arn := fmt.Sprintf("arn:%s:dynamodb:*:*:table/%s", part, u.Path)
		add("KeepStateInDynamoDB", DynamoDBActions, []string{arn}, nil)
		// Only a Query reads an index.
		add("QueryStateIndex", []string{"dynamodb:Query"}, []string{arn + "/index/*"}, nil)
	}

	if o.SecurityHub {
		add("ImportSecurityHubFindings", securityHubAction, []string{"*"}, nil)
	}
	return d, nil
}

var accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// HasMemberRole reports whether cfg reaches some account through a role:
// accounts.organization, or an accounts.list entry with a role_arn.
func HasMemberRole(cfg *config.Config) bool {
	return cfg.Accounts.Organization != nil || slices.ContainsFunc(cfg.Accounts.List, func(t config.AccountTarget) bool { return t.RoleARN != "" })
}

// PartitionOf is the partition of the policy: flag (--partition) or
// accounts.partition, which must agree when both are set; aws when
// neither is.
func PartitionOf(cfg *config.Config, flag string) (string, error) {
	if flag != "" && !slices.Contains(config.Partitions, flag) {
		return "", fmt.Errorf("partition %q: want aws, aws-us-gov or aws-cn", flag)
	}
	conf := cfg.Accounts.Partition
	if flag != "" && conf != "" && flag != conf {
		return "", fmt.Errorf("partition %s contradicts the config's accounts.partition %s", flag, conf)
	}
	return cmp.Or(flag, conf, config.PartitionAWS), nil
}

// UsersARN is the pattern of every IAM user of account.
func UsersARN(partition, account string) string {
	return fmt.Sprintf("arn:%s:iam::%s:user/*", partition, account)
}

// Reach lists the accounts where keywarden can change credentials:
// enforce.allowed_accounts that the config selects, split by how keywarden
// reaches them — own, with the runner's own credentials (the caller's
// account without accounts config, or in an organization; accounts.list
// entries without role_arn), and member, through the member role
// (organization accounts other than the runner's; accounts.list entries
// with role_arn). runner, when known, is the runner's account: own is then
// at most that account, and member leaves it out in an organization.
// Without runner, an organization's allowed accounts are in both lists:
// any of them may be the caller's.
func Reach(cfg *config.Config, runner string) (own, member []string) {
	allowed := sortedUnique(cfg.Enforce.AllowedAccounts)
	isRunner := func(a string) bool { return runner == "" || a == runner }
	switch a := cfg.Accounts; {
	case a.Organization != nil:
		for _, id := range allowed {
			switch {
			case slices.Contains(a.Organization.Exclude, id):
			case runner == "":
				own, member = append(own, id), append(member, id)
			case id == runner:
				own = append(own, id)
			default:
				member = append(member, id)
			}
		}
	case len(a.List) > 0:
		for _, t := range a.List {
			switch {
			case !slices.Contains(allowed, t.ID):
			case t.RoleARN != "":
				member = append(member, t.ID)
			case isRunner(t.ID):
				own = append(own, t.ID)
			}
		}
	default:
		for _, id := range allowed {
			if isRunner(id) {
				own = append(own, id)
			}
		}
	}
	return sortedUnique(own), sortedUnique(member)
}

// Remediation is what a policy's rules can change: access keys
// (Disable, Delete), console passwords, signing certificates (Cert…) and
// service-specific credentials (Service…).
type Remediation struct {
	Disable, Delete, RemovePassword bool
	// Rotate: an access_key_age stage rotates (a new key written to the
	// user's secret; the old one disabled, then deleted).
	Rotate                        bool
	CertDisable, CertDelete       bool
	ServiceDisable, ServiceDelete bool
}

// stagesAct reports whether any class's stages disable, any delete, and
// any rotate.
func stagesAct(byClass map[string][]config.Stage) (disable, del, rotate bool) {
	for _, stages := range byClass {
		for _, s := range stages {
			switch s.Action {
			case config.ActionDisable:
				disable = true
			case config.ActionDelete:
				del = true
			case config.ActionRotate:
				rotate = true
			}
		}
	}
	return disable, del, rotate
}

// RemediationOf reports which changes cfg's rules can call for, whether or
// not enforce.mode applies them (--apply can).
func RemediationOf(cfg *config.Config) Remediation {
	var r Remediation
	r.Disable, r.Delete, r.Rotate = stagesAct(cfg.Rules.AccessKeyAge)
	// A class without its own stages for these takes its access keys'
	// (a rotate stage is an access key's only).
	r.CertDisable, r.CertDelete, _ = stagesAct(cfg.StagesByClass(config.RuleSigningCertAge))
	r.ServiceDisable, r.ServiceDelete, _ = stagesAct(cfg.StagesByClass(config.RuleServiceCredentialAge))
	if u := cfg.Rules.AccessKeyUnused; u != nil && (u.Enabled == nil || *u.Enabled) && u.Action == config.ActionDisable {
		r.Disable = true
	}
	if u := cfg.Rules.PasswordUnused; u != nil && (u.Enabled == nil || *u.Enabled) && u.Action == config.ActionRemovePassword {
		r.RemovePassword = true
	}
	return r
}

// sesResources are the SES identities keywarden sends from: the address of
// notify.from and its domain (either may be the verified identity), and
// the configuration set.
func sesResources(partition string, n config.Notify) ([]string, error) {
	if n.From == "" {
		return nil, fmt.Errorf("notify.from is required for notify.users.via: ses")
	}
	a, err := mail.ParseAddress(n.From)
	if err != nil {
		return nil, fmt.Errorf("notify.from %q: %w", n.From, err)
	}
	region := cmp.Or(n.SES.Region, "*")
	domain := a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	res := []string{
		fmt.Sprintf("arn:%s:ses:%s:*:identity/%s", partition, region, a.Address),
		fmt.Sprintf("arn:%s:ses:%s:*:identity/%s", partition, region, domain),
	}
	if n.SES.ConfigurationSet != "" {
		res = append(res, fmt.Sprintf("arn:%s:ses:%s:*:configuration-set/%s", partition, region, n.SES.ConfigurationSet))
	}
	return res, nil
}

// ssmParameterARN is the ARN of a parameter name ("/keywarden/slack" or
// "keywarden-slack").
func ssmParameterARN(partition, name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	return fmt.Sprintf("arn:%s:ssm:*:*:parameter/%s", partition, strings.TrimPrefix(name, "/"))
}

// Actions lists every action the document grants, sorted.
func (d *Document) Actions() []string {
	var out []string
	for _, s := range d.Statement {
		out = append(out, s.Action...)
	}
	return sortedUnique(out)
}

// JSON is the document, indented.
func (d *Document) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// authorizedBy lists, for the operations IAM does not authorize by an
// action of their own name, the actions that do: any one of AnyOf, or all
// of AllOf.
var authorizedBy = map[string]struct{ AnyOf, AllOf []string }{
	// SES v2 SendEmail with raw content is authorized as ses:SendRawEmail
	// (simple content as ses:SendEmail).
	"ses:SendEmail": {AnyOf: sesActions},
	// A transaction is authorized by its items' actions: keywarden's put
	// and update items.
	"dynamodb:TransactWriteItems": {AllOf: []string{"dynamodb:PutItem", "dynamodb:UpdateItem"}},
}

// Covers reports whether d grants what the API operation op
// ("service:Operation", as a request is signed) needs, and the actions
// that do. Operations in NoPermission are covered by nothing.
func (d *Document) Covers(op string) (bool, []string) {
	if slices.Contains(NoPermission, op) {
		return true, nil
	}
	granted := d.Actions()
	by, ok := authorizedBy[op]
	if !ok {
		by.AnyOf = []string{op}
	}
	if len(by.AllOf) > 0 {
		for _, a := range by.AllOf {
			if !slices.Contains(granted, a) {
				return false, nil
			}
		}
		return true, by.AllOf
	}
	var have []string
	for _, a := range by.AnyOf {
		if slices.Contains(granted, a) {
			have = append(have, a)
		}
	}
	return len(have) > 0, have
}
