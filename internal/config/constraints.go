package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A constraint is what the value of one key must be, written once:
// Validate checks it (constraint.check) and JSONSchema publishes it
// (constraint.schema). Checks that relate several keys are code, in
// validate.go.
type constraint struct {
	// path names the key: mapping keys joined by dots, [] for the items of
	// a list, {} for the values of a mapping with free keys
	// (rules.access_key_age.{}[].at).
	path string

	// required: the key has no default, so the schema requires it in its
	// mapping. (Validate sees the empty value the key then has; empty and
	// the bounds say what it reports.)
	required bool
	// empty, when set, is the message for an empty value ("", or only
	// spaces when blank is set); with enum, " (want a, b or c)" follows.
	empty string
	// blank: a value of only spaces counts as empty (the schema asks for a
	// non-space character).
	blank bool
	// optional: "" passes the pattern and the enum (it means the default).
	// The schema's pattern then allows "" too; its enum does not list it.
	optional bool

	// min and max bound a number; exclusiveMin makes min itself too low.
	// The message says so: "must be between 1 and 64 (got 0)".
	min, max     *float64
	exclusiveMin bool

	// pattern must match a string; msg is the message when it does not,
	// with %q standing for the value.
	pattern *regexp.Regexp
	msg     string
	// misuse, when the value fails the pattern and matches misuse, gives
	// misuseMsg instead of msg: a better message for a common mistake
	// (a URL where the name of the variable holding it belongs).
	misuse    *regexp.Regexp
	misuseMsg string
	// accountID: the value is an AWS account ID, which YAML may also hold
	// as a number (written unquoted); the schema accepts either.
	accountID bool

	// enum lists the values allowed; the message is msg when set, else
	// "unknown NOUN %q (want a, b or c)", or with suggest "unknown NOUN %q
	// (did you mean …?)". fold compares case-insensitively (the schema
	// lists the values as written here).
	enum    []string
	noun    string
	suggest bool
	fold    bool

	// reserved is a value the pattern allows that is taken;
	// reservedMsg (with %q) says so.
	reserved    string
	reservedMsg string
}

func bound(v float64) *float64 { return &v }

// IsAccountID reports whether s is an AWS account ID: 12 digits.
func IsAccountID(s string) bool { return accountIDRE.MatchString(s) }

const accountIDMsg = "%q is not an AWS account ID (want 12 digits)"

var (
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
	roleARNRE   = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::([0-9]{12}):role/([\w+=,.@/-]+)$`)
	classNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	ssmNameRE   = regexp.MustCompile(`^(arn:aws(-[a-z]+)*:ssm:[a-z0-9-]+:[0-9]{12}:parameter)?/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$`)
	urlRE       = regexp.MustCompile(`://`)
	// startRE is a time of day; endRE also takes 24:00, the end of the day.
	startRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	endRE   = regexp.MustCompile(`^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$`)

	ruleNames = []string{RuleAccessKeyAge, RuleAccessKeyUnused, RulePasswordExpiry, RulePasswordUnused, RuleMFAMissing, RuleRootAccessKey, RuleAccessKeyUnknownAge,
		RuleSigningCertAge, RuleRootSigningCert, RuleServiceCredentialAge, RuleServiceCredentialExpiry, RuleSSHKeyAge,
		RuleRootRecentUse, RulePasswordPolicy, RuleAccessKeyAtSetup, RuleTwoActiveKeys, RuleConsoleAndKeys, RuleDormantUser}
	severities   = Severities()
	channels     = []string{"ses", "smtp", "outbox"}
	weekdayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)

