package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestBuildNeverActsOnItsCredentialChain: the source user's key behind the
// role keywarden assumes is skipped in whichever account it is found, with
// the role in the reason, and its owner is not told it will be disabled.
func TestBuildNeverActsOnItsCredentialChain(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/keywarden"
	p := applying(enforcing(), []policy.Finding{keyFinding("alice", 1, 85, "a@example.com"), keyFinding("ops", 1, 85, "o@example.com")}, 10,
		func(in *plan.Input) {
			in.Self = map[string][]string{acct: {"ASIATEMPORARY"}} // the role's session key
			in.SourceKeys = map[string]string{"AKIAOPS1": role}
		})
	want := []string{"AKIAALICE1 disable planned", "AKIAOPS1 disable skipped"}
	if got := statuses(p); !cmp.Equal(got, want) {
		t.Fatalf("actions = %v; want %v", got, want)
	}
	if r := p.Actions[1].Reason; r != plan.ReasonSource(role) {
		t.Errorf("source key's reason = %q; want %q", r, plan.ReasonSource(role))
	}
	if !strings.Contains(plan.ReasonSource(role), role) {
		t.Errorf("ReasonSource(%q) = %q; want it to name the role", role, plan.ReasonSource(role))
	}
	for _, m := range p.Messages {
		for _, it := range m.Items {
			if it.User == "ops" && (it.Enforced || strings.Contains(it.Next, "will be disabled")) {
				t.Errorf("ops's item: enforced %v, next %q; want neither enforced nor a promise to disable it", it.Enforced, it.Next)
			}
		}
	}
}

// TestBuildProtect: enforce.protect by user glob (every credential of the
// user), by key ID, and only in its accounts; each skip names the entry
// and its reason.
func TestBuildProtect(t *testing.T) {
	cfg := enforcing()
	cfg.Enforce.Protect = []config.Protect{
		{Users: []string{"break-glass-*"}, Reason: "emergency access"},
		{KeyIDs: []string{"AKIACI1"}},
		{Users: []string{"alice"}, Accounts: []string{"999999999999"}, Reason: "another account only"},
	}
	pw := keyFinding("break-glass-1", 1, 85, "b@example.com")
	pw.ID, pw.Credential, pw.KeyID, pw.Slot, pw.Rule, pw.StageAt, pw.Action = "bg-pw", policy.CredentialPassword, "", 0, config.RulePasswordUnused, 90, config.ActionRemovePassword
	fs := []policy.Finding{keyFinding("alice", 1, 85, "a@example.com"), keyFinding("break-glass-1", 1, 85, "b@example.com"), pw,
		keyFinding("ci", 1, 85, "c@example.com"), keyFinding("ci", 2, 85, "c@example.com")}
	p := applying(cfg, fs, 100)
	got := map[string]string{}
	for _, a := range p.Actions {
		got[a.User+" "+a.Credential+" "+a.KeyID] = a.Status + ": " + a.Reason
	}
	want := map[string]string{
		"alice access_key AKIAALICE1":                 "planned: ",
		"break-glass-1 access_key AKIABREAK-GLASS-11": `skipped: protected by enforce.protect[0] (user break-glass-1 matches "break-glass-*"): emergency access; keywarden never acts on it`,
		"break-glass-1 password ":                     `skipped: protected by enforce.protect[0] (user break-glass-1 matches "break-glass-*"): emergency access; keywarden never acts on it`,
		"ci access_key AKIACI1":                       "skipped: protected by enforce.protect[1] (access key AKIACI1); keywarden never acts on it",
		"ci access_key AKIACI2":                       "planned: ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}

// TestBuildProtectWhenNotApplying: without --apply the action stays
// listed (nothing would change anyway); the skip is a decision of runs
// that act.
func TestBuildProtectWhenNotApplying(t *testing.T) {
	cfg := enforcing()
	cfg.Enforce.Protect = []config.Protect{{KeyIDs: []string{"AKIACI1"}}}
	p := build(cfg, []policy.Finding{keyFinding("ci", 1, 85, "c@example.com")})
	if got, want := statuses(p), []string{"AKIACI1 disable listed"}; !cmp.Equal(got, want) {
		t.Errorf("actions = %v; want %v", got, want)
	}
}
