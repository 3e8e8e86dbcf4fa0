package config

import (
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Validate checks the config's meaning: known actions and severities,
// ascending stages, defined classes, well-formed account IDs, ARNs,
// addresses and URLs, and so on. It returns every problem joined with
// errors.Join, each a *ConfigError with its key path (File and Line are
// empty; Parse and Load fill them in).
func (c *Config) Validate() error {
	probs := c.problems()
	if len(probs) == 0 {
		return nil
	}
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p
	}
	return errors.Join(errs...)
}

var (
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
	roleARNRE   = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::([0-9]{12}):role/([\w+=,.@/-]+)$`)
	roleNameRE  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	ouRE        = regexp.MustCompile(`^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})$`)
	classNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	domainRE    = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$`)
	snsTopicRE  = regexp.MustCompile(`^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[\w-]{1,256}(\.fifo)?$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	tableNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
	ruleNames   = []string{RuleAccessKeyAge, RuleAccessKeyUnused, RulePasswordExpiry, RulePasswordUnused, RuleMFAMissing, RuleRootAccessKey}
	severities  = []string{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
)

// sessionNameRE is an sts:AssumeRole session name.
var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// Patterns for the notification channels' keys (keywarden run).
var (
	ssmNameRE      = regexp.MustCompile(`^(arn:aws(-[a-z]+)*:ssm:[a-z0-9-]+:[0-9]{12}:parameter)?/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	sesConfigSetRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	httpsURLRE     = regexp.MustCompile(`^https://[^\s/?#]+[^\s]*$`)
)

// Channels notify.users.via may name.
var channels = []string{"ses", "smtp", "outbox"}

// checker collects problems with their key paths.
type checker struct{ probs []*ConfigError }

func (k *checker) add(p keyPath, format string, args ...any) {
	k.probs = append(k.probs, &ConfigError{Path: p.String(), Msg: fmt.Sprintf(format, args...)})
}

// problems is Validate's list of problems, without file positions.
func (c *Config) problems() []*ConfigError {
	k := &checker{}
	root := keyPath{}
	switch c.Version {
	case CurrentVersion:
	case 0:
		k.add(root.key("version"), "required; add `version: %d`", CurrentVersion)
	default:
		k.add(root.key("version"), "unsupported config version %d (this keywarden understands %d)", c.Version, CurrentVersion)
	}
	k.accounts(&c.Accounts, root.key("accounts"))
	classes := k.classes(c.Classes, root.key("classes"))
	k.rules(&c.Rules, classes, root.key("rules"))
	k.exemptions(c.Exemptions, root.key("exemptions"))
	k.notify(&c.Notify, root.key("notify"))
	k.enforce(&c.Enforce, root.key("enforce"))
	k.state(&c.State, root.key("state"))
	return k.probs
}

func (k *checker) accountID(p keyPath, id string) {
	if !accountIDRE.MatchString(id) {
		k.add(p, "%q is not an AWS account ID (want 12 digits)", id)
	}
}

func (k *checker) accounts(a *Accounts, p keyPath) {
	if a.Organization != nil && len(a.List) > 0 {
		k.add(p, "organization and list are mutually exclusive; keep one")
	}
	if o := a.Organization; o != nil {
		op := p.key("organization")
		switch {
		case o.RoleName == "":
			k.add(op.key("role_name"), "required (the role keywarden assumes in each account, e.g. KeywardenAudit)")
		case strings.HasPrefix(o.RoleName, "arn:"):
			k.add(op.key("role_name"), "want the role's name, not its ARN (%q)", o.RoleName)
		case !roleNameRE.MatchString(o.RoleName):
			k.add(op.key("role_name"), "%q is not an IAM role name", o.RoleName)
		}
		for i, id := range o.Exclude {
			k.accountID(op.key("exclude").idx(i), id)
		}
		for i, ou := range o.OUs {
			if !ouRE.MatchString(ou) {
				k.add(op.key("ous").idx(i), "%q is not an organizational unit or root ID (want ou-xxxx-xxxxxxxx or r-xxxx)", ou)
			}
		}
	}
	seen := map[string]int{}
	for i, t := range a.List {
		ip := p.key("list").idx(i)
		if t.ID == "" {
			k.add(ip.key("id"), "required")
		} else {
			k.accountID(ip.key("id"), t.ID)
			if first, dup := seen[t.ID]; dup {
				k.add(ip.key("id"), "duplicate account %s (also accounts.list[%d])", t.ID, first)
			} else {
				seen[t.ID] = i
			}
		}
		if t.RoleARN != "" {
			m := roleARNRE.FindStringSubmatch(t.RoleARN)
			switch {
			case m == nil:
				k.add(ip.key("role_arn"), "%q is not an IAM role ARN (want arn:aws:iam::ACCOUNT:role/NAME)", t.RoleARN)
			case accountIDRE.MatchString(t.ID) && m[2] != t.ID:
				k.add(ip.key("role_arn"), "the role is in account %s, not %s", m[2], t.ID)
			}
		}
	}
	if a.Parallel < 1 || a.Parallel > 64 {
		k.add(p.key("parallel"), "must be between 1 and 64 (got %d)", a.Parallel)
	}
	if !sessionNameRE.MatchString(a.SessionName) {
		k.add(p.key("session_name"), "%q is not an AssumeRole session name (2-64 letters, digits and =,.@_-)", a.SessionName)
	}
	if a.MaxAttempts < 1 || a.MaxAttempts > 20 {
		k.add(p.key("max_attempts"), "must be between 1 and 20 (got %d)", a.MaxAttempts)
	}
}

