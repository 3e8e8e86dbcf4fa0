package policy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
)

// Evaluate checks every credential of snap against cfg as of now and
// returns one Finding per credential and rule it breaks. It is pure: no
// clock, no I/O; cfg is expected to be validated (config.Default or
// config.Load). It never returns nil.
//
// Ages are whole days, AgeDays(t, now) = floor((now - t) / 24h), and a
// threshold of N days is reached when the age is >= N, so a missed run never
// skips a stage. Dates (next_stage_on, until) are UTC days.
//
// Every finding carries the account (ID and alias), the user, the user's
// class (ClassOf), the owner's Recipients (an empty list for root and the
// account), a human Reason, the exemption that applies, its Controls
// (the controls it fails at the benchmark's thresholds: findingControls;
// password_policy lists only the controls it fails), and ID =
// FindingID(account, user, credential, slot, key creation time (zero for
// passwords, MFA and findings about a user or the account), rule), where
// the credential of a service-specific credential or an SSH key has ":"
// and its ID appended (see idCredential). KeyID is the ID of the
// credential when the snapshot knows it (service-specific credentials and
// SSH keys always; access keys and signing certificates only once the
// collector resolves it, for findings that need it). A stage or rule
// without a severity gets one from its action: notify medium, disable,
// delete and remove_password high.
//
// The rules:
//   - access_key_age (credential "access_key"): each key on its own, by its
//     creation date (keys without one are skipped: see
//     access_key_unknown_age), against the stages of the
//     user's class, or the "human" stages when the class has none. An active
//     key is reported at the highest stage it reached (stage_at, action,
//     severity); next_stage_on is the UTC day of created + the next stage's
//     days, nil at the last stage. An inactive key is only cleaned up: only
//     delete stages count for it, never notify or disable.
//   - access_key_unused (credential "access_key"): an active key whose last
//     use, or creation when it was never used, is >= after days ago.
//   - access_key_unknown_age (credential "access_key"): an active key with
//     no creation date, or one after both now and the report's generation
//     time (ReportGeneratedAt, when known): its age cannot be judged, so
//     the age rules cannot apply. Action always notify (never remediated),
//     severity the rule's (default high).
//   - two_active_keys (credential "user", CIS 1.13): a user with two
//     active access keys; age_days counts from the newer one's creation.
//   - access_key_at_setup (credential "access_key", CIS 1.11): a user with
//     a console password and an active key created within SetupWindow (24
//     hours, inclusive) after the user and never used.
//   - signing_certificate_age (credential "signing_certificate"): each
//     certificate slot as access_key_age does keys, by its upload date,
//     against the class's signing_certificate_age stages: active, every
//     stage; inactive, the delete stages only.
//   - service_credential_age (credential "service_credential"): only when
//     the snapshot read them (ServiceCredentialsRead); each credential by
//     its creation date against the class's service_credential_age
//     stages: Active, every stage; Inactive or Expired, the delete stages
//     only. KeyID is its ID, Service its service, and the reason names the
//     service in words (ServiceCredentialName).
//   - service_credential_expiry (credential "service_credential"): a
//     credential (not Inactive) with an expiration date whose days_left
//     (UTC days from today to the expiry day) <= warn_before, or that has
//     expired (now at or after it, or status Expired): notify, severity
//     the rule's, raised to at least high once expired; stage_at is the
//     lifetime in days less warn_before (the lifetime once expired);
//     next_stage_on the expiry day while it has not expired.
//   - ssh_key_age (credential "ssh_key", opt-in): for users whose keys were
//     read (SSHKeysRead) and whom the rule's users select, each active key
//     uploaded >= max_age days ago; notify only.
//   - password_expiry (credential "password"): users with a console
//     password. The maximum age is the account password policy's
//     MaxPasswordAge when it sets one, else the rule's max_age (0: no check).
//     The password's age counts from its last change (or the user's
//     creation); days_left = max age - age, and a finding is made when
//     days_left <= warn_before, negative once expired. stage_at is
//     max age - warn_before, or max age once expired (days_left <= 0), when
//     the severity is also raised to at least high. next_stage_on is the
//     expiry day while the password has not expired.
//   - password_unused (credential "password"): a console password last used
//     (else last changed, else the user's creation) >= after days ago.
//   - mfa_missing (credential "mfa"): a console password without MFA, for
//     users; for root, no MFA while it has a console password or an active
//     access key or signing certificate (a root whose password_enabled is
//     false gets a reason that claims no password). age_days counts from
//     the password's last change (or the user's creation), stage_at is 0.
//     For root the severity is always critical and the action always
//     notify (IAM cannot remove the root password).
//   - console_and_keys (credential "user", informational): a console
//     password and at least one active key; default severity info.
//   - dormant_user (credential "user"): a user with a console password or
//     an active key, none of them used (else set: the password's last
//     change or the user's creation, a key's creation) for >= after days.
//   - password_policy (credential "account", user AccountUser, CIS 1.8 and
//     1.9): one finding for the account when its password policy was read
//     (PasswordPolicyKnown) and is missing, or requires fewer than
//     min_length characters, or prevents the reuse of fewer than
//     reuse_prevention passwords; no recipients; Controls only the failing
//     controls.
//   - root_access_key (credential "root"): every active root access key;
//     action notify, severity the rule's (default critical), and no
//     recipients: only the admins are told.
//   - root_signing_certificate (credential "root"): every active root
//     signing certificate, as root_access_key (slot: the certificate's).
//   - root_recent_use (credential "root", CIS 1.7): root's console password
//     or an access key last used within `within` days (age_days <=
//     within, age_days the days since the latest use).
//
// Root gets no other access-key or certificate rule, no user-level rule,
// and no password rule but mfa_missing. When the snapshot has an account
// Summary (read live; the credential report can be four hours old), root's
// MFA, access keys and signing certificates are as the summary says: MFA
// enabled there overrides the report; no key (certificate) there means no
// root_access_key (root_signing_certificate) finding; one there that the
// report does not show gives a finding in slot 0 whose reason says so.
//
// Exemptions (see matchExempt): the first exemption that selects the finding
// and is in force (now's UTC day <= until) makes it exempt, with its reason.
// An exempt finding keeps its recipients; the plan decides not to mail it.
// When only an expired exemption selects it, the finding is enforceable and
// its reason ends with "; exemption expired on DATE (REASON)". The
// account's finding is matched as the user "<account>" (AccountUser),
// which only a users glob such as "*" selects.
//
// Order: root's findings first (root_access_key by slot, then
// root_signing_certificate by slot, root_recent_use, mfa_missing), then the
// account's password_policy, then users in snapshot order. For each user:
// its access keys in slot order (access_key_age, access_key_unused, then
// access_key_unknown_age for each key), two_active_keys,
// access_key_at_setup by slot, signing_certificate_age by slot,
// service_credential_age and service_credential_expiry for each
// service-specific credential in snapshot order, ssh_key_age for each SSH
// key, then password_expiry, password_unused, mfa_missing,
// console_and_keys and dormant_user.
func Evaluate(snap *inventory.Snapshot, cfg *config.Config, now time.Time) []Finding {
	out := []Finding{}
	if snap == nil || cfg == nil {
		return out
	}
	e := &evaluator{
		cfg:   cfg,
		snap:  snap,
		now:   now,
		today: utcDay(now),
		tiers: map[tierKey]classStages{},
	}
	root := snap.Root
	if root == nil {
		// The contract keeps root out of Users; accept it there too.
		for i := range snap.Users {
			if snap.Users[i].IsRoot() {
				root = &snap.Users[i]
				break
			}
		}
	}
	if root != nil {
		out = e.root(out, root)
	}
	out = e.account(out)
	for i := range snap.Users {
		u := &snap.Users[i]
		if u.IsRoot() {
			continue
		}
		out = e.user(out, u)
	}
	return out
}

