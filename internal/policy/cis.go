package policy

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
)

// SetupWindow is how soon after a user's creation an access key counts as
// created "during initial user setup" for access_key_at_setup (CIS 1.11):
// within 24 hours, inclusive.
const SetupWindow = 24 * time.Hour

// IAM's password policy values when the account sets none.
const (
	defaultMinimumPasswordLength = 8
	defaultPasswordReuse         = 0
)

// reportOf names the credential report in reasons: "the credential report
// of 2026-06-15" (its generation day), or "the credential report".
func (e *evaluator) reportOf() string {
	if e.snap.ReportGeneratedAt.IsZero() {
		return "the credential report"
	}
	return "the credential report of " + formatDay(e.snap.ReportGeneratedAt)
}

// rootKeys is root_access_key: every active root access key of the
// report. With an account summary (read live, when the report can be four
// hours old), IAM's view now wins: no key in the summary, no finding; a
// key in the summary where the report shows none, a finding in slot 0.
func (e *evaluator) rootKeys(u *inventory.User) []Finding {
	creds := make([]rootCred, len(u.AccessKeys))
	for i, k := range u.AccessKeys {
		creds[i] = rootCred{k.Slot, k.Active, k.CreatedAt, ""}
	}
	present := e.snap.Summary == nil || e.snap.Summary.RootAccessKeysPresent
	return e.rootCreds(e.cfg.Rules.RootAccessKey, config.RuleRootAccessKey, CredentialRoot, creds, present,
		"access key", "created")
}

// rootCerts is root_signing_certificate, as rootKeys is root_access_key
// (credential "root", as policy.Rules lists it: root's credentials are
// never acted on; KeyID is the certificate's ID when known).
func (e *evaluator) rootCerts(u *inventory.User) []Finding {
	creds := make([]rootCred, len(u.SigningCerts))
	for i, c := range u.SigningCerts {
		creds[i] = rootCred{c.Slot, c.Active, c.CreatedAt, c.ID}
	}
	present := e.snap.Summary == nil || e.snap.Summary.RootSigningCertsPresent
	return e.rootCreds(e.cfg.Rules.RootSigningCert, config.RuleRootSigningCert, CredentialRoot, creds, present,
		"signing certificate", "uploaded")
}

// rootCred is one of root's access keys or signing certificates.
type rootCred struct {
	slot    int
	active  bool
	created time.Time
	id      string
}

// rootCreds are the findings of rule r (root_access_key,
// root_signing_certificate) for root's credentials of one kind (noun,
// created or uploaded: verb): one for each active one, none when the
// account summary has none (present false), and one in slot 0 when the
// summary has one the report does not show.
func (e *evaluator) rootCreds(r *config.FlagRule, rule, credential string, creds []rootCred, present bool, noun, verb string) []Finding {
	if r == nil || !enabled(r.Enabled) || !present {
		return nil
	}
	var out []Finding
	for _, c := range creds {
		if !c.active {
			continue
		}
		f := rootFlag(r, credential, rule, c.slot, c.created, e.now)
		f.KeyID = c.id
		f.Reason = fmt.Sprintf("root user has an active %s in slot %d", noun, c.slot)
		if !c.created.IsZero() {
			f.Reason += fmt.Sprintf(", %s %s ago, on %s", verb, nDays(f.AgeDays), formatDay(c.created))
		}
		f.Reason += "; root " + noun + "s should be deleted"
		out = append(out, f)
	}
	if e.snap.Summary != nil && len(creds) == 0 {
		f := rootFlag(r, credential, rule, 0, time.Time{}, e.now)
		f.Reason = fmt.Sprintf("the account summary reports a root %s that %s does not show (%s since?); root %ss should be deleted",
			noun, e.reportOf(), verb, noun)
		out = append(out, f)
	}
	return out
}

// rootFlag is a root finding of a flag rule: notify, the rule's severity
// (default critical), aged from created when known.
func rootFlag(r *config.FlagRule, credential, rule string, slot int, created, now time.Time) Finding {
	f := Finding{
		Credential:   credential,
		Slot:         slot,
		Rule:         rule,
		Action:       config.ActionNotify,
		Severity:     cmp.Or(r.Severity, config.SeverityCritical),
		KeyCreatedAt: created,
	}
	if !created.IsZero() {
		f.AgeDays = AgeDays(created, now)
	}
	return f
}