// classes checks the class list and returns the names it defines.
func (k *checker) classes(cs []Class, p keyPath) map[string]bool {
	names := map[string]bool{}
	first := map[string]int{}
	for i, c := range cs {
		cp := p.idx(i)
		switch {
		case c.Name == "":
			k.add(cp.key("name"), "required")
		case c.Name == DefaultClass:
			k.add(cp.key("name"), "%q is reserved for users no class matches; pick another name", DefaultClass)
		case !classNameRE.MatchString(c.Name):
			k.add(cp.key("name"), "%q is not a valid class name (use letters, digits, - and _)", c.Name)
		default:
			if j, dup := first[c.Name]; dup {
				k.add(cp.key("name"), "duplicate class %q (first defined at classes[%d])", c.Name, j)
			} else {
				first[c.Name] = i
				names[c.Name] = true
			}
		}
		k.match(&c.Match, cp.key("match"))
	}
	return names
}

func (k *checker) match(m *Match, p keyPath) {
	if len(m.Tags) == 0 && m.PathPrefix == "" && len(m.Groups) == 0 && len(m.Names) == 0 {
		k.add(p, "needs at least one of tags, path_prefix, groups or names")
		return
	}
	if _, empty := m.Tags[""]; empty {
		k.add(p.key("tags"), "empty tag key")
	}
	if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
		k.add(p.key("path_prefix"), "%q must start with / (IAM paths look like /service/)", m.PathPrefix)
	}
	for i, g := range m.Groups {
		if g == "" {
			k.add(p.key("groups").idx(i), "empty group name")
		}
	}
	k.globs(m.Names, p.key("names"))
}

func (k *checker) globs(gs []string, p keyPath) {
	for i, g := range gs {
		if g == "" {
			k.add(p.idx(i), "empty name pattern")
		} else if _, err := path.Match(g, ""); err != nil {
			k.add(p.idx(i), "bad glob %q: %v", g, err)
		}
	}
}

// orList lists values for "(want a, b or c)".
func orList(vals ...string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	return strings.Join(vals[:len(vals)-1], ", ") + " or " + vals[len(vals)-1]
}

func oneOf(v string, vals ...string) bool { return slices.Contains(vals, v) }

// action checks an action against the allowed ones.
func (k *checker) action(p keyPath, got string, allowed ...string) {
	switch {
	case got == "":
		k.add(p, "required (want %s)", orList(allowed...))
	case !oneOf(got, allowed...):
		k.add(p, "unknown action %q (want %s)", got, orList(allowed...))
	}
}

// severity accepts "" (the default severity applies).
func (k *checker) severity(p keyPath, got string) {
	if got != "" && !oneOf(got, severities...) {
		k.add(p, "unknown severity %q (want %s)", got, orList(severities...))
	}
}

