package policy

import (
	"slices"

	"github.com/keywarden/keywarden/internal/config"
)

// Control is one benchmark control that keywarden's rules check.
type Control struct {
	ID    string `json:"id"`    // "CIS 1.13"
	Title string `json:"title"` // the benchmark's title
}

// Controls are the CIS AWS Foundations Benchmark (v3.0.0) controls
// keywarden's rules map to, in the benchmark's order.
var Controls = []Control{
	{"CIS 1.4", "Ensure no 'root' user account access key exists"},
	{"CIS 1.5", "Ensure MFA is enabled for the 'root' user account"},
	{"CIS 1.6", "Ensure hardware MFA is enabled for the 'root' user account"},
	{"CIS 1.7", "Eliminate use of the 'root' user for administrative and daily tasks"},
	{"CIS 1.8", "Ensure IAM password policy requires minimum length of 14 or greater"},
	{"CIS 1.9", "Ensure IAM password policy prevents password reuse"},
	{"CIS 1.10", "Ensure multi-factor authentication (MFA) is enabled for all IAM users that have a console password"},
	{"CIS 1.11", "Do not setup access keys during initial user setup for all IAM users that have a console password"},
	{"CIS 1.12", "Ensure credentials unused for 45 days or greater are disabled"},
	{"CIS 1.13", "Ensure there is only one active access key available for any single IAM user"},
	{"CIS 1.14", "Ensure access keys are rotated every 90 days or less"},
}

// The benchmark's own thresholds. A finding carries a control only when it
// breaks the benchmark (findingControls), whatever stage keywarden's rule
// reached; a control is checked only by rules at least as strict
// (ControlCoverage).
const (
	// CISUnusedDays (CIS 1.12): a credential unused for 45 days or more
	// should be disabled.
	CISUnusedDays = 45
	// CISKeyMaxAgeDays (CIS 1.14): access keys are rotated every 90 days
	// or less, so an active key older than 90 days fails.
	CISKeyMaxAgeDays = 90
	// CISPasswordMinLength (CIS 1.8) and CISPasswordReuse (CIS 1.9): the
	// password policy requires at least 14 characters and prevents the
	// reuse of the last 24 passwords.
	CISPasswordMinLength = 14
	CISPasswordReuse     = 24
	// CISRootUseDays (CIS 1.7): root used in the last 7 days is the use the
	// benchmark's audit looks for (issue 16 fixed this reading).
	CISRootUseDays = 7
)

// RuleInfo describes one rule for `keywarden rules` and the compliance
// summaries.
type RuleInfo struct {
	Name       string `json:"name"`
	Credential string `json:"credential"`
	// Controls are the controls the rule's findings map to (for
	// mfa_missing, a user's; root's are RootControls).
	Controls []string `json:"controls"`
	// RootControls, when set, are the controls of the rule's findings on
	// the root user.
	RootControls []string `json:"root_controls,omitempty"`
	Summary      string   `json:"summary"`
	// Calls are the API calls the rule costs beyond the scan's fixed ones.
	Calls string `json:"calls"`
	// OptIn rules are off unless the config turns them on.
	OptIn bool `json:"opt_in,omitempty"`
}