// constraints are the bounds, patterns and enums of single keys, in the
// order of the config's keys.
var constraints = []constraint{
	{path: "accounts.parallel", min: bound(1), max: bound(64)},
	{path: "accounts.session_name", pattern: regexp.MustCompile(`^[\w+=,.@-]{2,64}$`),
		msg: "%q is not an AssumeRole session name (2-64 letters, digits and =,.@_-)"},
	{path: "accounts.max_attempts", min: bound(1), max: bound(20)},
	{path: "accounts.partition", optional: true, enum: Partitions, noun: "partition"},
	{path: "accounts.organization.role_name", required: true,
		empty:   "required (the role keywarden assumes in each account, e.g. KeywardenAudit)",
		pattern: regexp.MustCompile(`^[\w+=,.@-]{1,64}$`), msg: "%q is not an IAM role name",
		misuse: regexp.MustCompile(`^arn:`), misuseMsg: "want the role's name, not its ARN (%q)"},
	{path: "accounts.organization.exclude[]", accountID: true},
	{path: "accounts.organization.ous[]", pattern: regexp.MustCompile(`^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})$`),
		msg: "%q is not an organizational unit or root ID (want ou-xxxx-xxxxxxxx or r-xxxx)"},
	{path: "accounts.list[].id", required: true, empty: "required", accountID: true},
	{path: "accounts.list[].role_arn", optional: true, pattern: roleARNRE,
		msg: "%q is not an IAM role ARN (want arn:aws:iam::ACCOUNT:role/NAME)"},

	{path: "classes[].name", required: true, empty: "required",
		pattern: classNameRE, msg: "%q is not a valid class name (use letters, digits, - and _)",
		reserved: DefaultClass, reservedMsg: "%q is reserved for users no class matches; pick another name"},
	{path: "classes[].match", required: true},
	{path: "classes[].match.path_prefix", optional: true, pattern: regexp.MustCompile(`^/`),
		msg: "%q must start with / (IAM paths look like /service/)"},

	{path: "rules.access_key_age.{}[].at", required: true, min: bound(1), max: bound(MaxDays)},
	{path: "rules.access_key_age.{}[].action", required: true, empty: "required",
		enum: []string{ActionNotify, ActionRotate, ActionDisable, ActionDelete}, noun: "action"},
	{path: "rules.access_key_age.{}[].severity", optional: true, enum: severities, noun: "severity"},
	{path: "rules.access_key_unused.after", min: bound(1), max: bound(MaxDays)},
	{path: "rules.access_key_unused.action", empty: "required", enum: []string{ActionNotify, ActionDisable}, noun: "action"},
	{path: "rules.access_key_unused.severity", optional: true, enum: severities, noun: "severity"},
	{path: "rules.password_expiry.warn_before", min: bound(0), max: bound(MaxDays)},
	{path: "rules.password_expiry.max_age", min: bound(0), max: bound(MaxDays)},
	{path: "rules.password_expiry.severity", optional: true, enum: severities, noun: "severity"},
	{path: "rules.password_unused.after", min: bound(1), max: bound(MaxDays)},
	{path: "rules.password_unused.action", empty: "required", enum: []string{ActionNotify, ActionRemovePassword}, noun: "action"},
	{path: "rules.password_unused.severity", optional: true, enum: severities, noun: "severity"},
	{path: "rules.mfa_missing.action", enum: []string{ActionNotify},
		msg: "only notify is allowed; keywarden cannot add MFA for a user (got %q)"},
	{path: "rules.mfa_missing.severity", optional: true, enum: severities, noun: "severity"},
	{path: "rules.root_access_key.action", enum: []string{ActionNotify},
		msg: "only notify is allowed; the root user's credentials are never remediated (got %q)"},
	{path: "rules.root_access_key.severity", optional: true, enum: severities, noun: "severity"},
	{path: "rules.access_key_unknown_age.action", enum: []string{ActionNotify},
		msg: "only notify is allowed; a key whose creation date is missing or in the future is never remediated (got %q)"},
	{path: "rules.access_key_unknown_age.severity", optional: true, enum: severities, noun: "severity"},
	stagesAt(RuleSigningCertAge),
	stagesAction(RuleSigningCertAge),
	stagesSeverity(RuleSigningCertAge),
	notifyOnly("rules.root_signing_certificate.action", "the root user's credentials are never remediated"),
	severity("rules.root_signing_certificate.severity"),
	stagesAt(RuleServiceCredentialAge),
	stagesAction(RuleServiceCredentialAge),
	stagesSeverity(RuleServiceCredentialAge),
	{path: "rules.service_credential_expiry.warn_before", min: bound(0), max: bound(MaxDays)},
	severity("rules.service_credential_expiry.severity"),
	{path: "rules.ssh_key_age.users", required: true},
	{path: "rules.ssh_key_age.users.path_prefix", optional: true, pattern: regexp.MustCompile(`^/`),
		msg: "%q must start with / (IAM paths look like /service/)"},
	{path: "rules.ssh_key_age.max_age", min: bound(1), max: bound(MaxDays)},
	severity("rules.ssh_key_age.severity"),
	{path: "rules.root_recent_use.within", min: bound(1), max: bound(MaxDays)},
	severity("rules.root_recent_use.severity"),
	// IAM's MinimumPasswordLength is 6 to 128, PasswordReusePrevention 1 to 24.
	{path: "rules.password_policy.min_length", min: bound(6), max: bound(128)},
	{path: "rules.password_policy.reuse_prevention", min: bound(0), max: bound(24)},
	severity("rules.password_policy.severity"),
	notifyOnly("rules.access_key_at_setup.action", "keywarden reports keys made at a user's setup, it does not remove them"),
	severity("rules.access_key_at_setup.severity"),
	notifyOnly("rules.two_active_keys.action", "keywarden cannot tell which of the two keys to disable"),
	severity("rules.two_active_keys.severity"),
	notifyOnly("rules.console_and_keys.action", "the rule is informational"),
	severity("rules.console_and_keys.severity"),
	{path: "rules.dormant_user.after", min: bound(1), max: bound(MaxDays)},
	notifyOnly("rules.dormant_user.action", "keywarden does not remove users"),
	severity("rules.dormant_user.severity"),

	{path: "exemptions[].accounts[]", accountID: true},
	{path: "exemptions[].rules[]", enum: ruleNames, noun: "rule", suggest: true},
	{path: "exemptions[].reason", required: true, blank: true,
		empty: "required; say why the exemption exists (it is shown in every report)"},

	{path: "notify.users.allowed_domains[]",
		pattern: regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$`),
		msg:     "%q is not a domain name (want e.g. example.com)"},
	{path: "notify.users.remind_every", min: bound(1), max: bound(MaxDays)},
	{path: "notify.users.via", enum: channels, noun: "channel"},
	{path: "notify.admins.sns_topic_arn", optional: true,
		pattern: regexp.MustCompile(`^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[\w-]{1,256}(\.fifo)?$`),
		msg:     "%q is not an SNS topic ARN (want arn:aws:sns:REGION:ACCOUNT:NAME)"},
	envKey("notify.admins.slack_webhook_env", "the webhook URL"),
	{path: "notify.admins.send_when", enum: []string{SendWhenFindings, SendWhenAlways}, noun: "value"},
	{path: "notify.admins.max_items", min: bound(1), max: bound(1000)},
	ssmKey("notify.admins.slack_webhook_ssm", "the webhook URL"),
	envKey("notify.admins.webhook_url_env", "the webhook URL"),
	ssmKey("notify.admins.webhook_url_ssm", "the webhook URL"),
	{path: "notify.rate_per_second", min: bound(0)},
	{path: "notify.console_url", optional: true, pattern: regexp.MustCompile(`^https://[^\s/?#]+[^\s]*$`),
		msg: "%q is not an https:// URL"},
	{path: "notify.ses.region", optional: true, pattern: regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`),
		msg: "%q is not an AWS region (want e.g. eu-west-1)"},
	{path: "notify.ses.configuration_set", optional: true, pattern: regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`),
		msg: "%q is not an SES configuration set name (1-64 letters, digits, _ and -)"},
	{path: "notify.smtp.host", optional: true, pattern: regexp.MustCompile(`^[^ /:]*$`),
		msg: "%q is not a host name (give the port in smtp.port)"},
	{path: "notify.smtp.port", min: bound(1), max: bound(65535)},
	{path: "notify.smtp.password_env", optional: true, pattern: envNameRE,
		msg: "%q is not an environment variable name (the password itself never goes in the config file)"},
	{path: "notify.smtp.password_ssm", optional: true, pattern: ssmNameRE,
		msg: "%q is not an SSM parameter name (want /path/name or its ARN)"},
	{path: "notify.outbox.dir", blank: true, empty: "required (the directory the outbox channel writes .eml files to)"},
	templateKey("notify.templates.user_subject"),
	templateKey("notify.templates.user_text"),
	templateKey("notify.templates.user_html"),
	templateKey("notify.templates.digest_subject"),
	templateKey("notify.templates.digest_text"),
	templateKey("notify.templates.digest_html"),

	{path: "enforce.mode", enum: []string{ModeDryRun, ModeApply}, noun: "mode"},
	{path: "enforce.allowed_accounts[]", accountID: true},
	{path: "enforce.max_actions_per_run", min: bound(0)},
	{path: "enforce.max_fraction", min: bound(0), exclusiveMin: true, max: bound(1)},
	{path: "enforce.grace_after_disable", min: bound(0), max: bound(MaxDays)},
	{path: "enforce.notice_before_action", min: bound(0), max: bound(MaxDays)},
	{path: "enforce.window.days[]", enum: weekdayNames, noun: "day", fold: true},
	{path: "enforce.window.start", optional: true, pattern: startRE,
		msg: "%q is not a time of day (want HH:MM, e.g. 09:00)"},
	{path: "enforce.window.end", optional: true, pattern: endRE,
		msg: "%q is not a time of day (want HH:MM, e.g. 17:00)"},
	{path: "enforce.stop_parameter", optional: true, pattern: ssmNameRE,
		msg: "%q is not an SSM parameter name (want /path/name or its ARN)"},
	{path: "enforce.protect[].key_ids[]", pattern: regexp.MustCompile(`^[A-Z0-9]{16,128}$`),
		msg: "%q is not an access key ID (want e.g. AKIAIOSFODNN7EXAMPLE)"},
	{path: "enforce.protect[].accounts[]", accountID: true},

	{path: "rotate.secret_name", blank: true, empty: "required (the pattern a rotation target's name must match, e.g. keywarden/{user})",
		pattern: secretNameRE, msg: "%q is not a Secrets Manager secret name pattern (1-512 letters, digits, /_+=.@- and {user})"},
	{path: "rotate.overlap_days", min: bound(1), max: bound(MaxDays)},
	{path: "rotate.targets[].class", optional: true, pattern: classNameRE,
		msg: "%q is not a valid class name (use letters, digits, - and _)"},
	{path: "rotate.targets[].user", optional: true, pattern: iamUserNameRE,
		msg: "%q is not an IAM user name (1-64 letters, digits and +=,.@_-)"},
	{path: "rotate.targets[].secret", required: true, blank: true,
		empty:   "required (a Secrets Manager secret name or ARN, or ssm:/path; {user} is the user's name)",
		pattern: secretTargetRE,
		msg:     "%q is not a rotation target (want a Secrets Manager secret name or ARN, or ssm:/path; {user} is the user's name)"},
}

