package plan

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// title names a finding's credential for a reader.
func title(f *policy.Finding) string {
	switch f.Credential {
	case policy.CredentialAccessKey:
		if f.KeyID != "" {
			return fmt.Sprintf("access key %s (key %d)", f.KeyID, f.Slot)
		}
		return fmt.Sprintf("access key %d", f.Slot)
	case policy.CredentialPassword:
		return "console password"
	case policy.CredentialMFA:
		return "console sign-in (no MFA device)"
	case policy.CredentialRoot:
		return "root user"
	}
	return f.Credential
}

// nextStage is the access_key_age stage after f's, for f's class, if any.
func (b *builder) nextStage(f *policy.Finding) (config.Stage, bool) {
	stages, ok := b.cfg.Rules.AccessKeyAge[f.Class]
	if !ok {
		stages = b.cfg.Rules.AccessKeyAge[config.DefaultClass]
	}
	stages = slices.Clone(stages)
	slices.SortStableFunc(stages, func(a, b config.Stage) int { return cmp.Compare(a.At, b.At) })
	for _, s := range stages {
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
	}
	return a
}

// next says what happens next and when, truthfully: a credential "will be
// disabled" only where enforcement is on; otherwise the sentence names the
// limit and the day it is (or was) passed.
func (b *builder) next(f *policy.Finding, enforced bool) string {
	day := b.day
	next := ""
	if f.NextStageOn != nil {
		next = f.NextStageOn.String()
	}
	switch f.Rule {
	case config.RuleAccessKeyAge:
		switch f.Action {
		case config.ActionDisable:
			if enforced {
				return fmt.Sprintf("It is past the %d-day limit and will be disabled on %s.", f.StageAt, day)
			}
			return fmt.Sprintf("It is past the %d-day limit.", f.StageAt)
		case config.ActionDelete:
			if enforced {
				return fmt.Sprintf("It is past the %d-day limit and will be deleted: an active key is disabled on %s and deleted %d days later.",
					f.StageAt, day, b.cfg.Enforce.GraceAfterDisable)
			}
			return fmt.Sprintf("It is past the %d-day limit.", f.StageAt)
		}
		s, ok := b.nextStage(f)
		switch {
		case !ok || next == "":
			return fmt.Sprintf("It is past the %d-day limit; rotate it.", f.StageAt)
		case s.Action == config.ActionNotify:
			return fmt.Sprintf("It reaches the %d-day stage on %s.", s.At, next)
		case enforced:
			return fmt.Sprintf("It will be %s on %s unless it is rotated before then.", past(s.Action), next)
		}
		return fmt.Sprintf("It will be past the %d-day limit on %s.", s.At, next)
	case config.RuleAccessKeyUnused:
		if f.Action == config.ActionDisable && enforced {
			return fmt.Sprintf("It has not been used for %d days and will be disabled on %s.", f.AgeDays, day)
		}
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
		if f.Action == config.ActionRemovePassword && enforced {
			return fmt.Sprintf("It has not been used for %d days; console access will be removed on %s.", f.AgeDays, day)
		}
		return fmt.Sprintf("It has not been used for %d days (limit %d); if you no longer sign in to the console, ask for it to be removed.", f.AgeDays, f.StageAt)
	case config.RuleMFAMissing:
		return "Anyone with the password can sign in; assign an MFA device."
	case config.RuleRootAccessKey:
		return "The root user's access key should not exist; delete it."
	case config.RuleAccessKeyUnknownAge:
		return "Its creation date is missing or in the future, so its age is unknown and keywarden will not act on it; check the key and rotate it."
	}
	return ""
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
