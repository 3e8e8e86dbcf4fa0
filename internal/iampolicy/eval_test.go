package iampolicy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGlobMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"iam:Get*", "iam:GetUser", true},
		{"iam:Get*", "iam:ListUsers", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*x*y", "axbxy", true},
		{"*x*y", "axbx", false},
		{"user/*", "user/path/name", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v; want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestResourceMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, resource string
		want              bool
	}{
		{"*", "*", true},
		{"*", "arn:aws:iam::111111111111:user/a", true},
		{"arn:aws:iam::*:user/*", "*", false},
		{"arn:aws:iam::111111111111:user/*", "arn:aws:iam::111111111111:user/ops/alice", true},
		{"arn:aws:iam::111111111111:user/*", "arn:aws:iam::222222222222:user/alice", false},
		{"arn:aws:iam::111111111111:user/*", "arn:aws-us-gov:iam::111111111111:user/alice", false},
		// A wildcard in the first five parts never spans a colon.
		{"arn:aws:iam::*:user/*", "arn:aws:iam::1:2:user/alice", false},
		// The resource part may hold colons.
		{"arn:aws:logs:*:*:log-group:/aws/lambda/kw:*", "arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/kw:log-stream:x", true},
		{"arn:aws:ses:*:*:identity/example.com", "arn:aws:ses:us-east-1:111111111111:identity/example.com", true},
	} {
		if got := resourceMatch(tt.pattern, tt.resource); got != tt.want {
			t.Errorf("resourceMatch(%q, %q) = %v; want %v", tt.pattern, tt.resource, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	d := &Document{Version: Version, Statement: []Statement{
		{Sid: "Write", Effect: "Allow", Action: []string{"iam:UpdateAccessKey"}, Resource: []string{"arn:aws:iam::111111111111:user/*"}},
		{Sid: "Assume", Effect: "Allow", Action: []string{"sts:AssumeRole"}, Resource: []string{"arn:aws:iam::*:role/R"},
			Condition: Condition{"StringEquals": {"aws:ResourceOrgID": {"${aws:PrincipalOrgID}"}}}},
		{Sid: "Tags", Effect: "Deny", Action: []string{"iam:TagUser", "iam:UntagUser"}, Resource: []string{"*"},
			Condition: Condition{"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": {"Email", "UserType"}},
				"ArnNotLike": {"aws:PrincipalArn": {"arn:aws:iam::*:role/Admin"}}}},
		{Sid: "Anything", Effect: "Allow", Action: []string{"iam:*"}, Resource: []string{"*"},
			Condition: Condition{"StringEqualsIfExists": {"aws:RequestedRegion": {"us-east-1"}}}},
	}}
	for _, tt := range []struct {
		name    string
		r       Request
		allowed bool
		denied  bool
		grants  []Grant
	}{
		{"action and resource", Request{Action: "iam:UpdateAccessKey", Resource: "arn:aws:iam::111111111111:user/a"}, true, false,
			[]Grant{{"Write", "iam:UpdateAccessKey", "arn:aws:iam::111111111111:user/*"}, {"Anything", "iam:*", "*"}}},
		{"actions are case-insensitive", Request{Action: "IAM:updateaccesskey", Resource: "arn:aws:iam::111111111111:user/a"}, true, false,
			[]Grant{{"Write", "iam:UpdateAccessKey", "arn:aws:iam::111111111111:user/*"}, {"Anything", "iam:*", "*"}}},
		{"policy variable holds", Request{Action: "sts:AssumeRole", Resource: "arn:aws:iam::2:role/R",
			Context: map[string][]string{"aws:PrincipalOrgID": {"o-1"}, "aws:ResourceOrgID": {"o-1"}}}, true, false,
			[]Grant{{"Assume", "sts:AssumeRole", "arn:aws:iam::*:role/R"}}},
		{"policy variable differs", Request{Action: "sts:AssumeRole", Resource: "arn:aws:iam::2:role/R",
			Context: map[string][]string{"aws:PrincipalOrgID": {"o-1"}, "aws:ResourceOrgID": {"o-2"}}}, false, false, nil},
		{"key missing: StringEquals fails", Request{Action: "sts:AssumeRole", Resource: "arn:aws:iam::2:role/R",
			Context: map[string][]string{"aws:PrincipalOrgID": {"o-1"}}}, false, false, nil},
		{"IfExists: present and wrong", Request{Action: "iam:GetUser", Resource: "*",
			Context: map[string][]string{"aws:RequestedRegion": {"eu-west-1"}}}, false, false, nil},
		{"a protected key in any case is denied", Request{Action: "iam:TagUser", Resource: "arn:aws:iam::1:user/a",
			Context: map[string][]string{"aws:TagKeys": {"team", "usertype"}, "aws:PrincipalArn": {"arn:aws:iam::1:user/a"}}}, false, true, nil},
		{"other keys are not", Request{Action: "iam:TagUser", Resource: "arn:aws:iam::1:user/a",
			Context: map[string][]string{"aws:TagKeys": {"team"}, "aws:PrincipalArn": {"arn:aws:iam::1:user/a"}}}, true, false,
			[]Grant{{"Anything", "iam:*", "*"}}},
		{"the admin is not denied", Request{Action: "iam:UntagUser", Resource: "arn:aws:iam::1:user/a",
			Context: map[string][]string{"aws:TagKeys": {"Email"}, "aws:PrincipalArn": {"arn:aws:iam::1:role/Admin"}}}, true, false,
			[]Grant{{"Anything", "iam:*", "*"}}},
		{"ForAnyValue on no tags holds not", Request{Action: "iam:TagUser", Resource: "arn:aws:iam::1:user/a",
			Context: map[string][]string{"aws:PrincipalArn": {"arn:aws:iam::1:user/a"}}}, true, false, []Grant{{"Anything", "iam:*", "*"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := d.Evaluate(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Allowed != tt.allowed || dec.Denied != tt.denied {
				t.Errorf("Evaluate() allowed %v, denied %v; want %v, %v", dec.Allowed, dec.Denied, tt.allowed, tt.denied)
			}
			if diff := cmp.Diff(tt.grants, dec.Grants); diff != "" {
				t.Errorf("grants (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateUnknownOperator(t *testing.T) {
	d := &Document{Statement: []Statement{{Sid: "X", Effect: "Allow", Action: []string{"iam:GetUser"}, Resource: []string{"*"},
		Condition: Condition{"DateGreaterThan": {"aws:CurrentTime": {"2020-01-01"}}}}}}
	if _, err := d.Evaluate(Request{Action: "iam:GetUser", Resource: "*"}); err == nil {
		t.Error("Evaluate() with DateGreaterThan: no error; want one (an operator it cannot evaluate never matches silently)")
	}
}

func TestGrants(t *testing.T) {
	d := &Document{Statement: []Statement{
		{Sid: "A", Effect: "Allow", Action: []string{"a:X", "a:Y"}, Resource: []string{"r1", "r2"}},
		{Sid: "D", Effect: "Deny", Action: []string{"a:Z"}, Resource: []string{"*"}},
	}}
	want := []Grant{{"A", "a:X", "r1"}, {"A", "a:X", "r2"}, {"A", "a:Y", "r1"}, {"A", "a:Y", "r2"}}
	if diff := cmp.Diff(want, d.Grants()); diff != "" {
		t.Errorf("Grants() (-want +got):\n%s", diff)
	}
}