// secretNameRE is a Secrets Manager secret name, {user} allowed;
// secretTargetRE a rotation target: such a name, a secret's ARN, or
// ssm:/path (an SSM parameter name, {user} allowed).
var (
	secretNameRE   = regexp.MustCompile(`^([A-Za-z0-9/_+=.@-]|\{user\}){1,512}$`)
	secretTargetRE = regexp.MustCompile(`^(([A-Za-z0-9/_+=.@-]|\{user\})+|arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:([A-Za-z0-9/_+=.@-]|\{user\})+|ssm:(/([A-Za-z0-9_.-]|\{user\})+)+)$`)
	iamUserNameRE  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// stagesAt, stagesAction and stagesSeverity are the keys of a class-stage
// rule's stages (rules.RULE.{}[]).
func stagesAt(rule string) constraint {
	return constraint{path: "rules." + rule + ".{}[].at", required: true, min: bound(1), max: bound(MaxDays)}
}

func stagesAction(rule string) constraint {
	return constraint{path: "rules." + rule + ".{}[].action", required: true, empty: "required",
		enum: []string{ActionNotify, ActionDisable, ActionDelete}, noun: "action"}
}

func stagesSeverity(rule string) constraint {
	return severity("rules." + rule + ".{}[].severity")
}

// severity is a rule's or a stage's severity ("" takes the default).
func severity(path string) constraint {
	return constraint{path: path, optional: true, enum: severities, noun: "severity"}
}

// notifyOnly is the action of a rule that only ever notifies; why says why.
func notifyOnly(path, why string) constraint {
	return constraint{path: path, enum: []string{ActionNotify}, msg: "only notify is allowed; " + why + " (got %q)"}
}

// envKey is a key naming the environment variable that holds a secret.
func envKey(path, what string) constraint {
	return constraint{path: path, optional: true, pattern: envNameRE,
		msg:    "%q is not an environment variable name",
		misuse: urlRE, misuseMsg: "name the environment variable that holds " + what + ", not the URL itself (secrets never go in the config file)"}
}

// ssmKey is a key naming the SSM parameter that holds a secret.
func ssmKey(path, what string) constraint {
	return constraint{path: path, optional: true, pattern: ssmNameRE,
		msg:    "%q is not an SSM parameter name (want /path/name or its ARN)",
		misuse: urlRE, misuseMsg: "name the SSM parameter that holds " + what + ", not the URL itself (secrets never go in the config file)"}
}

// templateKey is a key naming a template file; "" is the built-in one.
func templateKey(path string) constraint {
	return constraint{path: path, optional: true, blank: true, empty: "a file name, or leave it out for the built-in template"}
}

// constraintAt maps each constraint's path to it.
var constraintAt = func() map[string]*constraint {
	m := make(map[string]*constraint, len(constraints))
	for i := range constraints {
		c := &constraints[i]
		if m[c.path] != nil {
			panic("config: two constraints for " + c.path)
		}
		m[c.path] = c
	}
	return m
}()

// check returns the problem with v, the value at the constraint's key, or
// "" when there is none.
func (c *constraint) check(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return c.checkString(v.String())
	case reflect.Int, reflect.Int64:
		return c.checkNumber(float64(v.Int()), strconv.FormatInt(v.Int(), 10))
	case reflect.Float64:
		return c.checkNumber(v.Float(), strconv.FormatFloat(v.Float(), 'g', -1, 64))
	}
	return ""
}

