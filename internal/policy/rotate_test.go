package policy_test

import (
	"testing"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestRotateStage: an active key at a rotate stage has action rotate and
// the target its user's tag or rotate.targets names; an inactive key gets
// only the delete stages; a certificate of the class is notified where
// the keys rotate.
func TestRotateStage(t *testing.T) {
	cfg := config.Default()
	cfg.Rules.AccessKeyAge["machine"] = []config.Stage{
		{At: 80, Action: config.ActionRotate}, {At: 120, Action: config.ActionDisable}, {At: 130, Action: config.ActionDelete}}
	cfg.Rotate.Targets = []config.RotateTarget{{Class: "machine", Secret: "keywarden/{user}"}}
	machine := func(name string, tags map[string]string, keys ...inventory.AccessKey) inventory.User {
		all := map[string]string{"UserType": "machine"}
		for k, v := range tags {
			all[k] = v
		}
		return inventory.User{Name: name, Tags: all, AccessKeys: keys}
	}
	snap := snapshotOf(
		machine("ci", map[string]string{config.TagSecret: "ssm:/keywarden/ci"}, inventory.AccessKey{Slot: 1, Active: true, CreatedAt: daysAgo(85)}),
		machine("deploy", nil, inventory.AccessKey{Slot: 1, Active: true, CreatedAt: daysAgo(85)}),
		machine("old", nil, inventory.AccessKey{Slot: 1, Active: false, CreatedAt: daysAgo(85)}),
		machine("certs", nil),
	)
	snap.Users[3].SigningCerts = []inventory.SigningCert{{Slot: 1, Active: true, CreatedAt: daysAgo(85)}}
	fs := policy.Evaluate(snap, cfg, asOf)

	ci := findingOf(t, fs, "ci", config.RuleAccessKeyAge)
	if ci.Action != config.ActionRotate || ci.Severity != config.SeverityMedium || ci.RotateTarget != "ssm:/keywarden/ci" {
		t.Errorf("ci: action %s, severity %s, target %q; want rotate, medium, the tag's ssm:/keywarden/ci", ci.Action, ci.Severity, ci.RotateTarget)
	}
	if d := findingOf(t, fs, "deploy", config.RuleAccessKeyAge); d.Action != config.ActionRotate || d.RotateTarget != "keywarden/deploy" {
		t.Errorf("deploy: action %s, target %q; want rotate, the class's keywarden/deploy", d.Action, d.RotateTarget)
	}
	if got := onlyRule(fs, config.RuleAccessKeyAge); len(got) != 2 {
		t.Errorf("access_key_age findings = %v; want ci's and deploy's only (an inactive key at 85 days is before the delete stage)", got)
	}
	if c := findingOf(t, fs, "certs", config.RuleSigningCertAge); c.Action != config.ActionNotify || c.RotateTarget != "" {
		t.Errorf("certificate: action %s, target %q; want notify, none", c.Action, c.RotateTarget)
	}
}

// TestRotateTargetMissing: a rotate finding of a user no tag nor target
// names has an empty target (the plan blocks it).
func TestRotateTargetMissing(t *testing.T) {
	cfg := config.Default()
	cfg.Rules.AccessKeyAge[config.DefaultClass] = []config.Stage{{At: 80, Action: config.ActionRotate}}
	fs := policy.Evaluate(snapshotOf(inventory.User{Name: "alice", AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: daysAgo(81)}}}), cfg, asOf)
	if f := findingOf(t, fs, "alice", config.RuleAccessKeyAge); f.Action != config.ActionRotate || f.RotateTarget != "" {
		t.Errorf("alice: action %s, target %q; want rotate, none", f.Action, f.RotateTarget)
	}
}