// FindingID is the stable identity of a finding: the first 16 hex digits of
// the SHA-256 of "account|user|credential|slot|keyCreated|rule", keyCreated
// in RFC 3339 (UTC; the zero time for passwords and MFA, slot 0 for them).
// A rotated key has a new creation time, so its findings are new findings;
// the slot keeps two keys created in the same second apart.
func FindingID(account, user, credential string, slot int, keyCreated time.Time, rule string) string {
	sum := sha256.Sum256([]byte(account + "|" + user + "|" + credential + "|" + strconv.Itoa(slot) + "|" +
		keyCreated.UTC().Format(time.RFC3339) + "|" + rule))
	return hex.EncodeToString(sum[:])[:16]
}

// evaluator holds what Evaluate needs for one snapshot.
type evaluator struct {
	cfg   *config.Config
	snap  *inventory.Snapshot
	now   time.Time
	today time.Time // now's UTC day, for exemptions' until
	tiers map[tierKey]classStages
	// rcptProblems are the current user's RecipientsDetailed problems.
	rcptProblems []RecipientProblem
	// classFromTag is the tags that chose the current user's class.
	classFromTag string
}

// classStages are a class's stages of one class-stage rule, sorted by At.
type classStages struct {
	all    []config.Stage // for active credentials
	delete []config.Stage // the delete stages, for inactive ones
}