func (k *checker) rules(r *Rules, classes map[string]bool, p keyPath) {
	ap := p.key("access_key_age")
	known := append([]string{DefaultClass}, slices.Sorted(maps.Keys(classes))...)
	for _, class := range slices.Sorted(maps.Keys(r.AccessKeyAge)) {
		cp := ap.key(class)
		if class != DefaultClass && !classes[class] {
			hint := " (define it under classes, or use human)"
			if s := suggest(class, known, ""); strings.HasPrefix(s, "(did you mean") {
				hint = " " + s
			}
			k.add(cp, "unknown class %q%s", class, hint)
		}
		k.stages(r.AccessKeyAge[class], cp)
	}
	k.unused(p.key("access_key_unused"), r.AccessKeyUnused, ActionNotify, ActionDisable)
	if e := r.PasswordExpiry; e != nil {
		ep := p.key("password_expiry")
		if e.WarnBefore < 0 {
			k.add(ep.key("warn_before"), "must be 0 or more (got %d)", e.WarnBefore)
		}
		if e.MaxAge < 0 {
			k.add(ep.key("max_age"), "must be 0 or more (got %d)", e.MaxAge)
		}
		k.severity(ep.key("severity"), e.Severity)
	}
	k.unused(p.key("password_unused"), r.PasswordUnused, ActionNotify, ActionRemovePassword)
	if f := r.MFAMissing; f != nil {
		fp := p.key("mfa_missing")
		if f.Action != ActionNotify {
			k.add(fp.key("action"), "only notify is allowed; keywarden cannot add MFA for a user (got %q)", f.Action)
		}
		k.severity(fp.key("severity"), f.Severity)
	}
	if f := r.RootAccessKey; f != nil {
		fp := p.key("root_access_key")
		if f.Action != ActionNotify {
			k.add(fp.key("action"), "only notify is allowed; the root user's credentials are never remediated (got %q)", f.Action)
		}
		k.severity(fp.key("severity"), f.Severity)
	}
}

func (k *checker) stages(st []Stage, p keyPath) {
	deleteAt := -1
	for i, s := range st {
		sp := p.idx(i)
		if s.At < 1 {
			k.add(sp.key("at"), "must be at least 1 (got %d)", s.At)
		} else if i > 0 && s.At <= st[i-1].At {
			k.add(sp.key("at"), "stages must ascend: %d is not after the previous stage's %d", s.At, st[i-1].At)
		}
		k.action(sp.key("action"), s.Action, ActionNotify, ActionDisable, ActionDelete)
		if s.Action == ActionDisable && deleteAt >= 0 {
			k.add(sp.key("action"), "disable after the delete stage at %d days; a deleted key cannot be disabled", deleteAt)
		}
		if s.Action == ActionDelete && deleteAt < 0 {
			deleteAt = s.At
		}
		k.severity(sp.key("severity"), s.Severity)
	}
}

func (k *checker) exemptions(es []Exemption, p keyPath) {
	for i, e := range es {
		ep := p.idx(i)
		if strings.TrimSpace(e.Reason) == "" {
			k.add(ep.key("reason"), "required; say why the exemption exists (it is shown in every report)")
		}
		if len(e.Users) == 0 && len(e.Tags) == 0 && len(e.Groups) == 0 {
			k.add(ep, "needs at least one of users, tags or groups")
		}
		k.globs(e.Users, ep.key("users"))
		if _, empty := e.Tags[""]; empty {
			k.add(ep.key("tags"), "empty tag key")
		}
		for j, g := range e.Groups {
			if g == "" {
				k.add(ep.key("groups").idx(j), "empty group name")
			}
		}
		for j, id := range e.Accounts {
			k.accountID(ep.key("accounts").idx(j), id)
		}
		for j, r := range e.Rules {
			if !oneOf(r, ruleNames...) {
				k.add(ep.key("rules").idx(j), "unknown rule %q %s", r, suggest(r, ruleNames, "rules"))
			}
		}
	}
}

func (k *checker) address(p keyPath, a string) {
	if _, err := mail.ParseAddress(a); err != nil {
		k.add(p, "%q is not an email address", a)
	}
}

