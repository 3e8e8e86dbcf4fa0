package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// title names a finding's credential for a reader: an access key by its
// full ID, or says why the ID is not known.
func (b *builder) title(f *policy.Finding) string {
	switch f.Credential {
	case policy.CredentialAccessKey:
		switch {
		case f.KeyID != "":
			return fmt.Sprintf("access key %s (key %d)", f.KeyID, f.Slot)
		case b.in.Offline:
			return fmt.Sprintf("access key %d (no key ID: an offline credential report has none)", f.Slot)
		}
		return fmt.Sprintf("access key %d (its ID is not known)", f.Slot)
	case policy.CredentialSigningCert:
		switch {
		case f.KeyID != "":
			return fmt.Sprintf("signing certificate %d (ID %s)", f.Slot, f.KeyID)
		case b.in.Offline:
			return fmt.Sprintf("signing certificate %d (no ID: an offline credential report has none)", f.Slot)
		}
		return fmt.Sprintf("signing certificate %d (its ID is not known)", f.Slot)
	case policy.CredentialServiceCredential:
		return strings.TrimSpace(policy.ServiceCredentialName(f.Service) + " " + f.KeyID)
	case policy.CredentialSSHKey:
		return strings.TrimSpace("SSH public key " + f.KeyID)
	case policy.CredentialUser:
		return "user " + f.User
	case policy.CredentialAccount:
		return "account " + f.Account
	case policy.CredentialPassword:
		return "console password"
	case policy.CredentialMFA:
		return "console sign-in (no MFA device)"
	case policy.CredentialRoot:
		return "root user"
	}
	return f.Credential
}

// keyLike reports whether a credential is staged like an access key —
// active, then disabled, then deleted after the grace period: access keys,
// signing certificates and service-specific credentials.
func keyLike(credential string) bool {
	switch credential {
	case policy.CredentialAccessKey, policy.CredentialSigningCert, policy.CredentialServiceCredential:
		return true
	}
	return false
}

// noun is how a sentence names a key-like credential: "key",
// "certificate", "credential".
func noun(credential string) string {
	switch credential {
	case policy.CredentialSigningCert:
		return "certificate"
	case policy.CredentialServiceCredential:
		return "credential"
	}
	return "key"
}

// stagesOf are class's stages of a staged rule (access_key_age,
// signing_certificate_age, service_credential_age) sorted by At, or the
// default class's when it has none.
func (b *builder) stagesOf(rule, class string) []config.Stage {
	stages := slices.Clone(b.cfg.Rules.StagesOf(rule, class))
	slices.SortStableFunc(stages, func(a, b config.Stage) int { return cmp.Compare(a.At, b.At) })
	return stages
}

// nextStage is the stage of f's rule after f's, for f's class, if any.
func (b *builder) nextStage(f *policy.Finding) (config.Stage, bool) {
	for _, s := range b.stagesOf(f.Rule, f.Class) {
		if s.At > f.StageAt {
			return s, true
		}
	}
	return config.Stage{}, false
}

func past(a string) string {
	switch a {
	case config.ActionDisable:
		return "disabled"
	case config.ActionDelete:
		return "deleted"
	case config.ActionRemovePassword:
		return "removed"
	case config.ActionRotate:
		return "rotated"
	}
	return a
}

// changes reports whether a finding's action changes its credential.
func changes(action string) bool { return actionRank[action] > 0 }

