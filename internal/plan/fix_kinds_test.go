package plan

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestFixOfExpiredAndSSHCredentials: an expired service-specific
// credential is deleted, never deactivated (it no longer works); an SSH
// key's steps name its ID.
func TestFixOfExpiredAndSSHCredentials(t *testing.T) {
	expired, left := -3, 5
	f := policy.Finding{User: "alice", Credential: policy.CredentialServiceCredential, KeyID: "ACCA1", Service: "bedrock.amazonaws.com",
		Rule: config.RuleServiceCredentialExpiry, DaysLeft: &expired}
	steps := fix(&f, "https://console")
	if len(steps) != 2 || !strings.HasPrefix(steps[1], "Delete the expired credential: aws iam delete-service-specific-credential --user-name alice --service-specific-credential-id ACCA1") {
		t.Errorf("steps for an expired credential = %q; want create, then delete (no deactivate)", steps)
	}
	f.DaysLeft = &left
	if steps := fix(&f, "https://console"); len(steps) != 3 || !strings.Contains(steps[1], "--status Inactive") {
		t.Errorf("steps for a credential expiring in 5 days = %q; want create, deactivate, delete", steps)
	}
	ssh := policy.Finding{User: "gus", Credential: policy.CredentialSSHKey, KeyID: "APKA1", Rule: config.RuleSSHKeyAge}
	if steps := fix(&ssh, "https://console"); len(steps) != 2 || !strings.HasSuffix(steps[1], "--ssh-public-key-id APKA1") {
		t.Errorf("steps for an SSH key = %q; want upload a new one, delete APKA1", steps)
	}
}
