package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"
	"github.com/keywarden/keywarden/internal/state"
)

// SchemaID is the $id of the config's JSON Schema.
const SchemaID = "https://github.com/keywarden/keywarden/schema/config-v1.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of the config file,
// for `keywarden config schema` and editors. Every mapping of keys is
// closed (additionalProperties: false); actions, severities, modes and
// channels are enums. Nothing is required but version and the keys a list
// item needs, because omitted keys take their defaults.
func JSONSchema() ([]byte, error) {
	r := &jsonschema.Reflector{
		DoNotReference:             true,
		ExpandedStruct:             true,
		RequiredFromJSONSchemaTags: true, // required is set below, by hand
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == dateType {
				return &jsonschema.Schema{Type: "string", Format: "date", Pattern: `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`}
			}
			return nil
		},
		LookupComment: func(t reflect.Type, field string) string {
			if field == "" {
				return ""
			}
			return fieldDocs[t.Name()+"."+field]
		},
	}
	s := r.Reflect(&Config{})
	s.ID = SchemaID
	s.Title = "keywarden configuration"
	s.Description = "keywarden's config file (version 1). Omitted keys take their defaults; see docs/configuration.md."
	if err := refineSchema(s); err != nil {
		return nil, fmt.Errorf("build config schema: %w", err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode config schema: %w", err)
	}
	return b.Bytes(), nil
}

// refineSchema adds what reflection cannot know: the constraints table's
// bounds, patterns, enums and required keys, and what relates several keys.
func refineSchema(s *jsonschema.Schema) error {
	var missing []string
	at := func(path ...string) *jsonschema.Schema {
		cur := s
		for _, p := range path {
			switch {
			case cur == nil:
			case p == "[]":
				cur = cur.Items
			case p == "{}":
				cur = cur.AdditionalProperties
			case cur.Properties == nil:
				cur = nil
			default:
				cur, _ = cur.Properties.Get(p)
			}
		}
		if cur == nil {
			missing = append(missing, fmt.Sprint(path))
			return &jsonschema.Schema{} // keep going; the error is reported below
		}
		return cur
	}

	s.Required = []string{"version"}
	at("version").Const = CurrentVersion
	for _, c := range constraints {
		path := schemaPath(c.path)
		c.schema(at(path...))
		if c.required {
			parent := at(path[:len(path)-1]...)
			parent.Required = append(parent.Required, path[len(path)-1])
		}
	}

	at("accounts").Not = &jsonschema.Schema{Required: []string{"organization", "list"}}
	one := uint64(1)
	at("classes", "[]", "match").MinProperties = &one
	at("rules", "ssh_key_age", "users").MinProperties = &one
	at("exemptions", "[]").AnyOf = []*jsonschema.Schema{{Required: []string{"users"}}, {Required: []string{"tags"}}, {Required: []string{"groups"}}}
	at("enforce", "protect", "[]").AnyOf = []*jsonschema.Schema{{Required: []string{"users"}}, {Required: []string{"key_ids"}}}
	at("state", "url").Pattern = "^(sqlite://.+|dynamodb://" + strings.Trim(state.TableNamePattern, "^$") + ")$"

	if len(missing) > 0 {
		return fmt.Errorf("no schema for %v", missing)
	}
	return nil
}

// schemaPath splits a constraint's path into the steps refineSchema's at
// takes: rules.access_key_age.{}[].at is rules, access_key_age, {}, [], at.
func schemaPath(path string) []string {
	var out []string
	for _, key := range strings.Split(path, ".") {
		name, items := strings.CutSuffix(key, "[]")
		out = append(out, name)
		if items {
			out = append(out, "[]")
		}
	}
	return out
}