// next says, before any action is decided, what the finding is and what
// comes next. It never says that keywarden will change the credential on
// a day: a stage ahead is named with its day, and "keywarden may disable
// it" from then only where enforcement is on. What happens to a
// credential whose finding calls for a change is said by outcome, from
// the action.
func (b *builder) next(f *policy.Finding, enforced bool) string {
	day := b.day
	next := ""
	if f.NextStageOn != nil {
		next = f.NextStageOn.String()
	}
	if changes(f.Action) {
		return b.limit(f) + "."
	}
	switch f.Rule {
	case config.RuleAccessKeyAge, config.RuleSigningCertAge, config.RuleServiceCredentialAge:
		s, ok := b.nextStage(f)
		switch {
		case !ok || next == "":
			return fmt.Sprintf("It is past the %d-day limit; rotate it.", f.StageAt)
		case s.Action == config.ActionNotify:
			return fmt.Sprintf("It reaches the %d-day stage on %s.", s.At, next)
		case enforced:
			return fmt.Sprintf("It reaches the %d-day limit on %s; from that day keywarden may %s it, so rotate it before then.",
				s.At, next, strings.ReplaceAll(s.Action, "_", " "))
		}
		return fmt.Sprintf("It will be past the %d-day limit on %s.", s.At, next)
	case config.RuleAccessKeyUnused:
		return fmt.Sprintf("It has not been used for %d days (limit %d); if nothing needs it, deactivate and delete it.", f.AgeDays, f.StageAt)
	case config.RulePasswordExpiry:
		if f.DaysLeft != nil && *f.DaysLeft > 0 {
			return fmt.Sprintf("It expires on %s, in %d days; change it before then.", cmp.Or(next, state.AddDays(day, *f.DaysLeft)), *f.DaysLeft)
		}
		if f.DaysLeft != nil {
			return fmt.Sprintf("It expired on %s; you will have to change it at your next sign-in.", state.AddDays(day, *f.DaysLeft))
		}
		return "It is about to expire."
	case config.RulePasswordUnused:
		return fmt.Sprintf("It has not been used for %d days (limit %d); if you no longer sign in to the console, ask for it to be removed.", f.AgeDays, f.StageAt)
	case config.RuleMFAMissing:
		return "Anyone with the password can sign in; assign an MFA device."
	case config.RuleRootAccessKey:
		return "The root user's access key should not exist; delete it."
	case config.RuleAccessKeyUnknownAge:
		return "Its creation date is missing or in the future, so its age is unknown and keywarden will not act on it; check the key and rotate it."
	case config.RuleServiceCredentialExpiry:
		if f.DaysLeft != nil && *f.DaysLeft > 0 {
			return fmt.Sprintf("It expires on %s, in %d days; create a new one before then if it is still needed.", cmp.Or(next, state.AddDays(day, *f.DaysLeft)), *f.DaysLeft)
		}
		if f.DaysLeft != nil {
			return fmt.Sprintf("It expired on %s; delete it, and create a new one if it is still needed.", state.AddDays(day, *f.DaysLeft))
		}
		return "It is about to expire."
	case config.RuleSSHKeyAge:
		return "keywarden never changes SSH public keys; replace it with a new key and delete the old one."
	case config.RuleRootSigningCert:
		return "The root user's signing certificate should not exist; keywarden never changes root's credentials: delete it."
	}
	return ""
}

// limit is the first sentence of a finding whose action changes its
// credential: the limit it passed (no period).
func (b *builder) limit(f *policy.Finding) string {
	switch f.Rule {
	case config.RuleAccessKeyAge, config.RuleSigningCertAge, config.RuleServiceCredentialAge:
		if keyLike(f.Credential) && !f.KeyActive {
			return fmt.Sprintf("It is inactive and past the %d-day limit", f.StageAt)
		}
		return fmt.Sprintf("It is past the %d-day limit", f.StageAt)
	case config.RuleAccessKeyUnused, config.RulePasswordUnused:
		return fmt.Sprintf("It has not been used for %d days (limit %d)", f.AgeDays, f.StageAt)
	}
	return fmt.Sprintf("It reached the %d-day %s stage", f.StageAt, f.Rule)
}

// verb is what a real run does to a's credential: a.Done once known, and
// a delete of an active key disables it first.
func verb(a *Action) string {
	v := a.Kind
	switch {
	case a.Done != "":
		v = a.Done
	case a.Kind == config.ActionDelete && keyLike(a.Credential) && a.KeyActive:
		v = config.ActionDisable
	}
	return strings.ReplaceAll(v, "_", " ")
}

// itVerb is verb(a) with the credential as its object ("disable it"):
// a console password is removed.
func itVerb(a *Action) string {
	if cmp.Or(a.Done, a.Kind) == config.ActionRemovePassword {
		return "remove"
	}
	return verb(a)
}

