package policy

import (
	"fmt"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
)

// certAge is signing_certificate_age for one signing certificate.
func (e *evaluator) certAge(class string, c *inventory.SigningCert) (Finding, bool) {
	what := fmt.Sprintf("signing certificate %d", c.Slot)
	f, ok := e.staged(config.RuleSigningCertAge, class, c.Active, c.CreatedAt, what, "inactive "+what, "uploaded")
	f.Credential, f.Slot, f.KeyID = CredentialSigningCert, c.Slot, c.ID
	return f, ok
}

// serviceCredentialAge is service_credential_age for one service-specific
// credential: an Active one gets every stage, an Inactive or Expired one
// only the delete stages.
func (e *evaluator) serviceCredentialAge(class string, c *inventory.ServiceCredential) (Finding, bool) {
	what := ServiceCredentialName(c.ServiceName) + " " + c.ID
	inactive := "inactive " + what
	if c.Status == inventory.StatusExpired {
		inactive = "expired " + what
	}
	f, ok := e.staged(config.RuleServiceCredentialAge, class, c.Status == inventory.StatusActive, c.CreatedAt, what, inactive, "created")
	f.Credential, f.KeyID, f.Service = CredentialServiceCredential, c.ID, c.ServiceName
	return f, ok
}

// serviceCredentialExpiry is service_credential_expiry for one
// service-specific credential with an expiration date that is not
// Inactive (an inactive credential cannot be used, expiring or not).
func (e *evaluator) serviceCredentialExpiry(c *inventory.ServiceCredential) (Finding, bool) {
	r := e.cfg.Rules.ServiceCredentialExpiry
	if r == nil || !enabled(r.Enabled) || c.ExpiresAt.IsZero() || c.Status == inventory.StatusInactive {
		return Finding{}, false
	}
	expiry := config.Date{Time: utcDay(c.ExpiresAt)}
	left := int(expiry.Sub(e.today) / (24 * time.Hour))
	expired := !e.now.Before(c.ExpiresAt) || c.Status == inventory.StatusExpired
	if left > r.WarnBefore && !expired {
		return Finding{}, false
	}
	f := Finding{
		Credential:   CredentialServiceCredential,
		KeyID:        c.ID,
		Service:      c.ServiceName,
		Rule:         config.RuleServiceCredentialExpiry,
		DaysLeft:     &left,
		Action:       config.ActionNotify,
		Severity:     severityOf(r.Severity, config.ActionNotify),
		KeyCreatedAt: c.CreatedAt,
		KeyActive:    c.Status == inventory.StatusActive,
	}
	lifetime := 0
	if !c.CreatedAt.IsZero() {
		f.AgeDays = AgeDays(c.CreatedAt, e.now)
		lifetime = int(expiry.Sub(utcDay(c.CreatedAt)) / (24 * time.Hour))
	}
	what := ServiceCredentialName(c.ServiceName) + " " + c.ID
	switch {
	case expired && left > 0:
		f.StageAt = lifetime
		f.Reason = fmt.Sprintf("%s has expired (IAM reports it Expired; its expiration date is %s)", what, expiry)
	case expired && left == 0:
		f.StageAt = lifetime
		f.Reason = fmt.Sprintf("%s expired today, on %s", what, expiry)
	case expired:
		f.StageAt = lifetime
		f.Reason = fmt.Sprintf("%s expired %s ago, on %s", what, nDays(max(-left, 0)), expiry)
	case left == 0:
		f.StageAt = max(lifetime-r.WarnBefore, 0)
		f.NextStageOn = &expiry
		f.Reason = fmt.Sprintf("%s expires today, at %s UTC", what, c.ExpiresAt.UTC().Format("15:04"))
	default:
		f.StageAt = max(lifetime-r.WarnBefore, 0)
		f.NextStageOn = &expiry
		f.Reason = fmt.Sprintf("%s expires in %s, on %s", what, nDays(left), expiry)
	}
	if expired && SeverityRank(f.Severity) < SeverityRank(config.SeverityHigh) {
		f.Severity = config.SeverityHigh
	}
	if !expired {
		f.Reason += "; make a new one before then"
	}
	return f, true
}

// sshKeyAge is ssh_key_age for one SSH public key of a selected user:
// an active key uploaded max_age days ago or more. Notify only.
func (e *evaluator) sshKeyAge(r *config.SSHKeyRule, k *inventory.SSHKey) (Finding, bool) {
	if !k.Active || k.UploadedAt.IsZero() {
		return Finding{}, false
	}
	age := AgeDays(k.UploadedAt, e.now)
	if age < r.MaxAge {
		return Finding{}, false
	}
	f := Finding{
		Credential:   CredentialSSHKey,
		KeyID:        k.ID,
		Rule:         config.RuleSSHKeyAge,
		AgeDays:      age,
		StageAt:      r.MaxAge,
		Action:       config.ActionNotify,
		Severity:     severityOf(r.Severity, config.ActionNotify),
		KeyCreatedAt: k.UploadedAt,
		KeyActive:    true,
	}
	f.Reason = fmt.Sprintf("SSH public key %s is %s old (uploaded %s; limit %s); upload a new one and delete this one",
		k.ID, nDays(age), formatDay(k.UploadedAt), nDays(r.MaxAge))
	return f, true
}

// serviceNames are the words for the services whose credentials
// ListServiceSpecificCredentials returns.
var serviceNames = map[string]string{
	"codecommit.amazonaws.com": "CodeCommit credential",
	"cassandra.amazonaws.com":  "Amazon Keyspaces credential",
	"bedrock.amazonaws.com":    "Amazon Bedrock API key",
}

// ServiceCredentialName names a service-specific credential of service in
// words: "CodeCommit credential", "Amazon Keyspaces credential", "Amazon
// Bedrock API key", else "service-specific credential for SERVICE" (or
// "service-specific credential" when the service is unknown).
func ServiceCredentialName(service string) string {
	if n, ok := serviceNames[service]; ok {
		return n
	}
	if service != "" {
		return "service-specific credential for " + service
	}
	return "service-specific credential"
}