func (k *checker) notify(n *Notify, p keyPath) {
	if n.From != "" {
		k.address(p.key("from"), n.From)
	} else if n.Users.Via == "ses" || n.Users.Via == "smtp" {
		k.add(p.key("from"), "required when notify.users.via is %s", n.Users.Via)
	}
	if n.RatePerSecond < 0 {
		k.add(p.key("rate_per_second"), "must be 0 or more (got %g)", n.RatePerSecond)
	}
	up := p.key("users")
	for i, t := range n.Users.EmailTags {
		if t == "" {
			k.add(up.key("email_tags").idx(i), "empty tag key")
		}
	}
	for i, d := range n.Users.AllowedDomains {
		if !domainRE.MatchString(d) {
			k.add(up.key("allowed_domains").idx(i), "%q is not a domain name (want e.g. example.com)", d)
		}
	}
	if n.Users.RemindEvery < 1 {
		k.add(up.key("remind_every"), "must be at least 1 (got %d)", n.Users.RemindEvery)
	}
	if !oneOf(n.Users.Via, channels...) {
		k.add(up.key("via"), "unknown channel %q (want %s)", n.Users.Via, orList(channels...))
	}
	ap := p.key("admins")
	for i, e := range n.Admins.Emails {
		k.address(ap.key("emails").idx(i), e)
	}
	if t := n.Admins.SNSTopicARN; t != "" && !snsTopicRE.MatchString(t) {
		k.add(ap.key("sns_topic_arn"), "%q is not an SNS topic ARN (want arn:aws:sns:REGION:ACCOUNT:NAME)", t)
	}
	if e := n.Admins.SlackWebhookEnv; e != "" && !envNameRE.MatchString(e) {
		if strings.Contains(e, "://") {
			k.add(ap.key("slack_webhook_env"), "name the environment variable that holds the webhook URL, not the URL itself (secrets never go in the config file)")
		} else {
			k.add(ap.key("slack_webhook_env"), "%q is not an environment variable name", e)
		}
	}
	if !oneOf(n.Admins.SendWhen, SendWhenFindings, SendWhenAlways) {
		k.add(ap.key("send_when"), "unknown value %q (want %s)", n.Admins.SendWhen, orList(SendWhenFindings, SendWhenAlways))
	}
	k.notifyChannels(n, p)
}

// notifyChannels checks the channel settings that `keywarden run` uses:
// secrets named by environment variable or SSM parameter, SES, SMTP, the
// outbox and template files.
func (k *checker) notifyChannels(n *Notify, p keyPath) {
	ap := p.key("admins")
	k.secretRef(ap, "slack_webhook_env", n.Admins.SlackWebhookEnv, "slack_webhook_ssm", n.Admins.SlackWebhookSSM, "the webhook URL")
	k.secretRef(ap, "webhook_url_env", n.Admins.WebhookURLEnv, "webhook_url_ssm", n.Admins.WebhookURLSSM, "the webhook URL")
	if u := n.ConsoleURL; u != "" && !httpsURLRE.MatchString(u) {
		k.add(p.key("console_url"), "%q is not an https:// URL", u)
	}
	sp := p.key("ses")
	if r := n.SES.Region; r != "" && !regionRE.MatchString(r) {
		k.add(sp.key("region"), "%q is not an AWS region (want e.g. eu-west-1)", r)
	}
	if c := n.SES.ConfigurationSet; c != "" && !sesConfigSetRE.MatchString(c) {
		k.add(sp.key("configuration_set"), "%q is not an SES configuration set name (1-64 letters, digits, _ and -)", c)
	}
	mp := p.key("smtp")
	if n.Users.Via == "smtp" && strings.TrimSpace(n.SMTP.Host) == "" {
		k.add(mp.key("host"), "required when notify.users.via is smtp (the mail server, e.g. smtp.example.com)")
	}
	if h := n.SMTP.Host; h != "" && strings.ContainsAny(h, " /:") {
		k.add(mp.key("host"), "%q is not a host name (give the port in smtp.port)", h)
	}
	if n.SMTP.Port < 1 || n.SMTP.Port > 65535 {
		k.add(mp.key("port"), "must be between 1 and 65535 (got %d)", n.SMTP.Port)
	}
	if e := n.SMTP.PasswordEnv; e != "" && !envNameRE.MatchString(e) {
		k.add(mp.key("password_env"), "%q is not an environment variable name (the password itself never goes in the config file)", e)
	}
	if s := n.SMTP.PasswordSSM; s != "" && !ssmNameRE.MatchString(s) {
		k.add(mp.key("password_ssm"), "%q is not an SSM parameter name (want /path/name or its ARN)", s)
	}
	if strings.TrimSpace(n.Outbox.Dir) == "" {
		k.add(p.key("outbox").key("dir"), "required (the directory the outbox channel writes .eml files to)")
	}
	tp := p.key("templates")
	for _, t := range []struct{ key, val string }{
		{"user_subject", n.Templates.UserSubject}, {"user_text", n.Templates.UserText}, {"user_html", n.Templates.UserHTML},
		{"digest_subject", n.Templates.DigestSubject}, {"digest_text", n.Templates.DigestText}, {"digest_html", n.Templates.DigestHTML},
	} {
		if t.val != "" && strings.TrimSpace(t.val) == "" {
			k.add(tp.key(t.key), "a file name, or leave it out for the built-in template")
		}
	}
}