// schema writes the constraint into n, the schema of its key.
func (c *constraint) schema(n *jsonschema.Schema) {
	num := func(x float64) json.Number { return json.Number(strconv.FormatFloat(x, 'f', -1, 64)) }
	if c.min != nil && c.exclusiveMin {
		n.ExclusiveMinimum = num(*c.min)
	} else if c.min != nil {
		n.Minimum = num(*c.min)
	}
	if c.max != nil {
		n.Maximum = num(*c.max)
	}
	pattern := ""
	switch {
	case c.accountID:
		// A 12-digit string, or a number (unquoted in YAML; the loader
		// reads it as written).
		n.Type = ""
		n.AnyOf = []*jsonschema.Schema{
			{Type: "string", Pattern: accountIDRE.String()},
			{Type: "integer", Minimum: "0", Maximum: "999999999999"},
		}
	case c.pattern != nil:
		pattern = c.pattern.String()
	case c.blank:
		pattern = `\S`
	}
	if pattern != "" && c.optional {
		pattern = "^$|" + pattern
	}
	n.Pattern = pattern
	for _, v := range c.enum {
		n.Enum = append(n.Enum, v)
	}
	if c.reserved != "" {
		n.Not = &jsonschema.Schema{Const: c.reserved}
	}
}

// fieldDocs describes each key (TYPE.Field) in the JSON Schema.
var fieldDocs = map[string]string{
	"Config.Version":    "Config format version; required, and 1 is the only one.",
	"Config.Accounts":   "Which accounts to scan. Without organization or list: the caller's own account.",
	"Config.Classes":    "Named groups of users, each with its own access_key_age stages. First match wins; users no class matches are class \"human\".",
	"Config.Rules":      "The rules. Each omitted key keeps its default; each rule can be switched off (enabled: false, or an empty stage list per class).",
	"Config.Exemptions": "Credentials that are not enforced nor mailed to their owners; findings still appear in reports, marked exempt.",
	"Config.Notify":     "Who is told, and how.",
	"Config.Enforce":    "Remediation and its guards.",
	"Config.State":      "Where keywarden remembers what it sent and did.",
	"Config.Rotate":     "Where a rotate stage (access_key_age only) writes a user's new access key, and how long the old one overlaps it.",

	"Accounts.Organization": "Scan every ACTIVE account of the caller's AWS Organization through AssumeRole. Not together with list.",
	"Accounts.List":         "Scan exactly these accounts. Not together with organization.",
	"Accounts.Parallel":     "How many accounts are scanned at once (1-64; default 8).",
	"Accounts.SessionName":  "sts:AssumeRole session name, recorded by CloudTrail in each member account (default keywarden).",
	"Accounts.MaxAttempts":  "Attempts per AWS call, throttling retries included, in the SDK's standard retry mode, exponential backoff with jitter (1-20; default 8). An account still throttled after them is reported as failed.",
	"Accounts.Partition":    "The AWS partition of the accounts: aws, aws-us-gov or aws-cn (omitted: the caller's at run time, aws for iam-policy). Role, topic and parameter ARNs must be in it.",

	"Organization.RoleName": "Name of the role assumed in each member account, e.g. KeywardenAudit.",
	"Organization.Exclude":  "Account IDs to skip.",
	"Organization.OUs":      "Only scan accounts under these organizational units or roots (ou-… or r-…), children included.",

	"AccountTarget.ID":         "12-digit AWS account ID.",
	"AccountTarget.RoleARN":    "Role to assume in that account (omitted: the current credentials).",
	"AccountTarget.ExternalID": "sts:ExternalId to pass when assuming the role.",

	"Class.Name":  "Class name (letters, digits, - and _), used in rules.access_key_age and in findings; \"human\" is reserved.",
	"Class.Match": "Which users belong to the class; every criterion given must match.",

	"Match.Tags":       "Tag key to value; every pair must match. \"*\" matches any value of that key.",
	"Match.PathPrefix": "The user's IAM path starts with this, e.g. /service/.",
	"Match.Groups":     "The user is in any of these IAM groups.",
	"Match.Names":      "The user name matches any of these globs (path.Match syntax).",

	"Rules.AccessKeyAge":        "Per class (human or a defined class): stages by the age of an active access key in days. Inactive keys only get the delete stage. A rotate stage (at most one, before every disable and delete stage) writes a new key to the user's secret (see rotate).",
	"Rules.AccessKeyUnused":     "An active access key not used (never used: since its creation) for `after` days.",
	"Rules.PasswordExpiry":      "A console password that expires within warn_before days, or has expired.",
	"Rules.PasswordUnused":      "A console password not used (never used: since it was set) for `after` days.",
	"Rules.MFAMissing":          "A console password without an MFA device (root included).",
	"Rules.RootAccessKey":       "The root user has an active access key (told to the admins only).",
	"Rules.AccessKeyUnknownAge": "An active access key whose creation date is missing or in the future: its age cannot be judged (notify only).",

	"Rules.SigningCertAge":          "Per class (human or a defined class): stages by the age of an X.509 signing certificate in days since its upload. Inactive certificates only get the delete stages. An empty list switches the rule off for the class; a class without an entry takes its access_key_age stages.",
	"Rules.RootSigningCert":         "The root user has an active signing certificate (told to the admins only).",
	"Rules.ServiceCredentialAge":    "Per class: stages by the age of a service-specific credential (CodeCommit, Keyspaces, Amazon Bedrock API keys) in days since its creation. Inactive and expired ones only get the delete stages. An empty list switches the rule off for the class; a class without an entry takes its access_key_age stages.",
	"Rules.ServiceCredentialExpiry": "A service-specific credential with an expiration date (Amazon Bedrock API keys) that expires within warn_before days, or has expired.",
	"Rules.SSHKeyAge":               "Opt-in: the SSH public keys (CodeCommit) of the users `users` selects, older than max_age days. One ListSSHPublicKeys call per selected user. Notify only.",
	"Rules.RootRecentUse":           "CIS 1.7: the root user's password or an access key was used within `within` days.",
	"Rules.PasswordPolicy":          "CIS 1.8 and 1.9: the account password policy is missing, or requires fewer than min_length characters or prevents the reuse of fewer than reuse_prevention passwords.",
	"Rules.AccessKeyAtSetup":        "CIS 1.11: a console user with an active access key created within a day of the user and never used.",
	"Rules.TwoActiveKeys":           "CIS 1.13: a user with two active access keys.",
	"Rules.ConsoleAndKeys":          "A user with both a console password and an active access key (informational; default severity info).",
	"Rules.DormantUser":             "A user with a console password or an active access key, none of them used (never used: since created) for `after` days.",

	"WarnRule.Enabled":    "false turns the rule off.",
	"WarnRule.WarnBefore": "A finding when the credential has this many days left or fewer (negative: expired).",
	"WarnRule.Severity":   "info, low, medium, high or critical; raised to at least high once expired.",

	"SSHKeyRule.Enabled":  "false turns the rule off (so does leaving it out).",
	"SSHKeyRule.Users":    "Which users' SSH keys are read and checked; required, with at least one criterion (tags, path_prefix, groups, names).",
	"SSHKeyRule.MaxAge":   "Days since upload after which a key is reported (1-36500; default 90).",
	"SSHKeyRule.Severity": "info, low, medium, high or critical (default medium).",

	"RecentUseRule.Enabled":  "false turns the rule off.",
	"RecentUseRule.Within":   "Days: root's use this recent or more recent is reported (>= 1; CIS: 7).",
	"RecentUseRule.Severity": "info, low, medium, high or critical.",

	"PasswordPolicyRule.Enabled":         "false turns the rule off.",
	"PasswordPolicyRule.MinLength":       "The least MinimumPasswordLength the policy must require (6-128; CIS 1.8: 14).",
	"PasswordPolicyRule.ReusePrevention": "The least PasswordReusePrevention the policy must set (0-24, 0: not checked; CIS 1.9: 24).",
	"PasswordPolicyRule.Severity":        "info, low, medium, high or critical.",

	"Stage.At":       "The stage applies when age_days >= at (at >= 1; stages ascend).",
	"Stage.Action":   "notify, disable or delete; disable never after delete.",
	"Stage.Severity": "info, low, medium, high or critical (omitted: medium for notify, high for disable and delete).",

	"UnusedRule.Enabled":  "false turns the rule off.",
	"UnusedRule.After":    "Days without use before the rule applies (>= 1).",
	"UnusedRule.Action":   "What to do: notify, or disable (access keys) / remove_password (passwords); dormant_user only notifies.",
	"UnusedRule.Severity": "info, low, medium, high or critical.",

	"ExpiryRule.Enabled":    "false turns the rule off.",
	"ExpiryRule.WarnBefore": "A finding when the password has this many days left or fewer (negative: expired).",
	"ExpiryRule.MaxAge":     "Password lifetime in days when the account policy sets no MaxPasswordAge (0: passwords never expire).",
	"ExpiryRule.Severity":   "info, low, medium, high or critical.",

	"FlagRule.Enabled":  "false turns the rule off.",
	"FlagRule.Action":   "notify only: keywarden never remediates what these rules find (missing MFA, root credentials, keys of unknown age, keys made at setup, two keys, console and keys).",
	"FlagRule.Severity": "info, low, medium, high or critical.",

	"Exemption.Users":    "User-name globs (path.Match syntax).",
	"Exemption.Tags":     "Tag key to value; every pair must match (\"*\": any value).",
	"Exemption.Groups":   "IAM groups; a member of any is exempt.",
	"Exemption.Accounts": "Only in these account IDs (omitted: all).",
	"Exemption.Rules":    "Only for these rules (omitted: all).",
	"Exemption.Reason":   "Why; required and shown in every report.",
	"Exemption.Until":    "Last day (inclusive, UTC) the exemption applies, YYYY-MM-DD; afterwards findings say it expired.",

	"Notify.From":          "Sender address; required when users.via is ses or smtp.",
	"Notify.Users":         "How credential owners are found and reached.",
	"Notify.Admins":        "The admin digest.",
	"Notify.RatePerSecond": "At most this many messages per second (0: no pacing; set it to your SES sending rate, e.g. 14).",

	"NotifyUsers.EmailTags":       "Tag keys tried in order for the owner's address.",
	"NotifyUsers.UsernameIsEmail": "Use the user name as the address when it is one.",
	"NotifyUsers.AllowedDomains":  "Only mail addresses in these domains (empty: any); compared after ASCII lowercasing only, and only plain-ASCII addresses are ever mailed.",
	"NotifyUsers.AllowSubdomains": "Also mail addresses in subdomains of allowed_domains (eu.example.com for example.com).",
	"NotifyUsers.RemindEvery":     "Days before the same stage is told again (>= 1).",
	"NotifyUsers.Via":             "Channel for owner mail: ses, smtp or outbox.",

	"NotifyAdmin.Emails":          "Addresses that get the admin digest.",
	"NotifyAdmin.SNSTopicARN":     "Also publish the digest to this SNS topic.",
	"NotifyAdmin.SlackWebhookEnv": "Name of the environment variable holding a Slack webhook URL (never the URL itself).",
	"NotifyAdmin.SendWhen":        "findings (only when there are some) or always.",
	"NotifyAdmin.MaxItems":        "Entries each digest section lists, most urgent first (default 20); the rest are counted, and all are in the attached CSV.",
	"NotifyAdmin.SlackWebhookSSM": "Name of the SSM parameter holding the Slack webhook URL (instead of slack_webhook_env).",
	"NotifyAdmin.WebhookURLEnv":   "Name of the environment variable holding a generic JSON webhook URL that gets the digest.",
	"NotifyAdmin.WebhookURLSSM":   "Name of the SSM parameter holding the generic JSON webhook URL (instead of webhook_url_env).",

	"Notify.ConsoleURL": "Sign-in URL put in messages; empty derives https://ALIAS_OR_ID.signin.aws.amazon.com/console. {account} and {alias} are replaced.",
	"Notify.SES":        "The SES v2 channel (users.via: ses).",
	"Notify.SMTP":       "The SMTP channel (users.via: smtp).",
	"Notify.Outbox":     "The outbox channel: one .eml file per message in a directory.",
	"Notify.Templates":  "Files that replace the built-in message templates (empty: built-in).",

	"NotifySES.Region":           "Region for SES (empty: the SDK's region).",
	"NotifySES.ConfigurationSet": "SES configuration set passed with every message (empty: none).",

	"NotifySMTP.Host":        "Mail server host name; required when users.via is smtp.",
	"NotifySMTP.Port":        "Mail server port (default 587, submission).",
	"NotifySMTP.Username":    "User name to authenticate with (empty: no authentication).",
	"NotifySMTP.PasswordEnv": "Name of the environment variable holding the SMTP password.",
	"NotifySMTP.PasswordSSM": "Name of the SSM parameter holding the SMTP password (wins over password_env).",
	"NotifySMTP.StartTLS":    "Require STARTTLS before authenticating or sending (default true).",

	"NotifyOutbox.Dir": "Directory the outbox channel writes .eml files to (created when missing).",

	"NotifyTemplates.UserSubject":   "File with the owner message's subject template (text/template).",
	"NotifyTemplates.UserText":      "File with the owner message's plain-text template (text/template).",
	"NotifyTemplates.UserHTML":      "File with the owner message's HTML template (html/template).",
	"NotifyTemplates.DigestSubject": "File with the admin digest's subject template (text/template).",
	"NotifyTemplates.DigestText":    "File with the admin digest's plain-text template (text/template).",
	"NotifyTemplates.DigestHTML":    "File with the admin digest's HTML template (html/template).",

	"Enforce.Mode":              "dry_run, or apply: act without --apply, in allowed_accounts only.",
	"Enforce.AllowedAccounts":   "Account IDs where keywarden may act.",
	"Enforce.MaxActionsPerRun":  "At most this many remediation actions per run (0: no limit).",
	"Enforce.MaxFraction":       "Never act on more than this fraction of an account's active keys in one run (0 < x <= 1).",
	"Enforce.GraceAfterDisable": "Days a key stays disabled before keywarden may delete it.",
	"Enforce.Window":            "When changes may be made (a weekly window); outside it, planned actions wait. Omitted: any time.",
	"Enforce.AuditFile":         "Also append every action record to this file, one JSON object per line.",

	"Enforce.NoticeBeforeAction": "Days before an action its owner (or the admins, where the owner cannot be mailed) must have been told of its stage; until then it waits (0: no wait).",
	"Enforce.Protect":            "Users and access keys keywarden never acts on (besides its own credentials, always protected).",
	"Enforce.StopParameter":      "SSM parameter (name or ARN): while it holds stop, no action is taken; read before each action, a read error counts as stop.",

	"Protect.Users":    "User name globs (path.Match); every credential of a matching user is protected.",
	"Protect.KeyIDs":   "Access key IDs that are protected.",
	"Protect.Accounts": "Account IDs the entry applies in (default: all).",
	"Protect.Reason":   "Why; given in every skip the entry causes.",

	"Window.Days":     "Weekdays (mon … sun); empty: every day.",
	"Window.Start":    "Start time of day, HH:MM; empty: midnight.",
	"Window.End":      "End time of day, HH:MM (24:00 for midnight), after start; empty: midnight at the end of the day.",
	"Window.Timezone": "IANA time zone of start and end, e.g. Europe/Berlin; empty: UTC.",

	"State.URL": "sqlite://PATH or dynamodb://TABLE.",

	"Rotate.SecretName":   "The pattern a rotation target's name must match ({user}: the user's name; an SSM target is ssm:/ and the pattern). Default keywarden/{user}; must contain {user}.",
	"Rotate.OverlapDays":  "The old key stays active until the new one is used, or this many days after the rotation (>= 1; default 7); then it is disabled, and deleted after grace_after_disable.",
	"Rotate.CreateSecret": "Create a target that does not exist (tagged keywarden:user with the user's name); false: the rotation is blocked.",
	"Rotate.Targets":      "Targets of users without a keywarden:secret tag; the first entry for the user, else the first for its class.",

	"RotateTarget.Class":  "The class the entry applies to (human or a defined class); not with user.",
	"RotateTarget.User":   "The IAM user name the entry applies to; not with class.",
	"RotateTarget.Secret": "A Secrets Manager secret name or ARN, or ssm:/path for an SSM SecureString parameter; {user} is the user's name.",
}