func (c *constraint) checkString(s string) string {
	if s == "" && c.optional {
		return ""
	}
	if c.empty != "" && (s == "" || c.blank && strings.TrimSpace(s) == "") {
		if c.enum != nil {
			return c.empty + " (want " + orList(c.enum...) + ")"
		}
		return c.empty
	}
	if c.reserved != "" && s == c.reserved {
		return message(c.reservedMsg, s)
	}
	if re, msg := c.patternAndMsg(); re != nil && !re.MatchString(s) {
		if c.misuse != nil && c.misuse.MatchString(s) {
			return message(c.misuseMsg, s)
		}
		return message(msg, s)
	}
	if c.enum != nil && !slices.ContainsFunc(c.enum, func(e string) bool { return e == s || c.fold && strings.EqualFold(e, s) }) {
		switch {
		case c.msg != "":
			return message(c.msg, s)
		case c.suggest:
			return fmt.Sprintf("unknown %s %q %s", c.noun, s, suggest(s, c.enum, c.noun+"s"))
		}
		return fmt.Sprintf("unknown %s %q (want %s)", c.noun, s, orList(c.enum...))
	}
	return ""
}

func (c *constraint) checkNumber(x float64, got string) string {
	low := c.min != nil && (x < *c.min || c.exclusiveMin && x == *c.min)
	high := c.max != nil && x > *c.max
	if !low && !high {
		return ""
	}
	return c.boundsText() + " (got " + got + ")"
}

