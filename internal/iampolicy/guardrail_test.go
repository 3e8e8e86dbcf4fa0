package iampolicy_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// guardedConfig reads tags in a class, an exemption and the owner's
// address, matches groups, and assumes a role in an organization.
const guardedConfig = `version: 1
accounts: { organization: { role_name: KeywardenAudit } }
classes:
  - { name: machine, match: { tags: { UserType: machine } } }
  - { name: ci, match: { groups: [ci-bots] } }
exemptions:
  - { tags: { "keywarden:exempt": "true" }, reason: "managed elsewhere" }
  - { groups: [break-glass], reason: "emergency access, rotated by hand" }
notify: { users: { email_tags: [Email, email, OwnerEmail] } }
`

var admins = []string{"arn:aws:iam::*:role/SecurityAdmin", "arn:aws:iam::111111111111:root"}

func guardrail(t *testing.T, yaml, kind string) *iampolicy.Document {
	t.Helper()
	d, err := iampolicy.Guardrail(cfgOf(t, yaml), iampolicy.GuardrailOptions{Kind: kind, Admins: admins})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGuardrailGolden pins both variants for guardedConfig (-update
// rewrites them); each passes AWS's checks as printed.
func TestGuardrailGolden(t *testing.T) {
	for _, kind := range []string{iampolicy.GuardrailSCP, iampolicy.GuardrailBoundary} {
		got, err := iampolicy.PrintGuardrail(guardrail(t, guardedConfig, kind), kind)
		if err != nil {
			t.Fatal(err)
		}
		golden.Assert(t, got, filepath.Join("testdata", "guardrail."+kind+".json"))
	}
}

// TestGuardrailDenies evaluates what the guardrail stops and what it lets
// through, for a developer and for an admin.
func TestGuardrailDenies(t *testing.T) {
	const dev, admin = "arn:aws:iam::222222222222:user/dev", "arn:aws:iam::222222222222:role/SecurityAdmin"
	user := "arn:aws:iam::222222222222:user/dev"
	tests := []struct {
		name      string
		action    string
		resource  string
		tagKeys   []string
		principal string
		denied    bool
	}{
		{"tag oneself into the machine class", "iam:TagUser", user, []string{"UserType"}, dev, true},
		{"the same key in another case", "iam:TagUser", user, []string{"usertype"}, dev, true},
		{"tag oneself exempt", "iam:TagUser", user, []string{"Team", "keywarden:exempt"}, dev, true},
		{"point the owner address elsewhere", "iam:TagUser", user, []string{"OwnerEmail"}, dev, true},
		{"remove the owner address", "iam:UntagUser", user, []string{"email"}, dev, true},
		{"create a user already exempt", "iam:CreateUser", "arn:aws:iam::222222222222:user/new", []string{"keywarden:exempt"}, dev, true},
		{"a tag keywarden does not read", "iam:TagUser", user, []string{"Team"}, dev, false},
		{"a user created without tags", "iam:CreateUser", "arn:aws:iam::222222222222:user/new", nil, dev, false},
		{"the admin tags", "iam:TagUser", user, []string{"UserType"}, admin, false},
		{"the management account's root", "iam:UntagUser", user, []string{"Email"}, "arn:aws:iam::111111111111:root", false},
		{"join an exempt group", "iam:AddUserToGroup", "arn:aws:iam::222222222222:group/break-glass", nil, dev, true},
		{"join a class's group under a path", "iam:AddUserToGroup", "arn:aws:iam::222222222222:group/eng/ci-bots", nil, dev, true},
		{"leave the class's group", "iam:RemoveUserFromGroup", "arn:aws:iam::222222222222:group/ci-bots", nil, dev, true},
		{"join another group", "iam:AddUserToGroup", "arn:aws:iam::222222222222:group/developers", nil, dev, false},
		{"the admin adds a member", "iam:AddUserToGroup", "arn:aws:iam::222222222222:group/break-glass", nil, admin, false},
		{"trust another account in the member role", "iam:UpdateAssumeRolePolicy", "arn:aws:iam::222222222222:role/KeywardenAudit", nil, dev, true},
		{"detach the member role's policy", "iam:DeleteRolePolicy", "arn:aws:iam::222222222222:role/KeywardenAudit", nil, dev, true},
		{"change another role", "iam:PutRolePolicy", "arn:aws:iam::222222222222:role/app", nil, dev, false},
	}
	for _, kind := range []string{iampolicy.GuardrailSCP, iampolicy.GuardrailBoundary} {
		d := guardrail(t, guardedConfig, kind)
		for _, tt := range tests {
			ctx := map[string][]string{"aws:PrincipalArn": {tt.principal}}
			if tt.tagKeys != nil {
				ctx["aws:TagKeys"] = tt.tagKeys
			}
			dec, err := d.Evaluate(iampolicy.Request{Action: tt.action, Resource: tt.resource, Context: ctx})
			if err != nil {
				t.Fatal(err)
			}
			if dec.Denied != tt.denied {
				t.Errorf("%s: %s: denied %v; want %v", kind, tt.name, dec.Denied, tt.denied)
			}
			// A boundary must allow what it does not deny; an SCP has no Allow.
			if want := kind == iampolicy.GuardrailBoundary && !tt.denied; dec.Allowed != want {
				t.Errorf("%s: %s: allowed %v; want %v", kind, tt.name, dec.Allowed, want)
			}
		}
	}
}

// TestGuardrailTagKeys: every key the config reads, one spelling of each.
func TestGuardrailTagKeys(t *testing.T) {
	got := iampolicy.TagKeysRead(cfgOf(t, guardedConfig))
	want := []string{"Email", "OwnerEmail", "UserType", "keywarden:exempt"}
	if !slices.Equal(got, want) {
		t.Errorf("TagKeysRead() = %v; want %v", got, want)
	}
}

// TestGuardrailPartition: the ARNs and the admins are in the config's
// partition.
func TestGuardrailPartition(t *testing.T) {
	d, err := iampolicy.Guardrail(cfgOf(t, strings.Replace(guardedConfig, "role_name: KeywardenAudit }", "role_name: KeywardenAudit }, partition: aws-us-gov", 1)),
		iampolicy.GuardrailOptions{Admins: []string{"arn:aws-us-gov:iam::*:role/SecurityAdmin"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Statement {
		for _, r := range s.Resource {
			if !strings.HasPrefix(r, "arn:aws-us-gov:iam::") {
				t.Errorf("%s: resource %s is not in aws-us-gov", s.Sid, r)
			}
		}
	}
}

func TestGuardrailErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		yaml string
		o    iampolicy.GuardrailOptions
		want string
	}{
		"kind": {guardedConfig, iampolicy.GuardrailOptions{Kind: "rcp"}, `guardrail "rcp": want scp or boundary`},
		"session ARN": {guardedConfig, iampolicy.GuardrailOptions{Admins: []string{"arn:aws:sts::111111111111:assumed-role/Admin/jane"}},
			`guardrail admin "arn:aws:sts::111111111111:assumed-role/Admin/jane": want the role's ARN (arn:aws:iam::ACCOUNT:role/NAME): aws:PrincipalArn names a session by its role`},
		"not an ARN": {guardedConfig, iampolicy.GuardrailOptions{Admins: []string{"SecurityAdmin"}},
			`guardrail admin "SecurityAdmin": want an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME; * for any account or in the name), or arn:aws:iam::ACCOUNT:root`},
		"other partition": {guardedConfig, iampolicy.GuardrailOptions{Admins: []string{"arn:aws-cn:iam::*:role/Admin"}},
			`guardrail admin "arn:aws-cn:iam::*:role/Admin": want an ARN in partition aws`},
		"nothing to guard": {"version: 1\nclasses: []\nnotify: { users: { email_tags: [] } }\n", iampolicy.GuardrailOptions{},
			"the config reads no tag, matches no group and assumes no role: there is nothing to guard"},
	} {
		if _, err := iampolicy.Guardrail(cfgOf(t, tt.yaml), tt.o); err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v; want %q", name, err, tt.want)
		}
	}
}

// manyTags is a config whose exemptions read n tag keys of 20 characters.
func manyTags(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nexemptions:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - { tags: { \"keywarden-tag-%06d\": \"true\" }, reason: r }\n", i)
	}
	return b.String()
}

// TestGuardrailSCPSize: an SCP too large indented is printed without white
// space when that fits AWS's 5,120 characters; one that cannot fit is an
// error that says so.
func TestGuardrailSCPSize(t *testing.T) {
	fits := guardrail(t, manyTags(180), iampolicy.GuardrailSCP)
	indented, err := fits.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCount(indented); n <= iampolicy.MaxSCPChars {
		t.Fatalf("the indented SCP is %d characters; the test needs one over %d", n, iampolicy.MaxSCPChars)
	}
	got, err := iampolicy.PrintGuardrail(fits, iampolicy.GuardrailSCP)
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCount(got); n > iampolicy.MaxSCPChars || strings.Contains(string(got), "\n  ") {
		t.Errorf("printed SCP: %d characters, indented %v; want at most %d, without white space", n, strings.Contains(string(got), "\n  "), iampolicy.MaxSCPChars)
	}
	_, err = iampolicy.PrintGuardrail(guardrail(t, manyTags(260), iampolicy.GuardrailSCP), iampolicy.GuardrailSCP)
	if err == nil || !strings.Contains(err.Error(), "an SCP may have 5120, white space included: split it, or use the permissions boundary") {
		t.Errorf("PrintGuardrail of an SCP too large: error %v", err)
	}
	// The boundary's limit counts no white space, and is larger.
	if _, err := iampolicy.PrintGuardrail(guardrail(t, manyTags(220), iampolicy.GuardrailBoundary), iampolicy.GuardrailBoundary); err != nil {
		t.Errorf("PrintGuardrail of the boundary: %v", err)
	}
	_, err = iampolicy.PrintGuardrail(guardrail(t, manyTags(300), iampolicy.GuardrailBoundary), iampolicy.GuardrailBoundary)
	if err == nil || !strings.Contains(err.Error(), "characters without white space; a managed policy may have 6144") {
		t.Errorf("PrintGuardrail of a boundary too large: error %v", err)
	}
}

// TestCheckSCP: what AWS Organizations refuses in an SCP is refused.
func TestCheckSCP(t *testing.T) {
	const deny = `{"Sid":"D","Effect":"Deny","Action":["iam:TagUser"],"Resource":["*"]}`
	large := `{"Version":"2012-10-17","Statement":[` + deny + `]}` + strings.Repeat(" ", 5120)
	for name, tt := range map[string]struct {
		doc, want string
	}{
		"valid":               {`{"Version":"2012-10-17","Statement":[` + deny + `]}`, ""},
		"principal":           {`{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Principal":"*","Action":["s3:*"],"Resource":["*"]}]}`, "statement 0: an SCP statement cannot have Principal"},
		"allow with resource": {`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}`, `statement 0: an SCP's Allow statement takes Action and Resource "*" only`},
		"inner wildcard":      {`{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Action":["iam:*User"],"Resource":["*"]}]}`, `statement 0: action "iam:*User": an SCP takes a wildcard only alone or at the end`},
		"version":             {`{"Version":"2008-10-17","Statement":[` + deny + `]}`, `the policy's Version is "2008-10-17"; want 2012-10-17`},
		"two objects":         {`{"Version":"2012-10-17","Statement":[` + deny + `]}{}`, "the policy has more than one JSON object"},
		"sid":                 {`{"Version":"2012-10-17","Statement":[{"Sid":"no-dash","Effect":"Deny","Action":["s3:*"],"Resource":["*"]}]}`, `statement 0: Sid "no-dash": letters and digits only`},
		"too large":           {large, fmt.Sprintf("the SCP is %d characters; an SCP may have 5120, white space included", len(large))},
	} {
		err := iampolicy.CheckSCP([]byte(tt.doc))
		if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("%s: CheckSCP() = %v; want %q", name, err, tt.want)
		}
	}
}
