package policy

import (
	"fmt"
	"net/mail"
	"strings"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
)

// Recipients returns the addresses of u's owner, the people told about u's
// findings. It never returns nil: an owner without an address gets an empty
// list (the admins are told instead), and so does the root user, whose
// findings go to the admins only.
//
// The address is chosen in this order:
//  1. the first tag of n.EmailTags (tried in order, keys compared exactly)
//     whose value is one valid address (net/mail.ParseAddress; a display
//     name is dropped, "Alice <alice@example.com>" gives alice@example.com);
//     values that are not one valid address are skipped;
//  2. otherwise, when n.UsernameIsEmail is true or unset, the user name if
//     it is a valid address.
//
// The chosen address's domain is lowercased. It is then dropped, leaving no
// recipient, when n.AllowedDomains is not empty and does not hold its
// domain (compared case-insensitively, exact domain: sub.example.com is not
// example.com). The choice is made before the domain check: an address in
// a tag outside the allowed domains does not fall back to the user name.
func Recipients(u *inventory.User, n config.NotifyUsers) []string {
	addrs, _ := RecipientsDetailed(u, n)
	return addrs
}

// RecipientProblem is an owner address that keywarden found but will not
// mail. Address is the value as found: it comes from IAM, so escape it
// before showing it.
type RecipientProblem struct {
	// Source is where the value was found: `tag "Email"` or "user name".
	Source  string `json:"source"`
	Address string `json:"address"`
	// Reason says why it is not used, e.g. "not an email address".
	Reason string `json:"reason"`
}

// String reads `tag "Email": "x@y" is not an email address`.
func (p RecipientProblem) String() string {
	return fmt.Sprintf("%s: %q %s", p.Source, p.Address, p.Reason)
}

// RecipientsDetailed is Recipients, plus the problems met on the way: tag
// values (of n.EmailTags, tried before the chosen one) that are not one
// valid address, and the chosen address when its domain is outside
// n.AllowedDomains. A user name that is not an address is not a problem
// (most are not), unless it contains an @. The addresses are exactly
// Recipients'; problems is nil when there are none.
func RecipientsDetailed(u *inventory.User, n config.NotifyUsers) (addrs []string, problems []RecipientProblem) {
	if u == nil || u.IsRoot() {
		return []string{}, nil
	}
	addr, source := "", ""
	for _, key := range n.EmailTags {
		v, present := u.Tags[key]
		if a, ok := parseAddress(v); ok {
			addr, source = a, fmt.Sprintf("tag %q", key)
			break
		}
		if present && strings.TrimSpace(v) != "" {
			problems = append(problems, RecipientProblem{Source: fmt.Sprintf("tag %q", key), Address: v, Reason: "is not an email address"})
		}
	}
	if addr == "" && enabled(n.UsernameIsEmail) {
		if a, ok := parseAddress(u.Name); ok {
			addr, source = a, "user name"
		} else if strings.Contains(u.Name, "@") {
			problems = append(problems, RecipientProblem{Source: "user name", Address: u.Name, Reason: "is not an email address"})
		}
	}
	if addr == "" {
		return []string{}, problems
	}
	if !domainAllowed(addr, n.AllowedDomains) {
		domain := addr[strings.LastIndexByte(addr, '@')+1:]
		problems = append(problems, RecipientProblem{Source: source, Address: addr,
			Reason: fmt.Sprintf("is outside notify.users.allowed_domains (%s is not one of %s)", domain, strings.Join(n.AllowedDomains, ", "))})
		return []string{}, problems
	}
	return []string{addr}, problems
}

// parseAddress parses s as exactly one address and returns the bare address
// with its domain lowercased.
func parseAddress(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", false
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 || strings.IndexByte(a.Address, '@') != at {
		// A quoted local part may hold another @ ("eve@evil.test"@example.com):
		// such an address cannot be sent to safely, and its domain is not
		// what it seems.
		return "", false
	}
	if _, err := mail.ParseAddress(a.Address); err != nil {
		return "", false
	}
	return a.Address[:at+1] + strings.ToLower(a.Address[at+1:]), true
}

// domainAllowed reports whether addr's domain is one of allowed (any domain
// when allowed is empty).
func domainAllowed(addr string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	domain := addr[strings.LastIndexByte(addr, '@')+1:]
	for _, d := range allowed {
		if strings.EqualFold(strings.TrimSpace(d), domain) {
			return true
		}
	}
	return false
}