// tierKey names a class's stages of one rule.
type tierKey struct{ rule, class string }

// tiersFor returns the stages of class for rule (access_key_age,
// signing_certificate_age or service_credential_age), or of "human" when
// the class has no entry.
func (e *evaluator) tiersFor(rule, class string) classStages {
	if t, ok := e.tiers[tierKey{rule, class}]; ok {
		return t
	}
	t := classStages{all: slices.Clone(e.cfg.Rules.StagesOf(rule, class))}
	slices.SortStableFunc(t.all, func(a, b config.Stage) int { return cmp.Compare(a.At, b.At) })
	for _, s := range t.all {
		if s.Action == config.ActionDelete {
			t.delete = append(t.delete, s)
		}
	}
	e.tiers[tierKey{rule, class}] = t
	return t
}

// user appends u's findings to out.
func (e *evaluator) user(out []Finding, u *inventory.User) []Finding {
	class, fromTag := classOf(u, e.cfg.Classes)
	rcpt, probs := RecipientsDetailed(u, e.cfg.Notify.Users)
	e.rcptProblems, e.classFromTag = probs, fromTag
	defer func() { e.rcptProblems, e.classFromTag = nil, "" }()
	emit := func(f Finding, ok bool) {
		if ok {
			out = e.add(out, u, class, rcpt, f)
		}
	}
	for i := range u.AccessKeys {
		k := &u.AccessKeys[i]
		emit(e.keyAge(class, k))
		emit(e.keyUnused(k))
		emit(e.keyUnknownAge(k))
	}
	emit(e.twoActiveKeys(u))
	for i := range u.AccessKeys {
		emit(e.keyAtSetup(u, &u.AccessKeys[i]))
	}
	for i := range u.SigningCerts {
		emit(e.certAge(class, &u.SigningCerts[i]))
	}
	if e.snap.ServiceCredentialsRead {
		for i := range u.ServiceCredentials {
			c := &u.ServiceCredentials[i]
			emit(e.serviceCredentialAge(class, c))
			emit(e.serviceCredentialExpiry(c))
		}
	}
	if r := e.cfg.Rules.SSHKeyAge; r != nil && enabled(r.Enabled) && u.SSHKeysRead && matchUser(&r.Users, u) {
		for i := range u.SSHKeys {
			emit(e.sshKeyAge(r, &u.SSHKeys[i]))
		}
	}
	emit(e.passwordExpiry(u))
	emit(e.passwordUnused(u))
	emit(e.mfaMissing(u, false))
	emit(e.consoleAndKeys(u))
	emit(e.dormantUser(u))
	return out
}

// root appends the root user's findings to out.
func (e *evaluator) root(out []Finding, u *inventory.User) []Finding {
	class := ClassOf(u, e.cfg.Classes)
	rcpt := Recipients(u, e.cfg.Notify.Users) // always empty
	for _, f := range e.rootKeys(u) {
		out = e.add(out, u, class, rcpt, f)
	}
	for _, f := range e.rootCerts(u) {
		out = e.add(out, u, class, rcpt, f)
	}
	if f, ok := e.rootRecentUse(u); ok {
		out = e.add(out, u, class, rcpt, f)
	}
	if f, ok := e.mfaMissing(u, true); ok {
		out = e.add(out, u, class, rcpt, f)
	}
	return out
}