// rootHasActiveKey reports whether root holds an active access key or
// signing certificate, as the account summary says when there is one, else
// as the report does; and names it.
func (e *evaluator) rootHasActiveKey(u *inventory.User) (bool, string) {
	sum := e.snap.Summary
	for _, k := range u.AccessKeys {
		if k.Active && (sum == nil || sum.RootAccessKeysPresent) {
			return true, fmt.Sprintf("an active access key (slot %d)", k.Slot)
		}
	}
	if sum != nil && sum.RootAccessKeysPresent && len(u.AccessKeys) == 0 {
		return true, "an access key (the account summary reports one)"
	}
	for _, c := range u.SigningCerts {
		if c.Active && (sum == nil || sum.RootSigningCertsPresent) {
			return true, fmt.Sprintf("an active signing certificate (slot %d)", c.Slot)
		}
	}
	if sum != nil && sum.RootSigningCertsPresent && len(u.SigningCerts) == 0 {
		return true, "a signing certificate (the account summary reports one)"
	}
	return false, ""
}

// rootRecentUse is root_recent_use (CIS 1.7): root's console password, or
// one of its access keys, last used within `within` days (age_days <=
// within). age_days is the days since the most recent of those uses, and
// the reason names that credential.
func (e *evaluator) rootRecentUse(u *inventory.User) (Finding, bool) {
	r := e.cfg.Rules.RootRecentUse
	if r == nil || !enabled(r.Enabled) {
		return Finding{}, false
	}
	var last time.Time
	what := ""
	if u.PasswordEnabled && !u.PasswordLastUsed.IsZero() {
		last, what = u.PasswordLastUsed, "console password"
	}
	for _, k := range u.AccessKeys {
		if k.LastUsedAt.After(last) {
			last, what = k.LastUsedAt, fmt.Sprintf("access key %d", k.Slot)
		}
	}
	if last.IsZero() {
		return Finding{}, false
	}
	days := max(AgeDays(last, e.now), 0)
	if days > r.Within {
		return Finding{}, false
	}
	f := Finding{
		Credential: CredentialRoot,
		Rule:       config.RuleRootRecentUse,
		AgeDays:    days,
		StageAt:    r.Within,
		Action:     config.ActionNotify,
		Severity:   severityOf(r.Severity, config.ActionNotify),
	}
	when := nDays(days) + " ago"
	if days == 0 {
		when = "today"
	}
	f.Reason = fmt.Sprintf("root user's %s was last used %s, on %s (within %s); use root only for the few tasks that need it",
		what, when, formatDay(last), nDays(r.Within))
	return f, true
}

// mfaMissing is mfa_missing for one user, or for root. A user is reported
// for a console password without MFA. Root is reported when it has no MFA
// (the account summary's AccountMFAEnabled, when there is one, else the
// report's mfa_active) and has a console password or an active access key
// or signing certificate; always notify and critical. When root's
// password is off (password_enabled false), the reason claims none.
func (e *evaluator) mfaMissing(u *inventory.User, root bool) (Finding, bool) {
	r := e.cfg.Rules.MFAMissing
	if r == nil || !enabled(r.Enabled) {
		return Finding{}, false
	}
	mfa, note := u.MFAActive, ""
	if sum := e.snap.Summary; root && sum != nil && sum.RootMFAEnabled != u.MFAActive {
		mfa = sum.RootMFAEnabled
		note = "; the account summary reports no MFA device where " + e.reportOf() + " showed one"
	}
	if mfa {
		return Finding{}, false
	}
	action := actionOf(r.Action)
	f := Finding{
		Credential: CredentialMFA,
		Rule:       config.RuleMFAMissing,
		Action:     action,
		Severity:   severityOf(r.Severity, action),
	}
	since, how := u.PasswordLastChanged, "password set %s ago, on %s"
	switch {
	case !root && !u.PasswordEnabled:
		return Finding{}, false
	case !root:
		f.Reason = "console password without MFA"
	case u.PasswordEnabled:
		f.Action, f.Severity = config.ActionNotify, config.SeverityCritical
		f.Reason = "root user has a console password without MFA"
	default:
		has, what := e.rootHasActiveKey(u)
		if !has {
			return Finding{}, false
		}
		f.Action, f.Severity = config.ActionNotify, config.SeverityCritical
		f.Reason = "root user has no MFA device and holds " + what
		since = time.Time{}
	}
	if since.IsZero() {
		since, how = u.CreatedAt, "user created %s ago, on %s"
	}
	if !since.IsZero() {
		f.AgeDays = AgeDays(since, e.now)
		f.Reason += " (" + fmt.Sprintf(how, nDays(f.AgeDays), formatDay(since)) + ")"
	}
	f.Reason += note
	return f, true
}

