package policy

import (
	"slices"
	"testing"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
)

// TestSSHKeyUsers: the ssh_key_age rule selects users with its Match, as a
// class does; absent or disabled, it selects nothing (nil: no call).
func TestSSHKeyUsers(t *testing.T) {
	off, on := false, true
	users := []inventory.User{
		{Name: "alice", Path: "/eng/", Groups: []string{"git"}},
		{Name: "bob", Path: "/eng/"},
		{Name: "ci-bot", Tags: map[string]string{"UserType": "machine"}},
		{Name: inventory.RootUserName},
	}
	for _, tc := range []struct {
		name string
		rule *config.SSHKeyRule
		want []string // nil: no selector
	}{
		{"absent", nil, nil},
		{"disabled", &config.SSHKeyRule{Enabled: &off, Users: config.Match{Groups: []string{"git"}}}, nil},
		{"by group", &config.SSHKeyRule{Users: config.Match{Groups: []string{"git"}}}, []string{"alice"}},
		{"by path, enabled", &config.SSHKeyRule{Enabled: &on, Users: config.Match{PathPrefix: "/eng/"}}, []string{"alice", "bob"}},
		{"by tag", &config.SSHKeyRule{Users: config.Match{Tags: map[string]string{"UserType": "*"}}}, []string{"ci-bot"}},
		{"by name, never root", &config.SSHKeyRule{Users: config.Match{Names: []string{"*"}}}, []string{"alice", "bob", "ci-bot"}},
		{"empty match selects nobody", &config.SSHKeyRule{}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Rules.SSHKeyAge = tc.rule
			sel := SSHKeyUsers(cfg)
			if tc.want == nil {
				if sel != nil {
					t.Fatal("SSHKeyUsers() is a selector; want nil (no SSH key read)")
				}
				return
			}
			if sel == nil {
				t.Fatal("SSHKeyUsers() = nil; want a selector")
			}
			got := []string{}
			for i := range users {
				if sel(&users[i]) {
					got = append(got, users[i].Name)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("selected %v; want %v", got, tc.want)
			}
		})
	}
}