// outcome says what happened, or will, to a finding's credential, from
// the action on it: done in the past tense with its day; a change not
// made with why, and without a day on which it would be; the day of a
// change only where a run will make it (planned, or an inactive key's
// deletion after its grace period). f is the item's finding.
func (b *builder) outcome(f *policy.Finding, a *Action) string {
	if s, ok := b.rotateOutcome(f, a); ok {
		return s
	}
	if a.RotationOf != "" {
		return b.retireOutcome(f, a)
	}
	lim := b.limit(f) + ". "
	v := itVerb(a)
	grace := b.cfg.Enforce.GraceAfterDisable
	id := ""
	if a.ID != "" {
		id = " (action " + a.ID + ")"
	}
	switch a.Status {
	case ActionDone:
		on := cmp.Or(a.On, b.day)
		s := lim + fmt.Sprintf("It was %s on %s by keywarden%s.", past(cmp.Or(a.Done, a.Kind)), on, id)
		if a.Kind == config.ActionDelete && a.Done == config.ActionDisable {
			s += fmt.Sprintf(" An active %s is disabled before it is deleted: the first keywarden run from %s, after %d days inactive, deletes it.",
				noun(a.Credential), cmp.Or(a.DeleteOn, state.AddDays(on, grace)), grace)
		}
		return s
	case ActionFailed:
		return lim + fmt.Sprintf("keywarden tried to %s it on %s and failed; the administrators are told, and the next run tries again.", v, b.day)
	case ActionPlanned:
		first := ""
		if a.Kind == config.ActionDelete && v == "disable" {
			first = fmt.Sprintf(" An active %s is disabled before it is deleted.", noun(a.Credential))
		}
		if b.in.Mode == ModeDryRun {
			return lim + fmt.Sprintf("This dry run changed nothing; a real run would %s it now (%s).%s", v, b.day, first)
		}
		if b.in.Executed != nil && a.ID == "" {
			// Remediation ran and did not start it: the run was stopped (a
			// signal, the Lambda's work deadline) before it.
			return lim + fmt.Sprintf("keywarden did not %s it: this run stopped before it (%s); the next run will.", v, strings.TrimSuffix(strings.TrimPrefix(a.Reason, "not started: "), "; the next run carries it out"))
		}
		return lim + fmt.Sprintf("keywarden is to %s it in this run (%s).%s", v, b.day, first)
	case ActionBlocked:
		return lim + fmt.Sprintf("keywarden did not %s it: a safety guard stopped every change in account %s in this run; the administrators are told.", v, a.Account)
	case ActionWaiting:
		if a.ActOn != "" { // the owner's notice period (enforce.notice_before_action)
			return b.noticeNext(f, a)
		}
		return lim + fmt.Sprintf("keywarden did not %s it: it changes credentials only inside its action window (%s); the first run inside it will.",
			v, b.cfg.Enforce.Window)
	case ActionSkipped:
		switch {
		case a.Reason == ReasonSelf:
			return lim + "keywarden never changes it: it is the access key keywarden itself runs with."
		case a.DeleteOn != "":
			return lim + fmt.Sprintf("It is inactive; the first keywarden run from %s, after %d days inactive, deletes it.", a.DeleteOn, grace)
		}
		return lim + fmt.Sprintf("keywarden did not %s it: %s.", v, strings.TrimSuffix(a.Reason, "."))
	case ActionListed:
		return lim + b.offText(a.Account, v)
	}
	return lim
}

// offText says why nothing was changed where enforcement is off: an
// offline report, a dry run, a run that only notifies, an account not
// allowed.
func (b *builder) offText(account, v string) string {
	switch {
	case b.in.Offline:
		return "Nothing was changed: this run read an offline credential report."
	case !b.in.Apply && b.in.Mode == ModeDryRun:
		return fmt.Sprintf("This dry run changed nothing, and enforcement is off: a real run would not %s it either.", v)
	case !b.in.Apply:
		return fmt.Sprintf("keywarden did not %s it: enforcement is off (this run only notifies).", v)
	}
	return fmt.Sprintf("keywarden did not %s it: it may not change credentials in account %s (enforce.allowed_accounts).", v, account)
}

