package policy_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

func TestRecipients(t *testing.T) {
	no := false
	tagsFirst := policy.NotifyUsers{EmailTags: []string{"Email", "email"}}
	tests := []struct {
		name string
		user inventory.User
		n    policy.NotifyUsers
		want []string
	}{
		{"first tag", inventory.User{Name: "alice", Tags: map[string]string{"Email": "alice@example.com", "email": "other@example.com"}},
			tagsFirst, []string{"alice@example.com"}},
		{"tag order, not map order", inventory.User{Name: "alice", Tags: map[string]string{"Email": "alice@example.com", "email": "other@example.com"}},
			policy.NotifyUsers{EmailTags: []string{"email", "Email"}}, []string{"other@example.com"}},
		{"invalid first tag skipped", inventory.User{Name: "alice", Tags: map[string]string{"Email": "alice at example", "email": "alice@example.com"}},
			tagsFirst, []string{"alice@example.com"}},
		{"a list is not one address", inventory.User{Name: "alice", Tags: map[string]string{"Email": "a@example.com, b@example.com", "email": "c@example.com"}},
			tagsFirst, []string{"c@example.com"}},
		{"display name dropped, domain lowercased", inventory.User{Name: "alice", Tags: map[string]string{"Email": "Alice Smith <Alice.Smith@Example.COM>"}},
			tagsFirst, []string{"Alice.Smith@example.com"}},
		{"tag keys are exact", inventory.User{Name: "alice", Tags: map[string]string{"EMAIL": "alice@example.com"}},
			tagsFirst, []string{}},
		{"user name when no tag", inventory.User{Name: "bob@example.com"},
			tagsFirst, []string{"bob@example.com"}},
		{"user name when tags invalid", inventory.User{Name: "bob@example.com", Tags: map[string]string{"Email": "n/a"}},
			tagsFirst, []string{"bob@example.com"}},
		{"username_is_email false", inventory.User{Name: "bob@example.com"},
			policy.NotifyUsers{EmailTags: []string{"Email"}, UsernameIsEmail: &no}, []string{}},
		{"user name not an address", inventory.User{Name: "bob"},
			tagsFirst, []string{}},
		{"quoted local part with an @ is refused", inventory.User{Name: "eve", Tags: map[string]string{"Email": `"eve@evil.test"@example.com`}},
			policy.NotifyUsers{EmailTags: []string{"Email"}, AllowedDomains: []string{"example.com"}}, []string{}},
		{"allowed domain", inventory.User{Name: "bob@Example.com"},
			policy.NotifyUsers{AllowedDomains: []string{"example.com"}}, []string{"bob@example.com"}},
		{"allowed domain compared case-insensitively", inventory.User{Name: "bob@example.com"},
			policy.NotifyUsers{AllowedDomains: []string{"EXAMPLE.COM"}}, []string{"bob@example.com"}},
		{"domain not allowed", inventory.User{Name: "bob@gmail.com"},
			policy.NotifyUsers{AllowedDomains: []string{"example.com"}}, []string{}},
		{"subdomain is another domain", inventory.User{Name: "bob@eu.example.com"},
			policy.NotifyUsers{AllowedDomains: []string{"example.com"}}, []string{}},
		{"tag outside allowed domains does not fall back to the user name",
			inventory.User{Name: "bob@example.com", Tags: map[string]string{"Email": "bob@gmail.com"}},
			policy.NotifyUsers{EmailTags: []string{"Email"}, AllowedDomains: []string{"example.com"}}, []string{}},
		{"root never has recipients", inventory.User{Name: inventory.RootUserName, Tags: map[string]string{"Email": "root@example.com"}},
			tagsFirst, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policy.Recipients(&tt.user, tt.n)
			if got == nil {
				t.Fatalf("Recipients(%s) = nil; want a non-nil slice (JSON [] not null)", tt.user.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Recipients(%s, %+v) mismatch (-want +got):\n%s", tt.user.Name, tt.n, diff)
			}
		})
	}
}