// account appends the account's own findings: password_policy.
func (e *evaluator) account(out []Finding) []Finding {
	f, controls, ok := e.passwordPolicy()
	if !ok {
		return out
	}
	out = e.add(out, &inventory.User{Name: AccountUser}, "", []string{}, f)
	// Only the controls the policy fails (ControlsOf lists both).
	out[len(out)-1].Controls = controls
	return out
}

// passwordPolicy is password_policy (CIS 1.8, 1.9): one finding for the
// account when its password policy was read and is missing (IAM's
// defaults then apply: 8 characters, no reuse prevention), or requires
// fewer than min_length characters, or prevents the reuse of fewer than
// reuse_prevention passwords. controls are the ones the policy fails at
// the benchmark's thresholds (CISPasswordMinLength, CISPasswordReuse),
// which a stricter config does not move.
func (e *evaluator) passwordPolicy() (f Finding, controls []string, ok bool) {
	r := e.cfg.Rules.PasswordPolicy
	if r == nil || !enabled(r.Enabled) || !e.snap.PasswordPolicyKnown {
		return Finding{}, nil, false
	}
	minLen, reuse, intro := defaultMinimumPasswordLength, defaultPasswordReuse,
		"the account has no password policy, so IAM's defaults apply: "
	if p := e.snap.PasswordPolicy; p != nil {
		minLen, reuse, intro = p.MinimumLength, p.ReusePrevention, "the account password policy is too weak: "
		if minLen == 0 {
			minLen = defaultMinimumPasswordLength
		}
	}
	var short []string
	controls = []string{}
	if minLen < r.MinLength {
		short = append(short, fmt.Sprintf("minimum length %d (want at least %d)", minLen, r.MinLength))
	}
	// The controls follow the benchmark, not a stricter config.
	if minLen < CISPasswordMinLength {
		controls = append(controls, "CIS 1.8")
	}
	switch {
	case reuse >= r.ReusePrevention:
	case reuse == 0:
		short = append(short, fmt.Sprintf("password reuse not prevented (want the last %d passwords)", r.ReusePrevention))
	default:
		short = append(short, fmt.Sprintf("reuse prevented for the last %d passwords only (want %d)", reuse, r.ReusePrevention))
	}
	if reuse < CISPasswordReuse {
		controls = append(controls, "CIS 1.9")
	}
	if len(short) == 0 {
		return Finding{}, nil, false
	}
	f = Finding{
		Credential: CredentialAccount,
		Rule:       config.RulePasswordPolicy,
		Action:     config.ActionNotify,
		Severity:   severityOf(r.Severity, config.ActionNotify),
		Reason:     intro + strings.Join(short, "; "),
	}
	return f, controls, true
}

// keyAtSetup is access_key_at_setup (CIS 1.11) for one key: a user with a
// console password and an active key created within SetupWindow of the
// user's creation and never used.
func (e *evaluator) keyAtSetup(u *inventory.User, k *inventory.AccessKey) (Finding, bool) {
	r := e.cfg.Rules.AccessKeyAtSetup
	if r == nil || !enabled(r.Enabled) || !u.PasswordEnabled || !k.Active || !k.LastUsedAt.IsZero() ||
		k.CreatedAt.IsZero() || u.CreatedAt.IsZero() {
		return Finding{}, false
	}
	gap := k.CreatedAt.Sub(u.CreatedAt)
	if gap < 0 || gap > SetupWindow {
		return Finding{}, false
	}
	f := Finding{
		Credential:   CredentialAccessKey,
		Slot:         k.Slot,
		Rule:         config.RuleAccessKeyAtSetup,
		AgeDays:      AgeDays(k.CreatedAt, e.now),
		Action:       config.ActionNotify,
		Severity:     cmp.Or(r.Severity, config.SeverityMedium),
		KeyCreatedAt: k.CreatedAt,
		KeyActive:    true,
	}
	f.Reason = fmt.Sprintf("access key %d was created with this console user (%s after it, on %s) and has never been used; "+
		"delete it unless a program needs it", k.Slot, gapWords(gap), formatDay(k.CreatedAt))
	return f, true
}