// secretRef checks a secret named by an environment variable (envKey) or an
// SSM parameter (ssmKey), at most one of them.
func (k *checker) secretRef(p keyPath, envKey, env, ssmKey, ssm, what string) {
	if env != "" && ssm != "" {
		k.add(p.key(ssmKey), "set %s or %s, not both", envKey, ssmKey)
	}
	if ssm != "" && !ssmNameRE.MatchString(ssm) {
		if strings.Contains(ssm, "://") {
			k.add(p.key(ssmKey), "name the SSM parameter that holds %s, not the URL itself (secrets never go in the config file)", what)
		} else {
			k.add(p.key(ssmKey), "%q is not an SSM parameter name (want /path/name or its ARN)", ssm)
		}
	}
	if envKey == "slack_webhook_env" {
		return // checked with the other admin keys above
	}
	if env != "" && !envNameRE.MatchString(env) {
		if strings.Contains(env, "://") {
			k.add(p.key(envKey), "name the environment variable that holds %s, not the URL itself (secrets never go in the config file)", what)
		} else {
			k.add(p.key(envKey), "%q is not an environment variable name", env)
		}
	}
}

func (k *checker) enforce(e *Enforce, p keyPath) {
	if !oneOf(e.Mode, ModeDryRun, ModeApply) {
		k.add(p.key("mode"), "unknown mode %q (want %s)", e.Mode, orList(ModeDryRun, ModeApply))
	}
	for i, id := range e.AllowedAccounts {
		k.accountID(p.key("allowed_accounts").idx(i), id)
	}
	if e.MaxActionsPerRun < 0 {
		k.add(p.key("max_actions_per_run"), "must be 0 or more (got %d)", e.MaxActionsPerRun)
	}
	if !(e.MaxFraction > 0 && e.MaxFraction <= 1) {
		k.add(p.key("max_fraction"), "must be more than 0 and at most 1 (got %g)", e.MaxFraction)
	}
	if e.GraceAfterDisable < 0 {
		k.add(p.key("grace_after_disable"), "must be 0 or more (got %d)", e.GraceAfterDisable)
	}
	if w := e.Window; w != nil {
		wp := p.key("window")
		for i, d := range w.Days {
			if _, ok := Weekdays[strings.ToLower(d)]; !ok {
				k.add(wp.key("days").idx(i), "unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", d)
			}
		}
		start, okS := parseClock(w.Start)
		end, okE := parseClock(w.End)
		if !okS {
			k.add(wp.key("start"), "%q is not a time of day (want HH:MM, e.g. 09:00)", w.Start)
		}
		if !okE {
			k.add(wp.key("end"), "%q is not a time of day (want HH:MM, e.g. 17:00)", w.End)
		}
		if okS && okE && w.Start != "" && w.End != "" && end <= start {
			k.add(wp.key("end"), "must be after start (%s), on the same day", w.Start)
		}
		if _, err := loadZone(w.Timezone); err != nil {
			k.add(wp.key("timezone"), "%q is not a time zone (want an IANA name such as Europe/Berlin)", w.Timezone)
		}
	}
}

func (k *checker) state(s *State, p keyPath) {
	up := p.key("url")
	const want = "want sqlite://PATH or dynamodb://TABLE"
	switch {
	case s.URL == "":
		k.add(up, "required (%s)", want)
	case strings.HasPrefix(s.URL, "sqlite://"):
		if strings.TrimPrefix(s.URL, "sqlite://") == "" {
			k.add(up, "sqlite:// needs a file path, e.g. sqlite://keywarden.db")
		}
	case strings.HasPrefix(s.URL, "dynamodb://"):
		if t := strings.TrimPrefix(s.URL, "dynamodb://"); !tableNameRE.MatchString(t) {
			k.add(up, "%q is not a DynamoDB table name (3-255 letters, digits, _ . -)", t)
		}
	default:
		k.add(up, "%q is not a state URL (%s)", s.URL, want)
	}
}

// unused checks an access_key_unused or password_unused rule at p.
func (k *checker) unused(p keyPath, u *UnusedRule, actions ...string) {
	if u == nil {
		return
	}
	if u.After < 1 {
		k.add(p.key("after"), "must be at least 1 (got %d)", u.After)
	}
	k.action(p.key("action"), u.Action, actions...)
	k.severity(p.key("severity"), u.Severity)
}
