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
//     whose value is one usable address (net/mail.ParseAddress; a display
//     name is dropped, "Alice <alice@example.com>" gives alice@example.com;
//     the address must be plain ASCII with a host name as its domain, see
//     parseAddress); other values are skipped;
//  2. otherwise, when n.UsernameIsEmail is true or unset, the user name if
//     it is a usable address.
//
// The chosen address's domain is lowercased (ASCII letters only). It is
// then dropped, leaving no recipient, when n.AllowedDomains is not empty
// and does not hold its domain (compared byte for byte after ASCII
// lowercasing; an exact domain, or with n.AllowSubdomains one below an
// allowed domain). The choice is made before the domain check: an address
// in a tag outside the allowed domains does not fall back to the user name.
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
// usable address, and the chosen address when its domain is outside
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
		a, why := parseAddress(v)
		if why == "" && a != "" {
			addr, source = a, fmt.Sprintf("tag %q", key)
			break
		}
		if present && why != "" {
			problems = append(problems, RecipientProblem{Source: fmt.Sprintf("tag %q", key), Address: v, Reason: why})
		}
	}
	if addr == "" && enabled(n.UsernameIsEmail) {
		if a, why := parseAddress(u.Name); why == "" && a != "" {
			addr, source = a, "user name"
		} else if why != "" && strings.Contains(u.Name, "@") {
			problems = append(problems, RecipientProblem{Source: "user name", Address: u.Name, Reason: why})
		}
	}
	if addr == "" {
		return []string{}, problems
	}
	if !domainAllowed(addr, n.AllowedDomains, n.AllowSubdomains) {
		domain := addr[strings.LastIndexByte(addr, '@')+1:]
		below := ""
		if n.AllowSubdomains {
			below = ", or below one"
		}
		problems = append(problems, RecipientProblem{Source: source, Address: addr,
			Reason: fmt.Sprintf("is outside notify.users.allowed_domains (%s is not one of %s%s)", domain, strings.Join(n.AllowedDomains, ", "), below)})
		return []string{}, problems
	}
	return []string{addr}, problems
}

// Why parseAddress refuses a value.
const (
	notAnAddress = "is not an email address"
	notASCII     = "is not plain ASCII (keywarden mails ASCII addresses only; an internationalised domain must be written in its xn-- form)"
	notHostName  = "has a domain that is not a host name"
)

// parseAddress parses s as exactly one address and returns the bare address
// with its domain lowercased (ASCII letters only), or why s is not usable:
// not one address, not plain ASCII (net/mail accepts Unicode; look-alike
// letters such as U+017F, the Kelvin sign or full-width forms are refused,
// never folded or normalised into a match), or a domain that is not a host
// name (a domain literal such as [192.0.2.1]). A blank s gives "", "".
func parseAddress(s string) (addr, why string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", notAnAddress
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 || strings.IndexByte(a.Address, '@') != at {
		// A quoted local part may hold another @ ("eve@evil.test"@example.com):
		// such an address cannot be sent to safely, and its domain is not
		// what it seems.
		return "", notAnAddress
	}
	if _, err := mail.ParseAddress(a.Address); err != nil {
		return "", notAnAddress
	}
	if !printableASCII(a.Address) {
		return "", notASCII
	}
	domain := a.Address[at+1:]
	if !hostName(domain) {
		return "", notHostName
	}
	return a.Address[:at+1] + asciiLower(domain), ""
}

// printableASCII reports whether s is only printable ASCII (space to ~).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// hostName reports whether d is an ASCII host name: dot-separated labels
// of 1 to 63 letters, digits and hyphens, no hyphen first or last, no
// empty label (so no trailing dot), 253 characters at most.
func hostName(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// asciiLower lowercases the ASCII letters A-Z of s and nothing else:
// strings.ToLower would turn the Kelvin sign (U+212A) into k.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// domainAllowed reports whether addr's domain (ASCII, lowercased) equals
// one of allowed, lowercased the same way, or with subdomains lies below
// one (eu.example.com for example.com; evilexample.com never is). Any
// domain is allowed when allowed is empty. Nothing is folded but ASCII
// case: strings.EqualFold matched corpſec.test (U+017F) with corpsec.test.
func domainAllowed(addr string, allowed []string, subdomains bool) bool {
	if len(allowed) == 0 {
		return true
	}
	domain := addr[strings.LastIndexByte(addr, '@')+1:]
	for _, d := range allowed {
		d = asciiLower(strings.TrimSpace(d))
		if domain == d || subdomains && strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}
