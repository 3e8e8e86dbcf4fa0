package config

import (
	"slices"
	"testing"
)

// TestStagesOf: a class's stages for certificates and service-specific
// credentials come from the rule's entry for the class, else the class's
// own access-key entry, else the rule's human entry, else human's key
// stages — never another rule's stages over the rule's own human entry.
func TestStagesOf(t *testing.T) {
	notify := []Stage{{At: 365, Action: ActionNotify}}
	keysHuman := []Stage{{At: 90, Action: ActionDelete}}
	keysMachine := []Stage{{At: 70, Action: ActionNotify}}
	r := &Rules{
		AccessKeyAge:   map[string][]Stage{DefaultClass: keysHuman, "machine": keysMachine},
		SigningCertAge: map[string][]Stage{DefaultClass: notify},
	}
	for _, tt := range []struct {
		rule, class string
		want        []Stage
	}{
		{RuleAccessKeyAge, "contractor", keysHuman},
		{RuleAccessKeyAge, "machine", keysMachine},
		{RuleSigningCertAge, DefaultClass, notify},
		{RuleSigningCertAge, "machine", keysMachine},        // the class's own key entry
		{RuleSigningCertAge, "contractor", notify},          // the rule's human entry, not human's keys
		{RuleServiceCredentialAge, "contractor", keysHuman}, // no entry of its own: human's keys
		{RuleServiceCredentialAge, "machine", keysMachine},
	} {
		if got := r.StagesOf(tt.rule, tt.class); !slices.Equal(got, tt.want) {
			t.Errorf("StagesOf(%s, %s) = %v; want %v", tt.rule, tt.class, got, tt.want)
		}
	}
}