// fixDone lists the steps left once keywarden made done (disable, delete,
// remove_password) to the finding's credential: no step undoes or repeats
// what was done.
func fixDone(f *policy.Finding, console, done string) []string {
	steps := fix(f, console)
	switch {
	case f.Credential == policy.CredentialAccessKey && done == config.ActionDisable && len(steps) == 4:
		return []string{steps[0], steps[1], "The old key is already inactive. " + steps[3]}
	case f.Credential == policy.CredentialAccessKey && done == config.ActionDelete && len(steps) == 4:
		return steps[:2]
	case f.Credential == policy.CredentialAccessKey && done == config.ActionDisable:
		return []string{"The key is already inactive. " + steps[len(steps)-1]}
	case f.Credential == policy.CredentialAccessKey && done == config.ActionDelete:
		return []string{"Nothing: the key is gone. If something still needed it, create a new key: aws iam create-access-key --user-name " + f.User}
	case (f.Credential == policy.CredentialSigningCert || f.Credential == policy.CredentialServiceCredential) && done == config.ActionDisable:
		// The new credential, the old one already inactive, its deletion.
		return []string{steps[0], "The old " + noun(f.Credential) + " is already inactive. " + steps[2]}
	case (f.Credential == policy.CredentialSigningCert || f.Credential == policy.CredentialServiceCredential) && done == config.ActionDelete:
		return []string{"Nothing: the " + noun(f.Credential) + " is gone. " + steps[0]}
	case done == config.ActionRemovePassword:
		return []string{"If you still need console access, ask an administrator for a new console password."}
	}
	return steps
}

// fix lists the steps that resolve a finding.
func fix(f *policy.Finding, console string) []string {
	key := f.KeyID
	if key == "" {
		key = "KEY_ID"
	}
	switch f.Credential {
	case policy.CredentialAccessKey:
		if f.Rule == config.RuleAccessKeyUnused {
			return []string{
				"If nothing uses the key, deactivate it: aws iam update-access-key --user-name " + f.User + " --access-key-id " + key + " --status Inactive",
				"Once you are sure, delete it: aws iam delete-access-key --user-name " + f.User + " --access-key-id " + key,
			}
		}
		return []string{
			"Create a new key: aws iam create-access-key --user-name " + f.User + " (or in the console: " + console + ", IAM, Users, " + f.User + ", Security credentials)",
			"Put the new key everywhere the old one is used, and check that it works.",
			"Deactivate the old key: aws iam update-access-key --user-name " + f.User + " --access-key-id " + key + " --status Inactive",
			"When nothing broke, delete it: aws iam delete-access-key --user-name " + f.User + " --access-key-id " + key,
		}
	case policy.CredentialSigningCert:
		id := cmp.Or(f.KeyID, "CERTIFICATE_ID")
		return []string{
			"If something still needs a signing certificate, upload a new one: aws iam upload-signing-certificate --user-name " + f.User + " --certificate-body file://certificate.pem",
			"Deactivate the old certificate: aws iam update-signing-certificate --user-name " + f.User + " --certificate-id " + id + " --status Inactive",
			"When nothing broke, delete it: aws iam delete-signing-certificate --user-name " + f.User + " --certificate-id " + id,
		}
	case policy.CredentialServiceCredential:
		id := cmp.Or(f.KeyID, "CREDENTIAL_ID")
		service := cmp.Or(f.Service, "SERVICE")
		create := "If you still need it, create a new one and use it where the old one is used: aws iam create-service-specific-credential --user-name " + f.User + " --service-name " + service
		del := "aws iam delete-service-specific-credential --user-name " + f.User + " --service-specific-credential-id " + id
		if f.Rule == config.RuleServiceCredentialExpiry && f.DaysLeft != nil && *f.DaysLeft <= 0 {
			// Expired: it no longer works, so there is nothing to deactivate.
			return []string{create, "Delete the expired credential: " + del}
		}
		return []string{
			create,
			"Deactivate the old credential: aws iam update-service-specific-credential --user-name " + f.User + " --service-specific-credential-id " + id + " --status Inactive",
			"When nothing broke, delete it: " + del,
		}
	case policy.CredentialSSHKey:
		id := cmp.Or(f.KeyID, "SSH_KEY_ID")
		return []string{
			"If you still need it, upload a new public key: aws iam upload-ssh-public-key --user-name " + f.User + " --ssh-public-key-body file://id_ed25519.pub",
			"Then delete the old one: aws iam delete-ssh-public-key --user-name " + f.User + " --ssh-public-key-id " + id,
		}
	case policy.CredentialPassword:
		if f.Rule == config.RulePasswordUnused {
			return []string{"If you still need console access, sign in at " + console + "; otherwise ask an administrator to remove your console password."}
		}
		return []string{"Sign in at " + console + " and change your password (your user name, top right, Security credentials)."}
	case policy.CredentialMFA:
		return []string{"Sign in at " + console + ", open Security credentials and assign an MFA device."}
	case policy.CredentialRoot:
		return []string{"Sign in as the root user, open Security credentials, and delete the root access key."}
	}
	return nil
}