// Rules lists every rule, in evaluation order.
var Rules = []RuleInfo{
	{Name: config.RuleAccessKeyAge, Credential: CredentialAccessKey, Controls: []string{"CIS 1.14"},
		Summary: "access keys by age, staged by class (notify, disable, delete)",
		Calls:   "ListAccessKeys for each user with a finding (F)"},
	{Name: config.RuleAccessKeyUnused, Credential: CredentialAccessKey, Controls: []string{"CIS 1.12"},
		Summary: "active access keys not used for N days",
		Calls:   "ListAccessKeys for each user with a finding (F)"},
	{Name: config.RuleAccessKeyUnknownAge, Credential: CredentialAccessKey,
		Summary: "active access keys whose creation date is missing or in the future (notify only)",
		Calls:   "ListAccessKeys for each user with a finding (F)"},
	{Name: config.RuleTwoActiveKeys, Credential: CredentialUser, Controls: []string{"CIS 1.13"},
		Summary: "users with two active access keys",
		Calls:   "none"},
	{Name: config.RuleAccessKeyAtSetup, Credential: CredentialAccessKey, Controls: []string{"CIS 1.11"},
		Summary: "console users with an access key created with the user and never used",
		Calls:   "ListAccessKeys for each user with a finding (F)"},
	{Name: config.RuleSigningCertAge, Credential: CredentialSigningCert,
		Summary: "X.509 signing certificates by age, staged by class (notify, disable, delete)",
		Calls:   "ListSigningCertificates for each user with a finding (F)"},
	{Name: config.RuleServiceCredentialAge, Credential: CredentialServiceCredential,
		Summary: "service-specific credentials (CodeCommit, Keyspaces, Bedrock API keys) by age, staged by class",
		Calls:   "ListServiceSpecificCredentials for all users, one call per page, made by every scan (S)"},
	{Name: config.RuleServiceCredentialExpiry, Credential: CredentialServiceCredential,
		Summary: "service-specific credentials that expire soon or have expired",
		Calls:   "ListServiceSpecificCredentials for all users, one call per page, made by every scan (S)"},
	{Name: config.RuleSSHKeyAge, Credential: CredentialSSHKey,
		Summary: "SSH public keys (CodeCommit) of the selected users by age",
		Calls:   "ListSSHPublicKeys for each selected user", OptIn: true},
	{Name: config.RulePasswordExpiry, Credential: CredentialPassword,
		Summary: "console passwords that expire soon or have expired",
		Calls:   "none"},
	{Name: config.RulePasswordUnused, Credential: CredentialPassword, Controls: []string{"CIS 1.12"},
		Summary: "console passwords not used for N days",
		Calls:   "none"},
	{Name: config.RuleMFAMissing, Credential: CredentialMFA, Controls: []string{"CIS 1.10"}, RootControls: []string{"CIS 1.5", "CIS 1.6"},
		Summary: "console users, and root, without MFA",
		Calls:   "none"},
	{Name: config.RuleConsoleAndKeys, Credential: CredentialUser,
		Summary: "users with both a console password and active access keys (informational)",
		Calls:   "none"},
	{Name: config.RuleDormantUser, Credential: CredentialUser,
		Summary: "users with credentials, none used for N days",
		Calls:   "none"},
	{Name: config.RulePasswordPolicy, Credential: CredentialAccount, Controls: []string{"CIS 1.8", "CIS 1.9"},
		Summary: "the account password policy's minimum length and reuse prevention",
		Calls:   "none"},
	{Name: config.RuleRootAccessKey, Credential: CredentialRoot, Controls: []string{"CIS 1.4"},
		Summary: "active root access keys",
		Calls:   "none"},
	{Name: config.RuleRootSigningCert, Credential: CredentialRoot,
		Summary: "active root signing certificates",
		Calls:   "none"},
	{Name: config.RuleRootRecentUse, Credential: CredentialRoot, Controls: []string{"CIS 1.7"},
		Summary: "root used (password or access key) in the last N days",
		Calls:   "none"},
}

// RuleByName returns the rule's description.
func RuleByName(name string) (RuleInfo, bool) {
	i := slices.IndexFunc(Rules, func(r RuleInfo) bool { return r.Name == name })
	if i < 0 {
		return RuleInfo{}, false
	}
	return Rules[i], true
}

// ControlsOf is the controls a finding of rule maps to, for the root user
// or another; never nil.
func ControlsOf(rule string, root bool) []string {
	r, ok := RuleByName(rule)
	switch {
	case !ok:
		return []string{}
	case root && r.RootControls != nil:
		return slices.Clone(r.RootControls)
	}
	return append([]string{}, r.Controls...)
}

// findingControls are the controls f fails at the benchmark's thresholds:
// its rule's (ControlsOf), but none for an access_key_age finding on an
// inactive key or one not older than CISKeyMaxAgeDays (a key at a 70-day
// notify stage is compliant), and none for an access_key_unused or
// password_unused finding unused for fewer than CISUnusedDays, and none for
// a root_recent_use finding of a use more than CISRootUseDays ago. Never nil.
func findingControls(f *Finding, root bool) []string {
	switch f.Rule {
	case config.RuleAccessKeyAge:
		if !f.KeyActive || f.AgeDays <= CISKeyMaxAgeDays {
			return []string{}
		}
	case config.RuleAccessKeyUnused, config.RulePasswordUnused:
		if f.AgeDays < CISUnusedDays {
			return []string{}
		}
	case config.RuleRootRecentUse:
		// A laxer within (30 days) reports uses the benchmark allows.
		if f.AgeDays > CISRootUseDays {
			return []string{}
		}
	}
	return ControlsOf(f.Rule, root)
}
