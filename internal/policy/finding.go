package policy

import (
	"time"

	"github.com/keywarden/keywarden/internal/config"
)

// Credential kinds, as they appear in findings.
const (
	CredentialAccessKey = "access_key"
	CredentialPassword  = "password"
	CredentialMFA       = "mfa"
	CredentialRoot      = "root"
	// CredentialSigningCert is an X.509 signing certificate (KeyID holds
	// its certificate ID, Slot its report slot).
	CredentialSigningCert = "signing_certificate"
	// CredentialServiceCredential is a service-specific credential
	// (KeyID holds its ServiceSpecificCredentialId, Service its service).
	CredentialServiceCredential = "service_credential"
	// CredentialSSHKey is an SSH public key (KeyID holds its ID).
	CredentialSSHKey = "ssh_key"
	// CredentialUser is a finding about the user as a whole
	// (dormant_user, console_and_keys, two_active_keys).
	CredentialUser = "user"
	// CredentialAccount is a finding about the account (password_policy);
	// its User is AccountUser.
	CredentialAccount = "account"
)

// AccountUser is the User of an account-level finding: not a legal IAM
// user name, like the report's "<root_account>".
const AccountUser = "<account>"

// Finding is one credential that breaks one rule. Its JSON form is the
// "findings" element of the keywarden.report/v1 contract.
type Finding struct {
	// ID is a stable hash of account, user, credential (for access keys, the
	// key's creation time, so a rotated key is a new finding) and rule.
	ID           string `json:"id"`
	Account      string `json:"account"`
	AccountAlias string `json:"-"`
	User         string `json:"user"`
	Class        string `json:"class"`
	// ClassFromTag names the tags that chose Class ("UserType=machine";
	// see TagPairs), "" when no tag did. Tags are often set by the users
	// themselves: a reviewer should see which classes they decided. Always
	// written, like KeyID (an addition to report/v1).
	ClassFromTag string `json:"class_from_tag"`
	Credential   string `json:"credential"`
	// KeyID is set for every access-key finding of a live scan; an offline
	// credential report carries no key IDs, so it is empty there. It is
	// always written (empty for other credentials), so every finding in
	// the JSON report has the same keys.
	KeyID string `json:"key_id"`
	// Slot is the credential report's access key or signing certificate
	// slot (1 or 2); 0 otherwise. Always written, like KeyID.
	Slot int `json:"slot"`
	// Service is a service-specific credential's service
	// (codecommit.amazonaws.com, …), "" otherwise. Always written.
	Service string `json:"service"`
	Rule    string `json:"rule"`
	AgeDays int    `json:"age_days"`
	// DaysLeft is set for password expiry (negative: already expired).
	DaysLeft *int   `json:"days_left"`
	StageAt  int    `json:"stage_at"`
	Action   string `json:"action"`
	Severity string `json:"severity"`
	// NextStageOn is the day the next stage applies (YYYY-MM-DD), if any.
	NextStageOn  *config.Date `json:"next_stage_on"`
	Exempt       bool         `json:"exempt"`
	ExemptReason string       `json:"exempt_reason"`
	// ExemptFromTag names the tags through which the exemption selected
	// the user ("keywarden:exempt=true"), "" when it is not exempt or its
	// exemption names no tags. Always written (an addition to report/v1).
	ExemptFromTag string `json:"exempt_from_tag"`
	// Recipients are the owner's addresses; empty when the owner has none
	// (the admins are told instead) or for root.
	Recipients []string `json:"recipients"`
	Reason     string   `json:"reason"`
	// Controls are the benchmark controls the rule maps to ("CIS 1.13"),
	// from ControlsOf; empty (never null) for a rule without one.
	Controls []string `json:"controls"`
	// RecipientProblems are owner addresses found but not used (malformed,
	// or outside allowed_domains); nil when there are none. Not part of the
	// report/v1 JSON; `keywarden run` reports them to the admins.
	RecipientProblems []RecipientProblem `json:"-"`
	// KeyCreatedAt identifies an access key before its ID is resolved.
	KeyCreatedAt time.Time `json:"-"`
	// KeyActive is whether the access key was active in the report.
	KeyActive bool `json:"-"`
	// RotateTarget is, for a finding at a rotate stage, where the rotation
	// writes the new key: the user's keywarden:secret tag, else the
	// rotate.targets entry for the user or its class ("": none names one).
	// Not checked here (remediation checks it before writing).
	RotateTarget string `json:"-"`
}

// SeverityRank orders severities: info 1, low 2, medium 3, high 4,
// critical 5; unknown 0. Only the order is meant: compare ranks, never
// write one down.
func SeverityRank(s string) int {
	switch s {
	case config.SeverityInfo:
		return 1
	case config.SeverityLow:
		return 2
	case config.SeverityMedium:
		return 3
	case config.SeverityHigh:
		return 4
	case config.SeverityCritical:
		return 5
	}
	return 0
}
