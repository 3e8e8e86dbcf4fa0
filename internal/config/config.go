package config

import (
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/state"
)

// CurrentVersion is the only config version this build understands.
const CurrentVersion = 1

// Actions a stage or rule can take.
const (
	ActionNotify         = "notify"
	ActionDisable        = "disable"
	ActionDelete         = "delete"
	ActionRemovePassword = "remove_password"
	// ActionRotate, an access_key_age stage's action: a new key written to
	// the user's secret (Config.Rotate), the old one retired after the
	// overlap.
	ActionRotate = "rotate"
)

// Severities, lowest first. Info is informational: reported, counted in
// the digest, never mailed to an owner.
const (
	SeverityInfo     = "info"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Rule names, as they appear in config and in findings.
const (
	RuleAccessKeyAge    = "access_key_age"
	RuleAccessKeyUnused = "access_key_unused"
	RulePasswordExpiry  = "password_expiry"
	RulePasswordUnused  = "password_unused"
	RuleMFAMissing      = "mfa_missing"
	RuleRootAccessKey   = "root_access_key"
	// RuleAccessKeyUnknownAge: an active access key whose creation date is
	// missing or in the future, so no age rule can judge it.
	RuleAccessKeyUnknownAge = "access_key_unknown_age"

	// Signing certificates: stages by class, like access_key_age.
	RuleSigningCertAge = "signing_certificate_age"
	// Root's active signing certificates (no CIS control).
	RuleRootSigningCert = "root_signing_certificate"
	// Service-specific credentials (CodeCommit, Keyspaces, Bedrock API
	// keys): stages by class, and days left before an expiration.
	RuleServiceCredentialAge    = "service_credential_age"
	RuleServiceCredentialExpiry = "service_credential_expiry"
	// SSH public keys (CodeCommit), opt-in: ListSSHPublicKeys is per user.
	RuleSSHKeyAge = "ssh_key_age"
	// CIS controls.
	RuleRootRecentUse    = "root_recent_use"     // CIS 1.7
	RulePasswordPolicy   = "password_policy"     // CIS 1.8, 1.9
	RuleAccessKeyAtSetup = "access_key_at_setup" // CIS 1.11
	RuleTwoActiveKeys    = "two_active_keys"     // CIS 1.13
	// Without a CIS control.
	RuleConsoleAndKeys = "console_and_keys" // informational
	RuleDormantUser    = "dormant_user"
)

// MaxDays bounds every day count of the config (stages, after,
// warn_before, max_age, remind_every, grace_after_disable): 100 years.
const MaxDays = 36500

// DefaultClass is the class of every user that no class matches.
const DefaultClass = "human"

// Config is the whole keywarden configuration file.
type Config struct {
	Version    int         `yaml:"version" json:"version"`
	Accounts   Accounts    `yaml:"accounts,omitempty" json:"accounts,omitempty"`
	Classes    []Class     `yaml:"classes,omitempty" json:"classes,omitempty"`
	Rules      Rules       `yaml:"rules,omitempty" json:"rules,omitempty"`
	Exemptions []Exemption `yaml:"exemptions,omitempty" json:"exemptions,omitempty"`
	Notify     Notify      `yaml:"notify,omitempty" json:"notify,omitempty"`
	Enforce    Enforce     `yaml:"enforce,omitempty" json:"enforce,omitempty"`
	State      State       `yaml:"state,omitempty" json:"state,omitempty"`
	// Rotate says where a rotate stage writes a user's new access key.
	Rotate Rotate `yaml:"rotate,omitempty" json:"rotate,omitempty"`
}

// TagSecret is the user tag that names where a rotation writes its new
// key: a Secrets Manager secret name or ARN, or ssm:/path for an SSM
// SecureString parameter. TagSecretUser is the tag the secret itself must
// carry, equal to the user's name, before keywarden writes to it.
const (
	TagSecret     = "keywarden:secret"
	TagSecretUser = "keywarden:user"
)

// DefaultSecretName is rotate.secret_name's default; {user} is the IAM
// user's name.
const DefaultSecretName = "keywarden/{user}"

// DefaultOverlapDays is rotate.overlap_days's default.
const DefaultOverlapDays = 7

// Rotate configures the rotate action.
type Rotate struct {
	// SecretName is the pattern a target's name must match ({user}: the
	// user's name), for a Secrets Manager secret and an SSM parameter
	// (ssm:/ + the pattern) alike.
	SecretName string `yaml:"secret_name,omitempty" json:"secret_name,omitempty"`
	// OverlapDays: the old key stays active until the new one is used or
	// this many days have passed.
	OverlapDays int `yaml:"overlap_days,omitempty" json:"overlap_days,omitempty"`
	// CreateSecret lets a rotation create a target that does not exist
	// (tagged keywarden:user with the user's name).
	CreateSecret bool `yaml:"create_secret,omitempty" json:"create_secret,omitempty"`
	// Targets map a class or a user to a target, where the user has no
	// keywarden:secret tag (first match wins: user, then class).
	Targets []RotateTarget `yaml:"targets,omitempty" json:"targets,omitempty"`
}

// RotateTarget is one rotate.targets entry: Class or User, and Secret (a
// name, ARN or ssm:/path; {user} is replaced by the user's name).
type RotateTarget struct {
	Class  string `yaml:"class,omitempty" json:"class,omitempty"`
	User   string `yaml:"user,omitempty" json:"user,omitempty"`
	Secret string `yaml:"secret" json:"secret"`
}

// Accounts says which accounts to scan. With neither Organization nor List
// set, keywarden scans the caller's own account.
type Accounts struct {
	Organization *Organization   `yaml:"organization,omitempty" json:"organization,omitempty"`
	List         []AccountTarget `yaml:"list,omitempty" json:"list,omitempty"`
	// Parallel is how many accounts are scanned at once (default 8).
	Parallel int `yaml:"parallel,omitempty" json:"parallel,omitempty"`
	// SessionName is the sts:AssumeRole session name, which CloudTrail in
	// each member account records (default "keywarden").
	SessionName string `yaml:"session_name,omitempty" json:"session_name,omitempty"`
	// MaxAttempts bounds the SDK's attempts per AWS call, throttling
	// retries included (standard mode; default 8). An account whose calls
	// are still throttled after them is reported as failed.
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
	// Partition is the AWS partition of the accounts: aws, aws-us-gov or
	// aws-cn. "" takes the caller's at run time (and aws in iam-policy);
	// set, the role and topic ARNs must be in it, and a caller of another
	// partition is refused.
	Partition string `yaml:"partition,omitempty" json:"partition,omitempty"`
}

// Organization scans every ACTIVE account of the caller's AWS Organization.
type Organization struct {
	RoleName string   `yaml:"role_name" json:"role_name"`
	Exclude  []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// OUs limits the scan to these organizational units (and their children).
	OUs []string `yaml:"ous,omitempty" json:"ous,omitempty"`
}

// AccountTarget is one explicitly listed account.
type AccountTarget struct {
	ID         string `yaml:"id" json:"id"`
	RoleARN    string `yaml:"role_arn,omitempty" json:"role_arn,omitempty"`
	ExternalID string `yaml:"external_id,omitempty" json:"external_id,omitempty"`
}

// Class is a named group of users with its own access-key tiers.
type Class struct {
	Name  string `yaml:"name" json:"name"`
	Match Match  `yaml:"match" json:"match"`
}

// Match selects users. Every field that is set must match (AND); within a
// field, any value matches (OR), except Tags where every pair must match.
type Match struct {
	// Tags maps a tag key to a value; "*" matches any value of that key.
	Tags map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// PathPrefix matches users whose IAM path starts with it.
	PathPrefix string `yaml:"path_prefix,omitempty" json:"path_prefix,omitempty"`
	// Groups matches users in any of these IAM groups.
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`
	// Names are shell-style globs (path.Match) on the user name.
	Names []string `yaml:"names,omitempty" json:"names,omitempty"`
}

// Rules holds the rules. The class-stage rules (access_key_age,
// signing_certificate_age, service_credential_age) are switched off for a
// class by an empty list; every other rule by enabled: false, except
// ssh_key_age, which is off unless present.
type Rules struct {
	// AccessKeyAge maps a class name to its stages. A class without an entry
	// uses the "human" stages.
	AccessKeyAge    map[string][]Stage `yaml:"access_key_age,omitempty" json:"access_key_age,omitempty"`
	AccessKeyUnused *UnusedRule        `yaml:"access_key_unused,omitempty" json:"access_key_unused,omitempty"`
	PasswordExpiry  *ExpiryRule        `yaml:"password_expiry,omitempty" json:"password_expiry,omitempty"`
	PasswordUnused  *UnusedRule        `yaml:"password_unused,omitempty" json:"password_unused,omitempty"`
	MFAMissing      *FlagRule          `yaml:"mfa_missing,omitempty" json:"mfa_missing,omitempty"`
	RootAccessKey   *FlagRule          `yaml:"root_access_key,omitempty" json:"root_access_key,omitempty"`
	// AccessKeyUnknownAge reports active keys whose age cannot be told.
	AccessKeyUnknownAge *FlagRule `yaml:"access_key_unknown_age,omitempty" json:"access_key_unknown_age,omitempty"`

	// SigningCertAge maps a class name to its signing-certificate stages;
	// a class without an entry (every class, when the rule is left out)
	// takes its access-key stages (Rules.StagesOf).
	SigningCertAge  map[string][]Stage `yaml:"signing_certificate_age,omitempty" json:"signing_certificate_age,omitempty"`
	RootSigningCert *FlagRule          `yaml:"root_signing_certificate,omitempty" json:"root_signing_certificate,omitempty"`
	// ServiceCredentialAge maps a class name to its stages for
	// service-specific credentials; a class without an entry takes its
	// access-key stages.
	ServiceCredentialAge    map[string][]Stage `yaml:"service_credential_age,omitempty" json:"service_credential_age,omitempty"`
	ServiceCredentialExpiry *WarnRule          `yaml:"service_credential_expiry,omitempty" json:"service_credential_expiry,omitempty"`
	// SSHKeyAge is opt-in: absent, no SSH key is read.
	SSHKeyAge *SSHKeyRule `yaml:"ssh_key_age,omitempty" json:"ssh_key_age,omitempty"`

	RootRecentUse    *RecentUseRule      `yaml:"root_recent_use,omitempty" json:"root_recent_use,omitempty"`
	PasswordPolicy   *PasswordPolicyRule `yaml:"password_policy,omitempty" json:"password_policy,omitempty"`
	AccessKeyAtSetup *FlagRule           `yaml:"access_key_at_setup,omitempty" json:"access_key_at_setup,omitempty"`
	TwoActiveKeys    *FlagRule           `yaml:"two_active_keys,omitempty" json:"two_active_keys,omitempty"`
	ConsoleAndKeys   *FlagRule           `yaml:"console_and_keys,omitempty" json:"console_and_keys,omitempty"`
	DormantUser      *UnusedRule         `yaml:"dormant_user,omitempty" json:"dormant_user,omitempty"`
}

// StagesOf returns class's stages of a staged rule (access_key_age,
// signing_certificate_age, service_credential_age), the first of:
//   - the rule's entry for the class;
//   - for signing certificates and service-specific credentials, the
//     class's own access_key_age entry (a class whose keys are only
//     notified about gets only notices for its other credentials too);
//   - the rule's entry for the default class;
//   - for those two, the default class's access_key_age stages.
//
// So the rule's own words for human are never passed over for another
// rule's. The config's own slice, unsorted.
func (r *Rules) StagesOf(rule, class string) []Stage {
	byClass := r.AccessKeyAge
	switch rule {
	case RuleSigningCertAge:
		byClass = r.SigningCertAge
	case RuleServiceCredentialAge:
		byClass = r.ServiceCredentialAge
	}
	if stages, ok := byClass[class]; ok {
		return stages
	}
	if rule != RuleAccessKeyAge {
		if stages, ok := r.AccessKeyAge[class]; ok {
			return withoutRotate(stages)
		}
	}
	if stages, ok := byClass[DefaultClass]; ok || rule == RuleAccessKeyAge {
		return stages
	}
	return withoutRotate(r.AccessKeyAge[DefaultClass])
}

// withoutRotate is access-key stages as another credential takes them: a
// rotate stage notifies instead (only an access key can be rotated into
// a secret; the owner is still told at that age). The stages themselves
// when none rotates.
func withoutRotate(stages []Stage) []Stage {
	if !slices.ContainsFunc(stages, func(s Stage) bool { return s.Action == ActionRotate }) {
		return stages
	}
	out := slices.Clone(stages)
	for i := range out {
		if out[i].Action == ActionRotate {
			out[i].Action = ActionNotify
		}
	}
	return out
}

// TargetOf is where a rotation of user's access key writes the new
// key: the user's keywarden:secret tag, else the first rotate.targets
// entry for the user, else the first for its class ({user} replaced by
// the user's name); "" when none names one.
func (r *Rotate) TargetOf(user, class string, tags map[string]string) string {
	if t := strings.TrimSpace(tags[TagSecret]); t != "" {
		return t
	}
	for _, byUser := range []bool{true, false} {
		for _, t := range r.Targets {
			if byUser && t.User != "" && t.User == user || !byUser && t.User == "" && t.Class == class {
				return strings.ReplaceAll(t.Secret, "{user}", user)
			}
		}
	}
	return ""
}

// StagesByClass returns every class's stages of a staged rule (StagesOf
// for the default class, each configured class, and each class the
// rule's or access_key_age's map names), by class name.
func (c *Config) StagesByClass(rule string) map[string][]Stage {
	out := map[string][]Stage{DefaultClass: c.Rules.StagesOf(rule, DefaultClass)}
	for _, cl := range c.Classes {
		out[cl.Name] = c.Rules.StagesOf(rule, cl.Name)
	}
	for _, m := range []map[string][]Stage{c.Rules.AccessKeyAge, c.Rules.SigningCertAge, c.Rules.ServiceCredentialAge} {
		for class := range m {
			out[class] = c.Rules.StagesOf(rule, class)
		}
	}
	return out
}

// WarnRule warns WarnBefore days before a credential's own expiration
// (service_credential_expiry).
type WarnRule struct {
	Enabled    *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	WarnBefore int    `yaml:"warn_before" json:"warn_before"`
	Severity   string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// SSHKeyRule is ssh_key_age: the SSH public keys of the users Users
// selects (ListSSHPublicKeys is one call per user) older than MaxAge days.
type SSHKeyRule struct {
	Enabled  *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Users    Match  `yaml:"users" json:"users"`
	MaxAge   int    `yaml:"max_age" json:"max_age"`
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// RecentUseRule is root_recent_use: root used within Within days.
type RecentUseRule struct {
	Enabled  *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Within   int    `yaml:"within" json:"within"`
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// PasswordPolicyRule is password_policy: the account password policy's
// strength (CIS 1.8 minimum length, 1.9 reuse prevention).
type PasswordPolicyRule struct {
	Enabled         *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	MinLength       int    `yaml:"min_length" json:"min_length"`
	ReusePrevention int    `yaml:"reuse_prevention" json:"reuse_prevention"`
	Severity        string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// Stage is one tier of the access-key age rule: at At days, take Action.
type Stage struct {
	At       int    `yaml:"at" json:"at"`
	Action   string `yaml:"action" json:"action"`
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// UnusedRule fires when a credential has not been used for After days.
type UnusedRule struct {
	Enabled  *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	After    int    `yaml:"after" json:"after"`
	Action   string `yaml:"action,omitempty" json:"action,omitempty"`
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// ExpiryRule warns WarnBefore days before a console password expires.
type ExpiryRule struct {
	Enabled    *bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	WarnBefore int   `yaml:"warn_before" json:"warn_before"`
	// MaxAge is used when the account has no password policy with a maximum
	// age (0: then passwords are not checked for expiry).
	MaxAge   int    `yaml:"max_age,omitempty" json:"max_age,omitempty"`
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// FlagRule is a rule without a threshold (mfa_missing, root_access_key,
// access_key_unknown_age).
type FlagRule struct {
	Enabled  *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Action   string `yaml:"action,omitempty" json:"action,omitempty"`
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// Exemption excludes matching credentials from enforcement and from owner
// notifications. Findings still appear in reports, marked exempt.
type Exemption struct {
	Users  []string          `yaml:"users,omitempty" json:"users,omitempty"` // globs
	Tags   map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	Groups []string          `yaml:"groups,omitempty" json:"groups,omitempty"`
	// Accounts limits the exemption to these account IDs (default: all).
	Accounts []string `yaml:"accounts,omitempty" json:"accounts,omitempty"`
	// Rules limits the exemption to these rules (default: all).
	Rules  []string `yaml:"rules,omitempty" json:"rules,omitempty"`
	Reason string   `yaml:"reason" json:"reason"`
	// Until is the last day (inclusive, UTC) the exemption applies.
	Until *Date `yaml:"until,omitempty" json:"until,omitempty"`
}

// Notify configures who is told. The scan uses Users to work out each
// finding's recipients; the notify stage uses the rest.
type Notify struct {
	From          string      `yaml:"from,omitempty" json:"from,omitempty"`
	Users         NotifyUsers `yaml:"users,omitempty" json:"users,omitempty"`
	Admins        NotifyAdmin `yaml:"admins,omitempty" json:"admins,omitempty"`
	RatePerSecond float64     `yaml:"rate_per_second,omitempty" json:"rate_per_second,omitempty"`
	// ConsoleURL is the sign-in URL put in messages; "" derives it from the
	// account (https://ALIAS_OR_ID.signin.aws.amazon.com/console). {account}
	// and {alias} in it are replaced.
	ConsoleURL string          `yaml:"console_url,omitempty" json:"console_url,omitempty"`
	SES        NotifySES       `yaml:"ses,omitempty" json:"ses,omitempty"`
	SMTP       NotifySMTP      `yaml:"smtp,omitempty" json:"smtp,omitempty"`
	Outbox     NotifyOutbox    `yaml:"outbox,omitempty" json:"outbox,omitempty"`
	Templates  NotifyTemplates `yaml:"templates,omitempty" json:"templates,omitempty"`
}

// NotifySES configures the SES v2 channel (notify.users.via: ses).
type NotifySES struct {
	// Region overrides the SDK's region for SES ("": the SDK's).
	Region string `yaml:"region,omitempty" json:"region,omitempty"`
	// ConfigurationSet is passed to SendEmail when set.
	ConfigurationSet string `yaml:"configuration_set,omitempty" json:"configuration_set,omitempty"`
}

// NotifySMTP configures the SMTP channel (notify.users.via: smtp).
type NotifySMTP struct {
	Host     string `yaml:"host,omitempty" json:"host,omitempty"`
	Port     int    `yaml:"port,omitempty" json:"port,omitempty"`
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	// PasswordSSM names an SSM parameter holding the password; it wins
	// over PasswordEnv.
	PasswordSSM string `yaml:"password_ssm,omitempty" json:"password_ssm,omitempty"`
	// StartTLS requires STARTTLS before anything is sent (default true).
	StartTLS *bool `yaml:"starttls,omitempty" json:"starttls,omitempty"`
}

// NotifyOutbox configures the outbox channel: one .eml file per message.
type NotifyOutbox struct {
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
}

// NotifyTemplates names files that replace the embedded message templates
// ("": the embedded default). Subjects and text use text/template, HTML
// uses html/template.
type NotifyTemplates struct {
	UserSubject   string `yaml:"user_subject,omitempty" json:"user_subject,omitempty"`
	UserText      string `yaml:"user_text,omitempty" json:"user_text,omitempty"`
	UserHTML      string `yaml:"user_html,omitempty" json:"user_html,omitempty"`
	DigestSubject string `yaml:"digest_subject,omitempty" json:"digest_subject,omitempty"`
	DigestText    string `yaml:"digest_text,omitempty" json:"digest_text,omitempty"`
	DigestHTML    string `yaml:"digest_html,omitempty" json:"digest_html,omitempty"`
}

// NotifyUsers says how owners are found and reached.
type NotifyUsers struct {
	// EmailTags are tag keys tried in order for the owner's address.
	EmailTags []string `yaml:"email_tags,omitempty" json:"email_tags,omitempty"`
	// UsernameIsEmail uses the user name when it is an address.
	UsernameIsEmail *bool `yaml:"username_is_email,omitempty" json:"username_is_email,omitempty"`
	// AllowedDomains: addresses outside them are never mailed (empty: any).
	AllowedDomains []string `yaml:"allowed_domains,omitempty" json:"allowed_domains,omitempty"`
	// AllowSubdomains also accepts addresses in subdomains of
	// AllowedDomains (eu.example.com for example.com).
	AllowSubdomains bool `yaml:"allow_subdomains,omitempty" json:"allow_subdomains,omitempty"`
	// RemindEvery is the number of days before the same stage is told again.
	RemindEvery int    `yaml:"remind_every,omitempty" json:"remind_every,omitempty"`
	Via         string `yaml:"via,omitempty" json:"via,omitempty"`
}

// NotifyAdmin configures the admin digest.
type NotifyAdmin struct {
	Emails          []string `yaml:"emails,omitempty" json:"emails,omitempty"`
	SNSTopicARN     string   `yaml:"sns_topic_arn,omitempty" json:"sns_topic_arn,omitempty"`
	SlackWebhookEnv string   `yaml:"slack_webhook_env,omitempty" json:"slack_webhook_env,omitempty"`
	SendWhen        string   `yaml:"send_when,omitempty" json:"send_when,omitempty"`
	// MaxItems is how many entries each section of the digest lists (the
	// most urgent first); the rest are counted, and every entry is in the
	// digest's attached CSV. Default 20.
	MaxItems int `yaml:"max_items,omitempty" json:"max_items,omitempty"`
	// SlackWebhookSSM names an SSM parameter holding the Slack webhook URL
	// (instead of SlackWebhookEnv).
	SlackWebhookSSM string `yaml:"slack_webhook_ssm,omitempty" json:"slack_webhook_ssm,omitempty"`
	// WebhookURLEnv / WebhookURLSSM name where the generic JSON webhook's
	// URL is kept (one of them).
	WebhookURLEnv string `yaml:"webhook_url_env,omitempty" json:"webhook_url_env,omitempty"`
	WebhookURLSSM string `yaml:"webhook_url_ssm,omitempty" json:"webhook_url_ssm,omitempty"`
}

// Enforce configures remediation and its guards.
type Enforce struct {
	Mode              string   `yaml:"mode,omitempty" json:"mode,omitempty"`
	AllowedAccounts   []string `yaml:"allowed_accounts,omitempty" json:"allowed_accounts,omitempty"`
	MaxActionsPerRun  int      `yaml:"max_actions_per_run,omitempty" json:"max_actions_per_run,omitempty"`
	MaxFraction       float64  `yaml:"max_fraction,omitempty" json:"max_fraction,omitempty"`
	GraceAfterDisable int      `yaml:"grace_after_disable,omitempty" json:"grace_after_disable,omitempty"`
	// NoticeBeforeAction is how many days before an action its owner (or,
	// when the owner cannot be mailed, the admins) must have been told of
	// its stage; until then the action waits (0: no wait).
	NoticeBeforeAction int `yaml:"notice_before_action,omitempty" json:"notice_before_action,omitempty"`
	// Window, when set, is when changes may be made; outside it, planned
	// actions wait for the next run inside it.
	Window *Window `yaml:"window,omitempty" json:"window,omitempty"`
	// AuditFile, when set, is a file every action record is appended to,
	// one JSON object per line, besides the state.
	AuditFile string `yaml:"audit_file,omitempty" json:"audit_file,omitempty"`
	// StopParameter, when set, names an SSM parameter: while it holds
	// "stop", no action is taken (read before each action; a read error
	// counts as stop).
	StopParameter string `yaml:"stop_parameter,omitempty" json:"stop_parameter,omitempty"`
	// Protect lists users and access keys keywarden never acts on, besides
	// its own credentials (which it always protects).
	Protect []Protect `yaml:"protect,omitempty" json:"protect,omitempty"`
}

// Protect names users (by glob) and access keys (by ID) keywarden never
// changes: their findings are still reported and told, their actions are
// skipped with the entry as the reason.
type Protect struct {
	Users  []string `yaml:"users,omitempty" json:"users,omitempty"` // globs
	KeyIDs []string `yaml:"key_ids,omitempty" json:"key_ids,omitempty"`
	// Accounts limits the entry to these account IDs (default: all).
	Accounts []string `yaml:"accounts,omitempty" json:"accounts,omitempty"`
	// Reason says why, in every skip it causes.
	Reason string `yaml:"reason,omitempty" json:"reason,omitempty"`
}

// Window is a weekly time window: on Days, from Start to End, in Timezone.
type Window struct {
	// Days are the weekdays (mon … sun); empty means every day.
	Days []string `yaml:"days,omitempty" json:"days,omitempty"`
	// Start and End are HH:MM, Start before End; empty means the whole day.
	Start string `yaml:"start,omitempty" json:"start,omitempty"`
	End   string `yaml:"end,omitempty" json:"end,omitempty"`
	// Timezone is an IANA name (Europe/Berlin); empty means UTC.
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
}

// State says where keywarden remembers what it sent and did.
type State struct {
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
}

// The AWS partitions accounts.partition names.
const (
	PartitionAWS      = "aws"
	PartitionGovCloud = "aws-us-gov"
	PartitionChina    = "aws-cn"
)

// Partitions are the values of accounts.partition.
var Partitions = []string{PartitionAWS, PartitionGovCloud, PartitionChina}

// Enforce modes.
const (
	ModeDryRun = "dry_run"
	ModeApply  = "apply"
)

// DefaultDigestMaxItems is notify.admins.max_items's default.
const DefaultDigestMaxItems = 20

// Admin digest send_when values.
const (
	SendWhenFindings = "findings"
	SendWhenAlways   = "always"
)

// Default returns the built-in configuration: what keywarden uses without a
// config file, and what every omitted key falls back to.
func Default() *Config {
	t := true
	return &Config{
		Version:  CurrentVersion,
		Accounts: Accounts{Parallel: 8, SessionName: "keywarden", MaxAttempts: 8},
		Classes: []Class{
			{Name: "machine", Match: Match{Tags: map[string]string{"UserType": "machine"}}},
		},
		Rules: Rules{
			AccessKeyAge:        defaultCredentialStages(),
			AccessKeyUnused:     &UnusedRule{Enabled: &t, After: 45, Action: ActionNotify, Severity: SeverityMedium},
			PasswordExpiry:      &ExpiryRule{Enabled: &t, WarnBefore: 14, MaxAge: 90, Severity: SeverityMedium},
			PasswordUnused:      &UnusedRule{Enabled: &t, After: 45, Action: ActionNotify, Severity: SeverityMedium},
			MFAMissing:          &FlagRule{Enabled: &t, Action: ActionNotify, Severity: SeverityHigh},
			RootAccessKey:       &FlagRule{Enabled: &t, Action: ActionNotify, Severity: SeverityCritical},
			AccessKeyUnknownAge: &FlagRule{Enabled: &t, Action: ActionNotify, Severity: SeverityHigh},

			RootSigningCert:         &FlagRule{Enabled: &t, Action: ActionNotify, Severity: SeverityCritical},
			ServiceCredentialExpiry: &WarnRule{Enabled: &t, WarnBefore: 14, Severity: SeverityMedium},
			RootRecentUse:           &RecentUseRule{Enabled: &t, Within: 7, Severity: SeverityHigh},
			PasswordPolicy:          &PasswordPolicyRule{Enabled: &t, MinLength: 14, ReusePrevention: 24, Severity: SeverityMedium},
			AccessKeyAtSetup:        &FlagRule{Enabled: &t, Action: ActionNotify, Severity: SeverityMedium},
			TwoActiveKeys:           &FlagRule{Enabled: &t, Action: ActionNotify, Severity: SeverityMedium},
			ConsoleAndKeys:          &FlagRule{Enabled: &t, Action: ActionNotify, Severity: SeverityInfo},
			DormantUser:             &UnusedRule{Enabled: &t, After: 90, Action: ActionNotify, Severity: SeverityMedium},
		},
		Notify: Notify{
			Users: NotifyUsers{
				EmailTags:       []string{"Email", "email", "Owner", "owner"},
				UsernameIsEmail: &t,
				RemindEvery:     3,
				Via:             "outbox",
			},
			Admins: NotifyAdmin{SendWhen: SendWhenFindings, MaxItems: DefaultDigestMaxItems},
			SMTP:   NotifySMTP{Port: 587, PasswordEnv: "KEYWARDEN_SMTP_PASSWORD", StartTLS: &t},
			Outbox: NotifyOutbox{Dir: "keywarden-outbox"},
		},
		Enforce: Enforce{
			Mode:              ModeDryRun,
			MaxActionsPerRun:  25,
			MaxFraction:       0.2,
			GraceAfterDisable: 10,
		},
		State:  State{URL: state.DefaultURL},
		Rotate: Rotate{SecretName: DefaultSecretName, OverlapDays: DefaultOverlapDays},
	}
}

// defaultCredentialStages are the default stages of access_key_age,
// signing_certificate_age and service_credential_age: a human's credential
// is told of at 70 days, disabled at 80 and deleted at 90; a machine's is
// only told of, more urgently each time. Each call returns a new map.
func defaultCredentialStages() map[string][]Stage {
	return map[string][]Stage{
		"human": {
			{At: 70, Action: ActionNotify, Severity: SeverityMedium},
			{At: 80, Action: ActionDisable, Severity: SeverityHigh},
			{At: 90, Action: ActionDelete, Severity: SeverityHigh},
		},
		"machine": {
			{At: 70, Action: ActionNotify, Severity: SeverityMedium},
			{At: 80, Action: ActionNotify, Severity: SeverityHigh},
			{At: 90, Action: ActionNotify, Severity: SeverityCritical},
		},
	}
}

// DefaultSSHKeyMaxAge is ssh_key_age's max_age when the file turns the
// rule on without one.
const DefaultSSHKeyMaxAge = 90

// Severities are the severities, lowest first.
func Severities() []string {
	return []string{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
}

// RuleNames are the names of every rule, as exemptions' rules name them.
func RuleNames() []string { return slices.Clone(ruleNames) }

// stageRule is one rule whose config maps a class to its stages.
type stageRule struct {
	key    string // the rule's name and key under rules
	stages map[string][]Stage
}

// stageRules are r's class-stage rules, in the order of the config's keys.
func (r *Rules) stageRules() []stageRule {
	return []stageRule{
		{RuleAccessKeyAge, r.AccessKeyAge},
		{RuleSigningCertAge, r.SigningCertAge},
		{RuleServiceCredentialAge, r.ServiceCredentialAge},
	}
}
