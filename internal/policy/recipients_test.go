package policy_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

func TestRecipients(t *testing.T) {
	no := false
	tagsFirst := config.NotifyUsers{EmailTags: []string{"Email", "email"}}
	tests := []struct {
		name string
		user inventory.User
		n    config.NotifyUsers
		want []string
	}{
		{"first tag", inventory.User{Name: "alice", Tags: map[string]string{"Email": "alice@example.com", "email": "other@example.com"}},
			tagsFirst, []string{"alice@example.com"}},
		{"tag order, not map order", inventory.User{Name: "alice", Tags: map[string]string{"Email": "alice@example.com", "email": "other@example.com"}},
			config.NotifyUsers{EmailTags: []string{"email", "Email"}}, []string{"other@example.com"}},
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
			config.NotifyUsers{EmailTags: []string{"Email"}, UsernameIsEmail: &no}, []string{}},
		{"user name not an address", inventory.User{Name: "bob"},
			tagsFirst, []string{}},
		{"quoted local part with an @ is refused", inventory.User{Name: "eve", Tags: map[string]string{"Email": `"eve@evil.test"@example.com`}},
			config.NotifyUsers{EmailTags: []string{"Email"}, AllowedDomains: []string{"example.com"}}, []string{}},
		{"allowed domain", inventory.User{Name: "bob@Example.com"},
			config.NotifyUsers{AllowedDomains: []string{"example.com"}}, []string{"bob@example.com"}},
		{"allowed domain compared case-insensitively", inventory.User{Name: "bob@example.com"},
			config.NotifyUsers{AllowedDomains: []string{"EXAMPLE.COM"}}, []string{"bob@example.com"}},
		{"domain not allowed", inventory.User{Name: "bob@gmail.com"},
			config.NotifyUsers{AllowedDomains: []string{"example.com"}}, []string{}},
		{"subdomain is another domain", inventory.User{Name: "bob@eu.example.com"},
			config.NotifyUsers{AllowedDomains: []string{"example.com"}}, []string{}},
		{"tag outside allowed domains does not fall back to the user name",
			inventory.User{Name: "bob@example.com", Tags: map[string]string{"Email": "bob@gmail.com"}},
			config.NotifyUsers{EmailTags: []string{"Email"}, AllowedDomains: []string{"example.com"}}, []string{}},
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

func TestRecipientsDetailed(t *testing.T) {
	no := false
	n := config.NotifyUsers{EmailTags: []string{"Email", "OwnerEmail"}, AllowedDomains: []string{"example.com"}}
	tests := []struct {
		name  string
		user  inventory.User
		n     config.NotifyUsers
		addrs []string
		probs []policy.RecipientProblem
	}{
		{"clean", inventory.User{Name: "alice", Tags: map[string]string{"Email": "alice@example.com"}}, n,
			[]string{"alice@example.com"}, nil},
		{"malformed tag, then a good one", inventory.User{Name: "bob", Tags: map[string]string{"Email": "bob at example", "OwnerEmail": "bob@example.com"}}, n,
			[]string{"bob@example.com"}, []policy.RecipientProblem{{Source: `tag "Email"`, Address: "bob at example", Reason: "is not an email address"}}},
		{"malformed tag only", inventory.User{Name: "carol", Tags: map[string]string{"Email": "not an address"}}, n,
			[]string{}, []policy.RecipientProblem{{Source: `tag "Email"`, Address: "not an address", Reason: "is not an email address"}}},
		{"outside allowed_domains", inventory.User{Name: "eve", Tags: map[string]string{"Email": "Eve <eve@Evil.test>"}}, n,
			[]string{}, []policy.RecipientProblem{{Source: `tag "Email"`, Address: "eve@evil.test",
				Reason: "is outside notify.users.allowed_domains (evil.test is not one of example.com)"}}},
		{"user name outside allowed_domains", inventory.User{Name: "dan@gmail.com"}, n,
			[]string{}, []policy.RecipientProblem{{Source: "user name", Address: "dan@gmail.com",
				Reason: "is outside notify.users.allowed_domains (gmail.com is not one of example.com)"}}},
		{"user name with @ but not an address", inventory.User{Name: "svc@"}, n,
			[]string{}, []policy.RecipientProblem{{Source: "user name", Address: "svc@", Reason: "is not an email address"}}},
		{"plain user name is no problem", inventory.User{Name: "svc-deploy"}, n, []string{}, nil},
		{"empty tag is no problem", inventory.User{Name: "svc", Tags: map[string]string{"Email": " "}}, n, []string{}, nil},
		{"username_is_email off", inventory.User{Name: "dan@example.com"}, config.NotifyUsers{UsernameIsEmail: &no}, []string{}, nil},
		{"root", inventory.User{Name: inventory.RootUserName, Tags: map[string]string{"Email": "x"}}, n, []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addrs, probs := policy.RecipientsDetailed(&tt.user, tt.n)
			if diff := cmp.Diff(tt.addrs, addrs); diff != "" {
				t.Errorf("RecipientsDetailed(%s) addresses (-want +got):\n%s", tt.user.Name, diff)
			}
			if diff := cmp.Diff(tt.probs, probs); diff != "" {
				t.Errorf("RecipientsDetailed(%s) problems (-want +got):\n%s", tt.user.Name, diff)
			}
			if r := policy.Recipients(&tt.user, tt.n); !cmp.Equal(r, addrs) {
				t.Errorf("Recipients(%s) = %v; RecipientsDetailed gives %v", tt.user.Name, r, addrs)
			}
		})
	}
}

