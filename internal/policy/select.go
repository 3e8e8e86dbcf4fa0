package policy

import (
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
)

// SSHKeyUsers is the selection of the opt-in ssh_key_age rule: it reports
// whether a user's SSH public keys are to be read (ListSSHPublicKeys, one
// call per user), by the rule's users Match (as a class's, see ClassOf).
// nil when the rule is absent or disabled: no SSH key is read.
func SSHKeyUsers(cfg *config.Config) func(*inventory.User) bool {
	r := cfg.Rules.SSHKeyAge
	if r == nil || !enabled(r.Enabled) {
		return nil
	}
	m := r.Users
	return func(u *inventory.User) bool { return !u.IsRoot() && matchUser(&m, u) }
}
