package policy

import (
	"net/mail"
	"strings"

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
func Recipients(u *inventory.User, n NotifyUsers) []string {
	if u == nil || u.IsRoot() {
		return []string{}
	}
	addr := ""
	for _, key := range n.EmailTags {
		if a, ok := recipAddress(u.Tags[key]); ok {
			addr = a
			break
		}
	}
	if addr == "" && enabled(n.UsernameIsEmail) {
		if a, ok := recipAddress(u.Name); ok {
			addr = a
		}
	}
	if addr == "" || !recipAllowed(addr, n.AllowedDomains) {
		return []string{}
	}
	return []string{addr}
}

// recipAddress parses s as exactly one address and returns the bare address
// with its domain lowercased.
func recipAddress(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", false
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 {
		return "", false
	}
	return a.Address[:at+1] + strings.ToLower(a.Address[at+1:]), true
}

// recipAllowed reports whether addr's domain is one of allowed (any domain
// when allowed is empty).
func recipAllowed(addr string, allowed []string) bool {
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