// TestRecipientsLookalikeDomains: an address is a recipient only if it is
// plain ASCII and its domain, lowercased with ASCII rules only, is an
// allowed domain (or, with allow_subdomains, below one). Unicode is never
// folded: strings.EqualFold matched h@corpſec.test (U+017F, long s) with
// corpsec.test, and strings.ToLower turned the Kelvin sign (U+212A) into k.
func TestRecipientsLookalikeDomains(t *testing.T) {
	const nonASCII = "is not plain ASCII (keywarden mails ASCII addresses only; an internationalised domain must be written in its xn-- form)"
	exact := config.NotifyUsers{EmailTags: []string{"Email"}, AllowedDomains: []string{"corpsec.test", "korp.test", "xn--bcher-kva.test"}}
	subs := exact
	subs.AllowSubdomains = true
	anyDomain := config.NotifyUsers{EmailTags: []string{"Email"}}
	tests := []struct {
		name  string
		email string
		n     config.NotifyUsers
		addrs []string
		probs []policy.RecipientProblem
	}{
		{"long s (U+017F) in the domain", "h@corp\u017fec.test", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@corp\u017fec.test", Reason: nonASCII}}},
		{"Kelvin sign (U+212A) in the domain", "h@\u212aorp.test", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@\u212aorp.test", Reason: nonASCII}}},
		{"full-width letters", "h@\uff43\uff4f\uff52\uff50sec.test", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@\uff43\uff4f\uff52\uff50sec.test", Reason: nonASCII}}},
		{"Cyrillic dze (U+0455) for s", "h@corp\u0455ec.test", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@corp\u0455ec.test", Reason: nonASCII}}},
		{"Greek omicron (U+03BF) for o", "h@c\u03bfrpsec.test", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@c\u03bfrpsec.test", Reason: nonASCII}}},
		{"zero-width space after the domain", "h@corpsec.test\u200b", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@corpsec.test\u200b", Reason: nonASCII}}},
		{"long s in the local part", "\u017fam@corpsec.test", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "\u017fam@corpsec.test", Reason: nonASCII}}},
		{"Kelvin sign in a quoted local part", "\"\u212aim\"@corpsec.test", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "\"\u212aim\"@corpsec.test", Reason: nonASCII}}},
		{"non-ASCII refused with no allowed_domains too", "h@b\u00fccher.test", anyDomain, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@b\u00fccher.test", Reason: nonASCII}}},
		{"the xn-- form is allowed", "h@XN--BCHER-KVA.test", exact, []string{"h@xn--bcher-kva.test"}, nil},
		{"trailing dot", "h@corpsec.test.", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@corpsec.test.", Reason: "is not an email address"}}},
		{"trailing dot in angle brackets", "H <h@corpsec.test.>", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "H <h@corpsec.test.>", Reason: "is not an email address"}}},
		{"domain literal", "h@[192.0.2.1]", anyDomain, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@[192.0.2.1]", Reason: "has a domain that is not a host name"}}},
		{"ASCII case is folded", "h@CorpSec.TEST", exact, []string{"h@corpsec.test"}, nil},
		{"subdomain refused by default", "h@eu.corpsec.test", exact, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@eu.corpsec.test",
				Reason: "is outside notify.users.allowed_domains (eu.corpsec.test is not one of corpsec.test, korp.test, xn--bcher-kva.test)"}}},
		{"subdomain with allow_subdomains", "h@EU.corpsec.test", subs, []string{"h@eu.corpsec.test"}, nil},
		{"a suffix is not a subdomain", "h@evilcorpsec.test", subs, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@evilcorpsec.test",
				Reason: "is outside notify.users.allowed_domains (evilcorpsec.test is not one of corpsec.test, korp.test, xn--bcher-kva.test, or below one)"}}},
		{"look-alike subdomain with allow_subdomains", "h@eu.corp\u017fec.test", subs, []string{},
			[]policy.RecipientProblem{{Source: `tag "Email"`, Address: "h@eu.corp\u017fec.test", Reason: nonASCII}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := inventory.User{Name: "h", Tags: map[string]string{"Email": tt.email}}
			addrs, probs := policy.RecipientsDetailed(&u, tt.n)
			if diff := cmp.Diff(tt.addrs, addrs); diff != "" {
				t.Errorf("RecipientsDetailed(Email=%q) addresses (-want +got):\n%s", tt.email, diff)
			}
			if diff := cmp.Diff(tt.probs, probs); diff != "" {
				t.Errorf("RecipientsDetailed(Email=%q) problems (-want +got):\n%s", tt.email, diff)
			}
		})
	}
}