// add completes f with what every finding carries and appends it.
func (e *evaluator) add(out []Finding, u *inventory.User, class string, rcpt []string, f Finding) []Finding {
	f.Account = e.snap.AccountID
	f.AccountAlias = e.snap.AccountAlias
	f.User = u.Name
	f.Class = class
	f.ClassFromTag = e.classFromTag
	f.Recipients = append([]string{}, rcpt...)
	f.RecipientProblems = slices.Clone(e.rcptProblems)
	f.Controls = findingControls(&f, u.IsRoot())
	if f.Action == config.ActionRotate {
		f.RotateTarget = e.cfg.Rotate.TargetOf(u.Name, class, u.Tags)
	}
	f.Reason += matchExempt(&f, u, e.cfg.Exemptions, e.today)
	f.ID = FindingID(f.Account, f.User, idCredential(&f), f.Slot, f.KeyCreatedAt, f.Rule)
	return append(out, f)
}

// idCredential is the credential part of f's FindingID: the credential
// kind, and for a service-specific credential or an SSH key, which have
// no report slot, ":" and its ID ("service_credential:ACCA…"), so that
// two of a user's credentials of one service made in the same second
// stay apart and a credential made again is a new finding.
func idCredential(f *Finding) string {
	switch f.Credential {
	case CredentialServiceCredential, CredentialSSHKey:
		return f.Credential + ":" + f.KeyID
	}
	return f.Credential
}

// keyAge is access_key_age for one key.
func (e *evaluator) keyAge(class string, k *inventory.AccessKey) (Finding, bool) {
	what := fmt.Sprintf("access key %d", k.Slot)
	f, ok := e.staged(config.RuleAccessKeyAge, class, k.Active, k.CreatedAt, what, "inactive "+what, "created")
	f.Credential, f.Slot = CredentialAccessKey, k.Slot
	return f, ok
}

// staged is a finding of a class-stage rule (access_key_age,
// signing_certificate_age, service_credential_age) for one credential
// called what (inactiveWhat when it is not active), created (or
// uploaded: verb) at created: an active one at the highest of its class's
// stages it reached, an inactive one at the highest delete stage. The
// caller sets Credential and what identifies it (Slot, KeyID, Service).
func (e *evaluator) staged(rule, class string, active bool, created time.Time, what, inactiveWhat, verb string) (Finding, bool) {
	if created.IsZero() {
		return Finding{}, false
	}
	t := e.tiersFor(rule, class)
	stages, stage := t.all, "stage"
	if !active {
		stages, what, stage = t.delete, inactiveWhat, "clean-up stage"
	}
	age := AgeDays(created, e.now)
	i := -1
	for j, s := range stages {
		if age >= s.At {
			i = j
		}
	}
	if i < 0 {
		return Finding{}, false
	}
	s := stages[i]
	f := Finding{
		Rule:         rule,
		AgeDays:      age,
		StageAt:      s.At,
		Action:       s.Action,
		Severity:     severityOf(s.Severity, s.Action),
		KeyCreatedAt: created,
		KeyActive:    active,
	}
	f.Reason = fmt.Sprintf("%s is %s old (%s %s) and reached the %d-day %s (%s, %s)",
		what, nDays(age), verb, formatDay(created), s.At, stage, f.Action, f.Severity)
	if i+1 < len(stages) {
		next := stages[i+1]
		d := dayAfter(created, next.At)
		f.NextStageOn = &d
		f.Reason += fmt.Sprintf("; next: the %d-day %s (%s, %s) on %s",
			next.At, stage, next.Action, severityOf(next.Severity, next.Action), d)
	}
	return f, true
}