// boundsText says what a number must be: "must be between 1 and 64".
func (c *constraint) boundsText() string {
	n := func(p *float64) string { return strconv.FormatFloat(*p, 'f', -1, 64) }
	switch {
	case c.min != nil && c.max != nil && c.exclusiveMin:
		return "must be more than " + n(c.min) + " and at most " + n(c.max)
	case c.min != nil && c.max != nil:
		return "must be between " + n(c.min) + " and " + n(c.max)
	case c.min != nil && *c.min == 0 && !c.exclusiveMin:
		return "must be 0 or more"
	case c.min != nil && !c.exclusiveMin:
		return "must be at least " + n(c.min)
	}
	panic("config: constraint " + c.path + " has bounds boundsText cannot say")
}

// patternAndMsg is the pattern a string must match, if any, and the
// message when it does not.
func (c *constraint) patternAndMsg() (*regexp.Regexp, string) {
	if c.accountID {
		return accountIDRE, accountIDMsg
	}
	return c.pattern, c.msg
}

// message fills the value into format when it has a place for it.
func message(format, v string) string {
	if !strings.Contains(format, "%") {
		return format
	}
	return fmt.Sprintf(format, v)
}

// checkConstraints walks c and reports every value that breaks its
// constraint. It also numbers every key path it visits, in the order of
// the config's keys (see checker.order).
func (k *checker) checkConstraints(c *Config) {
	k.walk(reflect.ValueOf(c).Elem(), keyPath{}, "")
}

func (k *checker) walk(v reflect.Value, p keyPath, pattern string) {
	k.visit(p)
	if c := constraintAt[pattern]; c != nil {
		if msg := c.check(v); msg != "" {
			k.addPhase(phaseConstraint, p, msg)
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			k.walk(v.Elem(), p, pattern)
		}
	case reflect.Struct:
		if v.Type() == dateType {
			return
		}
		fields, names := yamlFields(v.Type())
		for _, name := range names {
			k.walk(v.Field(fields[name]), p.key(name), joinPattern(pattern, name))
		}
	case reflect.Slice:
		for i := range v.Len() {
			k.walk(v.Index(i), p.idx(i), pattern+"[]")
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, key := range keys {
			k.walk(v.MapIndex(key), p.key(key.String()), joinPattern(pattern, "{}"))
		}
	}
}

func joinPattern(pattern, key string) string {
	if pattern == "" {
		return key
	}
	return pattern + "." + key
}