// gapWords says a short duration in words: "3 hours", "under an hour".
func gapWords(d time.Duration) string {
	h := int(d / time.Hour)
	switch {
	case h < 1:
		return "under an hour"
	case h == 1:
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", h)
}

// twoActiveKeys is two_active_keys (CIS 1.13): a user with two active
// access keys. age_days counts from the newer key's creation: how long
// the user has had two.
func (e *evaluator) twoActiveKeys(u *inventory.User) (Finding, bool) {
	r := e.cfg.Rules.TwoActiveKeys
	if r == nil || !enabled(r.Enabled) {
		return Finding{}, false
	}
	var active []string
	var newest time.Time
	for _, k := range u.AccessKeys {
		if !k.Active {
			continue
		}
		s := fmt.Sprintf("key %d", k.Slot)
		if !k.CreatedAt.IsZero() {
			s += " created " + formatDay(k.CreatedAt)
			if k.CreatedAt.After(newest) {
				newest = k.CreatedAt
			}
		}
		active = append(active, s)
	}
	if len(active) < 2 {
		return Finding{}, false
	}
	f := Finding{
		Credential: CredentialUser,
		Rule:       config.RuleTwoActiveKeys,
		Action:     config.ActionNotify,
		Severity:   cmp.Or(r.Severity, config.SeverityMedium),
	}
	if !newest.IsZero() {
		f.AgeDays = AgeDays(newest, e.now)
	}
	f.Reason = fmt.Sprintf("user has two active access keys (%s); keep one: finish the rotation and deactivate the other",
		strings.Join(active, ", "))
	return f, true
}

// consoleAndKeys is console_and_keys (informational): a user with a
// console password and at least one active access key.
func (e *evaluator) consoleAndKeys(u *inventory.User) (Finding, bool) {
	r := e.cfg.Rules.ConsoleAndKeys
	if r == nil || !enabled(r.Enabled) || !u.PasswordEnabled {
		return Finding{}, false
	}
	n := 0
	for _, k := range u.AccessKeys {
		if k.Active {
			n++
		}
	}
	if n == 0 {
		return Finding{}, false
	}
	keys := "an active access key"
	if n > 1 {
		keys = fmt.Sprintf("%d active access keys", n)
	}
	f := Finding{
		Credential: CredentialUser,
		Rule:       config.RuleConsoleAndKeys,
		Action:     config.ActionNotify,
		Severity:   cmp.Or(r.Severity, config.SeverityInfo),
		Reason: "user has both a console password and " + keys +
			"; people usually need only the console and programs only keys: check that both are needed",
	}
	return f, true
}

// dormantUser is dormant_user: a user with a console password or an
// active access key, none of which was used for `after` days. Each counts
// from its last use, else from when it was set (the password's last
// change, else the user's creation; a key's creation); a credential with
// no date at all leaves the user unjudged. Inactive keys are not counted.
func (e *evaluator) dormantUser(u *inventory.User) (Finding, bool) {
	r := e.cfg.Rules.DormantUser
	if r == nil || !enabled(r.Enabled) {
		return Finding{}, false
	}
	var names []string
	var latest time.Time
	latestWhat, latestUsed := "", false
	consider := func(name string, used, set time.Time) bool {
		names = append(names, name)
		t, wasUsed := used, !used.IsZero()
		if !wasUsed {
			t = set
		}
		if t.IsZero() {
			return false
		}
		if t.After(latest) {
			latest, latestWhat, latestUsed = t, name, wasUsed
		}
		return true
	}
	if u.PasswordEnabled && !consider("console password", u.PasswordLastUsed, cmp.Or(u.PasswordLastChanged, u.CreatedAt)) {
		return Finding{}, false
	}
	for _, k := range u.AccessKeys {
		if k.Active && !consider(fmt.Sprintf("access key %d", k.Slot), k.LastUsedAt, k.CreatedAt) {
			return Finding{}, false
		}
	}
	if len(names) == 0 {
		return Finding{}, false
	}
	days, ok := e.unusedFor(latest, r.After)
	if !ok {
		return Finding{}, false
	}
	action := actionOf(r.Action)
	f := Finding{
		Credential: CredentialUser,
		Rule:       config.RuleDormantUser,
		AgeDays:    days,
		StageAt:    r.After,
		Action:     action,
		Severity:   severityOf(r.Severity, action),
	}
	last := fmt.Sprintf("the latest use was of its %s, %s ago, on %s", latestWhat, nDays(days), formatDay(latest))
	if !latestUsed {
		verb := "created"
		if latestWhat == "console password" {
			verb = "set"
		}
		last = fmt.Sprintf("the newest is its %s, %s %s ago, on %s, and never used", latestWhat, verb, nDays(days), formatDay(latest))
	}
	f.Reason = fmt.Sprintf("none of this user's credentials (%s) has been used for %s or more: %s; remove the user if nobody needs it",
		strings.Join(names, ", "), nDays(r.After), last)
	return f, true
}