// keyUnused is access_key_unused for one key.
func (e *evaluator) keyUnused(k *inventory.AccessKey) (Finding, bool) {
	r := e.cfg.Rules.AccessKeyUnused
	if r == nil || !enabled(r.Enabled) || !k.Active {
		return Finding{}, false
	}
	since, never := k.LastUsedAt, k.LastUsedAt.IsZero()
	if never {
		since = k.CreatedAt
	}
	days, ok := e.unusedFor(since, r.After)
	if !ok {
		return Finding{}, false
	}
	action := actionOf(r.Action)
	f := Finding{
		Credential:   CredentialAccessKey,
		Slot:         k.Slot,
		Rule:         config.RuleAccessKeyUnused,
		AgeDays:      days,
		StageAt:      r.After,
		Action:       action,
		Severity:     severityOf(r.Severity, action),
		KeyCreatedAt: k.CreatedAt,
		KeyActive:    true,
	}
	if never {
		f.Reason = fmt.Sprintf("access key %d has never been used since it was created %s ago, on %s (limit %s)",
			k.Slot, nDays(days), formatDay(since), nDays(r.After))
	} else {
		f.Reason = fmt.Sprintf("access key %d was last used %s ago, on %s (limit %s)",
			k.Slot, nDays(days), formatDay(since), nDays(r.After))
	}
	return f, true
}

// keyUnknownAge is access_key_unknown_age for one key: an active key
// without a creation date, or created after both now and the report's
// generation (a key newer than a past --as-of but older than the report
// is not suspect), has an age no rule can judge.
func (e *evaluator) keyUnknownAge(k *inventory.AccessKey) (Finding, bool) {
	r := e.cfg.Rules.AccessKeyUnknownAge
	if r == nil || !enabled(r.Enabled) || !k.Active {
		return Finding{}, false
	}
	latest, when := e.now, "the time of this evaluation"
	if e.snap.ReportGeneratedAt.After(latest) {
		latest, when = e.snap.ReportGeneratedAt, "when the credential report was generated"
	}
	var what string
	switch {
	case k.CreatedAt.IsZero():
		what = fmt.Sprintf("access key %d is active but the credential report gives no creation date for it", k.Slot)
	case k.CreatedAt.After(latest):
		what = fmt.Sprintf("access key %d is active but its creation date, %s, is after %s, %s",
			k.Slot, formatDay(k.CreatedAt), formatDay(latest), when)
	default:
		return Finding{}, false
	}
	// Only ever notify: a date keywarden cannot trust is no ground to
	// disable or delete a key.
	f := Finding{
		Credential:   CredentialAccessKey,
		Slot:         k.Slot,
		Rule:         config.RuleAccessKeyUnknownAge,
		Action:       config.ActionNotify,
		Severity:     cmp.Or(r.Severity, config.SeverityHigh),
		KeyCreatedAt: k.CreatedAt,
		KeyActive:    true,
	}
	f.Reason = what + ": its age is unknown, so no age rule can apply to it; check it and rotate it"
	return f, true
}

// passwordExpiry is password_expiry for one user.
func (e *evaluator) passwordExpiry(u *inventory.User) (Finding, bool) {
	r := e.cfg.Rules.PasswordExpiry
	if r == nil || !enabled(r.Enabled) || !u.PasswordEnabled {
		return Finding{}, false
	}
	maxAge, source := e.maxPasswordAge(r)
	if maxAge <= 0 {
		return Finding{}, false
	}
	changed, how := u.PasswordLastChanged, "last changed on "
	if changed.IsZero() {
		changed, how = u.CreatedAt, "never changed since the user was created on "
	}
	if changed.IsZero() {
		return Finding{}, false
	}
	age := AgeDays(changed, e.now)
	left := maxAge - age
	if left > r.WarnBefore {
		return Finding{}, false
	}
	expiry := dayAfter(changed, maxAge)
	f := Finding{
		Credential: CredentialPassword,
		Rule:       config.RulePasswordExpiry,
		AgeDays:    age,
		DaysLeft:   &left,
		Action:     config.ActionNotify,
		Severity:   severityOf(r.Severity, config.ActionNotify),
	}
	switch {
	case left > 0:
		f.StageAt = maxAge - r.WarnBefore
		f.NextStageOn = &expiry
		f.Reason = fmt.Sprintf("console password expires in %s, on %s", nDays(left), expiry)
	case left == 0:
		f.StageAt = maxAge
		f.Reason = fmt.Sprintf("console password expired today, on %s", expiry)
	default:
		f.StageAt = maxAge
		f.Reason = fmt.Sprintf("console password expired %s ago, on %s", nDays(-left), expiry)
	}
	if left <= 0 && SeverityRank(f.Severity) < SeverityRank(config.SeverityHigh) {
		f.Severity = config.SeverityHigh
	}
	f.Reason += " (" + how + formatDay(changed) + "; " + source + ")"
	return f, true
}