// TestEvaluateCarriesRecipientProblems: every finding of a user whose
// address was rejected says why (the run reports it to the admins).
func TestEvaluateCarriesRecipientProblems(t *testing.T) {
	cfg := config.Default()
	cfg.Notify.Users.AllowedDomains = []string{"example.com"}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	snap := &inventory.Snapshot{AccountID: "123456789012", Users: []inventory.User{
		{Name: "eve", Tags: map[string]string{"Email": "eve@evil.test"}, AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: now.AddDate(0, 0, -75)}}},
		{Name: "ok", Tags: map[string]string{"Email": "ok@example.com"}, AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: now.AddDate(0, 0, -75)}}},
	}}
	var fs []policy.Finding
	for _, f := range policy.Evaluate(snap, cfg, now) {
		if f.Rule == config.RuleAccessKeyAge {
			fs = append(fs, f)
		}
	}
	if len(fs) != 2 {
		t.Fatalf("Evaluate() = %d findings; want 2", len(fs))
	}
	if len(fs[0].RecipientProblems) != 1 || fs[0].RecipientProblems[0].Address != "eve@evil.test" || len(fs[0].Recipients) != 0 {
		t.Errorf("eve's finding: recipients %v, problems %v", fs[0].Recipients, fs[0].RecipientProblems)
	}
	if fs[1].RecipientProblems != nil {
		t.Errorf("ok's finding has problems %v; want nil", fs[1].RecipientProblems)
	}
}

// TestRecipientsOwnerTagByDefault: the default email_tags read an address
// from an Owner or owner tag, after Email and email, and such an address
// is held to allowed_domains like any other.
func TestRecipientsOwnerTagByDefault(t *testing.T) {
	def := config.Default().Notify.Users
	for _, key := range []string{"Owner", "owner"} {
		u := inventory.User{Name: "svc-build", Tags: map[string]string{key: "alice@example.com"}}
		if got := policy.Recipients(&u, def); !cmp.Equal(got, []string{"alice@example.com"}) {
			t.Errorf("default config, tag %s=alice@example.com: Recipients = %q; want alice@example.com", key, got)
		}
	}
	both := inventory.User{Name: "svc-build", Tags: map[string]string{"Owner": "owner@example.com", "Email": "email@example.com"}}
	if got := policy.Recipients(&both, def); !cmp.Equal(got, []string{"email@example.com"}) {
		t.Errorf("default config, tags Email and Owner: Recipients = %q; want the Email tag's email@example.com", got)
	}
	fenced := def
	fenced.AllowedDomains = []string{"example.com"}
	evil := inventory.User{Name: "svc-build", Tags: map[string]string{"Owner": "eve@evil.test"}}
	got, probs := policy.RecipientsDetailed(&evil, fenced)
	if len(got) != 0 || len(probs) != 1 || probs[0].Source != `tag "Owner"` {
		t.Errorf("allowed_domains [example.com], tag Owner=eve@evil.test: Recipients = %q, problems %v; want none, one problem from tag \"Owner\"", got, probs)
	}
}
