package iampolicy_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// TestStopParameter: enforce.stop_parameter adds ssm:GetParameter on that
// parameter alone, to the runner (which reads it before each action), and
// only where keywarden can act at all.
func TestStopParameter(t *testing.T) {
	const stop = "version: 1\nenforce: { stop_parameter: %s, allowed_accounts: [%s] }\n"
	tests := []struct {
		name, yaml string
		role       string
		want       []string // the ReadStopParameter statement's resources; nil: none
	}{
		{"a name", fmt.Sprintf(stop, "/keywarden/stop", `"111111111111"`), iampolicy.RoleRunner,
			[]string{"arn:aws:ssm:*:*:parameter/keywarden/stop"}},
		{"an ARN", fmt.Sprintf(stop, "arn:aws:ssm:eu-west-1:111111111111:parameter/kw/stop", `"111111111111"`), iampolicy.RoleRunner,
			[]string{"arn:aws:ssm:eu-west-1:111111111111:parameter/kw/stop"}},
		{"no allowed account", fmt.Sprintf(stop, "/keywarden/stop", ""), iampolicy.RoleRunner, nil},
		{"the member role never reads it", fmt.Sprintf(stop, "/keywarden/stop", `"111111111111"`) +
			"accounts: { list: [ { id: \"111111111111\", role_arn: \"arn:aws:iam::111111111111:role/A\" } ] }\n", iampolicy.RoleMember, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := iampolicy.For(cfgOf(t, tt.yaml), iampolicy.Options{Role: tt.role})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range d.Statement {
				if s.Sid == "ReadStopParameter" {
					if !slices.Equal(s.Action, []string{"ssm:GetParameter"}) {
						t.Errorf("ReadStopParameter grants %v; want ssm:GetParameter only", s.Action)
					}
					got = s.Resource
				}
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("ReadStopParameter resources = %v; want %v", got, tt.want)
			}
		})
	}
}