// maxPasswordAge returns the maximum password age that applies to the
// account and a phrase saying where it comes from.
func (e *evaluator) maxPasswordAge(r *config.ExpiryRule) (int, string) {
	p := e.snap.PasswordPolicy
	if p != nil && p.MaxPasswordAge > 0 {
		return p.MaxPasswordAge, fmt.Sprintf("the account password policy's maximum age is %s", nDays(p.MaxPasswordAge))
	}
	why := "the account password policy sets no maximum age"
	switch {
	case p == nil && !e.snap.PasswordPolicyKnown:
		why = "the account password policy was not read"
	case p == nil:
		why = "the account has no password policy"
	}
	return r.MaxAge, fmt.Sprintf("keywarden's max_age of %s applies because %s", nDays(r.MaxAge), why)
}

// passwordUnused is password_unused for one user.
func (e *evaluator) passwordUnused(u *inventory.User) (Finding, bool) {
	r := e.cfg.Rules.PasswordUnused
	if r == nil || !enabled(r.Enabled) || !u.PasswordEnabled {
		return Finding{}, false
	}
	since, how := u.PasswordLastUsed, "console password was last used %s ago, on %s"
	if since.IsZero() {
		since, how = u.PasswordLastChanged, "console password has never been used since it was set %s ago, on %s"
	}
	if since.IsZero() {
		since, how = u.CreatedAt, "console password has never been used since the user was created %s ago, on %s"
	}
	days, ok := e.unusedFor(since, r.After)
	if !ok {
		return Finding{}, false
	}
	action := actionOf(r.Action)
	f := Finding{
		Credential: CredentialPassword,
		Rule:       config.RulePasswordUnused,
		AgeDays:    days,
		StageAt:    r.After,
		Action:     action,
		Severity:   severityOf(r.Severity, action),
	}
	f.Reason = fmt.Sprintf(how, nDays(days), formatDay(since)) + " (limit " + nDays(r.After) + ")"
	return f, true
}

// actionOf is a rule's action, notify when unset.
func actionOf(a string) string { return cmp.Or(a, config.ActionNotify) }

// severityOf is the explicit severity, or the one the action implies:
// notify medium; disable, delete and remove_password high.
func severityOf(explicit, action string) string {
	if explicit != "" {
		return explicit
	}
	switch action {
	case config.ActionDisable, config.ActionDelete, config.ActionRemovePassword:
		return config.SeverityHigh
	}
	return config.SeverityMedium
}

// utcDay is t's UTC day, at midnight.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// dayAfter is the UTC day on which a credential created at t is days
// old.
// It is date arithmetic (AddDate): days × 24h as a time.Duration
// overflows from 106,752 days.
func dayAfter(t time.Time, days int) config.Date {
	return config.Date{Time: utcDay(t).AddDate(0, 0, days)}
}

// formatDay formats t's UTC day.
func formatDay(t time.Time) string { return t.UTC().Format(config.DateLayout) }

// nDays is "1 day" or "N days".
func nDays(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// unusedFor is the number of whole days since a credential was last used
// (or set), and whether that reaches after days. A zero time never does.
func (e *evaluator) unusedFor(since time.Time, after int) (int, bool) {
	if since.IsZero() {
		return 0, false
	}
	days := AgeDays(since, e.now)
	return days, days >= after
}

// AgeDays is the number of whole days from t to now:
// floor((now - t) / 24h). It is negative when t is after now.
func AgeDays(t, now time.Time) int {
	d := now.Sub(t)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

// enabled reports whether an optional rule is switched on: a rule present
// in the config is on unless it says enabled: false.
func enabled(p *bool) bool { return p == nil || *p }
