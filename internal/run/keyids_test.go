package run

import (
	"slices"
	"testing"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestFillKeyIDs: each access-key and signing-certificate finding gets
// the ID resolved for its user's slot of that kind; other findings, and
// root's (whose certificates cannot be listed by name), keep none.
func TestFillKeyIDs(t *testing.T) {
	snap := &inventory.Snapshot{
		Root: &inventory.User{Name: inventory.RootUserName, SigningCerts: []inventory.SigningCert{{Slot: 1, Active: true}}},
		Users: []inventory.User{
			{Name: "alice",
				AccessKeys:   []inventory.AccessKey{{Slot: 1, ID: "AKIA1"}, {Slot: 2, ID: "AKIA2"}},
				SigningCerts: []inventory.SigningCert{{Slot: 2, ID: "CERT2"}}},
			{Name: "bob", SigningCerts: []inventory.SigningCert{{Slot: 1}}}, // not resolved
		},
	}
	fs := []policy.Finding{
		{User: "alice", Credential: policy.CredentialAccessKey, Slot: 2},
		{User: "alice", Credential: policy.CredentialSigningCert, Slot: 2},
		{User: "alice", Credential: policy.CredentialPassword},
		{User: "bob", Credential: policy.CredentialSigningCert, Slot: 1},
		{User: inventory.RootUserName, Credential: policy.CredentialSigningCert, Slot: 1},
	}
	fillKeyIDs(fs, snap)
	var got []string
	for _, f := range fs {
		got = append(got, f.KeyID)
	}
	if want := []string{"AKIA2", "CERT2", "", "", ""}; !slices.Equal(got, want) {
		t.Errorf("key IDs = %q; want %q", got, want)
	}

	if got, want := usersWithFindings(fs, policy.CredentialSigningCert), []string{"alice", "bob", inventory.RootUserName}; !slices.Equal(got, want) {
		t.Errorf("users with certificate findings = %q; want %q, once each", got, want)
	}
}
