package notify_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/state"
)

// truthAsOf is a Monday, 09:00 UTC.
var truthAsOf = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

const truthAcct = "123456789012"

// The rotation scenarios' new key, its secret's ARN, and a secret access
// key that no message may ever hold (none is ever given to the plan).
const (
	truthNewKey      = "AKIANEWKEYEXAMPLE001"
	truthSecretARN   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keywarden/alice-AbCdEf"
	truthSecretValue = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// truthKey is an active access_key_age finding of the default policy for
// a key of age days.
func truthKey(user, keyID string, slot, age int, to string) policy.Finding {
	f := policy.Finding{ID: fmt.Sprintf("%s-%d", user, slot), Account: truthAcct, AccountAlias: "acme-prod", User: user, Class: "human",
		Credential: policy.CredentialAccessKey, KeyID: keyID, Slot: slot, KeyActive: true, Rule: config.RuleAccessKeyAge, AgeDays: age,
		Recipients: []string{to}}
	created := truthAsOf.AddDate(0, 0, -age).Format(config.DateLayout)
	next := func(at int) *config.Date {
		d, _ := config.ParseDate(truthAsOf.AddDate(0, 0, at-age).Format(config.DateLayout))
		return &d
	}
	switch {
	case age >= 90:
		f.StageAt, f.Action, f.Severity = 90, config.ActionDelete, config.SeverityHigh
	case age >= 80:
		f.StageAt, f.Action, f.Severity, f.NextStageOn = 80, config.ActionDisable, config.SeverityHigh, next(90)
	default:
		f.StageAt, f.Action, f.Severity, f.NextStageOn = 70, config.ActionNotify, config.SeverityMedium, next(80)
	}
	f.Reason = fmt.Sprintf("access key %d is %d days old (created %s) and reached the %d-day stage (%s, %s)", slot, age, created, f.StageAt, f.Action, f.Severity)
	return f
}

// truthFindings: alice has a key past the disable stage and one past the
// delete stage (both active), carol one at the notify stage.
func truthFindings() []policy.Finding {
	return []policy.Finding{
		truthKey("alice", "AKIAIOSFODNN7EXAMPLE", 1, 85, "alice@example.com"),
		truthKey("alice", "AKIAI44QH8DHBEXAMPLE", 2, 95, "alice@example.com"),
		truthKey("carol", "AKIAJ7Q2EXAMPLECAROL", 1, 75, "carol@example.com"),
	}
}

// remediated is what remediation reports of the plan's actions: each
// planned action re-checked and carried out (done, or in a dry run
// planned with what a real run does), each blocked one recorded; the
// others as they were.
func remediated(dry bool) func(in *plan.Input) {
	return func(in *plan.Input) {
		p := plan.Build(*in)
		executed := append([]plan.Action(nil), p.Actions...)
		n := 0
		for i := range executed {
			a := &executed[i]
			if a.Status != plan.ActionPlanned && a.Status != plan.ActionBlocked {
				continue
			}
			n++
			a.ID = fmt.Sprintf("20261123-1a2b3c4d.%d", n)
			if a.Status == plan.ActionBlocked {
				continue
			}
			a.Status, a.Done, a.Before, a.After = plan.ActionDone, config.ActionDisable, "Active", "Inactive"
			a.Reason = fmt.Sprintf("disabled: the key reached its %d-day %s stage", a.StageAt, a.Kind)
			if a.Kind == config.ActionDelete {
				a.DeleteOn = "2026-12-03"
				a.Reason += " while active, so it is disabled first and deleted once inactive for 10 days (on 2026-12-03)"
			}
			if dry {
				a.Status, a.Reason, a.After, a.DeleteOn = plan.ActionPlanned, "dry run, re-checked; a real run does this: "+a.Reason, "", ""
			}
		}
		in.Executed = executed
	}
}

// TestMessagesTellTheTruth renders the owner mail and the admin digest of
// each outcome an action can have — done, planned, stopped by a guard,
// outside the window, enforcement off (a run that only notifies, an
// account not allowed, an offline report), a dry run — and of users a tag
// relaxed. Each is a golden file; the test also checks the promises no
// message may make.
func TestMessagesTellTheTruth(t *testing.T) {
	allowed := func(mut ...func(*config.Config)) *config.Config {
		cfg := config.Default()
		cfg.Notify.Admins.Emails = []string{"security@example.com"}
		cfg.Enforce.AllowedAccounts = []string{truthAcct}
		for _, m := range mut {
			m(cfg)
		}
		return cfg
	}
	tests := []struct {
		name string
		cfg  *config.Config
		in   func(*plan.Input)
		// never are phrases neither message may contain.
		never []string
	}{
		{name: "done", cfg: allowed(), in: remediated(false),
			never: []string{"will be disabled", "is to disable", "topped by a guard", "safety guard"}},
		{name: "planned", cfg: allowed(),
			never: []string{"was disabled", "actions taken", "topped by a guard", "safety guard"}},
		{name: "guard-blocked", cfg: allowed(func(c *config.Config) { c.Enforce.MaxActionsPerRun = 1 }), in: remediated(false),
			never: []string{"will be disabled", "was disabled", "is to disable", "actions taken"}},
		{name: "outside-window", cfg: allowed(func(c *config.Config) { c.Enforce.Window = &config.Window{Days: []string{"sat", "sun"}} }),
			in: remediated(false), never: []string{"will be disabled", "was disabled", "is to disable", "actions taken"}},
		{name: "enforcement-off", cfg: allowed(), in: func(in *plan.Input) { in.Mode, in.Apply = plan.ModeNotify, false },
			never: []string{"will be disabled", "was disabled", "is to disable", "may disable", "actions taken"}},
		{name: "account-not-allowed", cfg: allowed(func(c *config.Config) { c.Enforce.AllowedAccounts = nil }),
			never: []string{"will be disabled", "was disabled", "is to disable", "may disable", "actions taken"}},
		{name: "dry-run", cfg: allowed(), in: func(in *plan.Input) {
			in.Mode = plan.ModeDryRun
			remediated(true)(in)
		}, never: []string{"will be disabled", "was disabled", "is to disable", "actions taken"}},
		{name: "offline", cfg: allowed(), in: func(in *plan.Input) {
			in.Mode, in.Apply, in.Offline = plan.ModeNotify, false, true
			for i := range in.Findings {
				in.Findings[i].KeyID = ""
			}
		}, never: []string{"will be disabled", "was disabled", "AKIA", "actions taken"}},
		{name: "relaxed-by-tag", cfg: allowed(func(c *config.Config) {
			c.Exemptions = []config.Exemption{{Tags: map[string]string{"keywarden:exempt": "true"}, Reason: "managed elsewhere"}}
		}), in: func(in *plan.Input) {
			in.Mode, in.Apply = plan.ModeNotify, false
			bot := truthKey("build-bot", "AKIAJ7Q2EXAMPLEBUILD", 1, 85, "ci@example.com")
			bot.Class, bot.ClassFromTag, bot.Action = "machine", "UserType=machine", config.ActionNotify
			bot.Reason = "access key 1 is 85 days old (created 2026-08-30) and reached the 80-day stage (notify, high); next: the 90-day stage (notify, critical) on 2026-11-28"
			self := truthKey("mallory", "AKIAMALLORYEXAMPLE01", 1, 95, "mallory@example.com")
			self.Exempt, self.ExemptReason, self.ExemptFromTag = true, "managed elsewhere", "keywarden:exempt=true"
			in.Findings = append(in.Findings, bot, self)
		}, never: []string{"will be disabled", "was disabled", "mallory@"}},
	}
	// The rotation scenarios: alice's key 1 is a machine key at the rotate
	// stage (her key 2 left out).
	rotating := func(in *plan.Input) {
		in.Findings = slices.DeleteFunc(in.Findings, func(f policy.Finding) bool { return f.User == "alice" && f.Slot == 2 })
		f := &in.Findings[0]
		f.Class, f.Action, f.Severity, f.RotateTarget, f.NextStageOn = "machine", config.ActionRotate, config.SeverityMedium, "keywarden/alice", nil
		f.Reason = "access key 1 is 85 days old (created 2026-08-30) and reached the 80-day stage (rotate, medium)"
	}
	rotateCfg := allowed(func(c *config.Config) {
		c.Rules.AccessKeyAge["machine"] = []config.Stage{{At: 80, Action: config.ActionRotate}}
	})
	tests = append(tests, []struct {
		name  string
		cfg   *config.Config
		in    func(*plan.Input)
		never []string
	}{
		{name: "rotated", cfg: rotateCfg, in: func(in *plan.Input) {
			rotating(in)
			p := plan.Build(*in)
			executed := append([]plan.Action(nil), p.Actions...)
			for i := range executed {
				if a := &executed[i]; a.Kind == config.ActionRotate {
					a.ID, a.Status, a.Done, a.NewKeyID = "20261123-1a2b3c4d.1", plan.ActionDone, config.ActionRotate, truthNewKey
					a.Target, a.Reason = truthSecretARN, "rotated: the new key is written to "+truthSecretARN
				}
			}
			in.Executed = executed
		}, never: []string{"was disabled", "is to disable", "topped by a guard", truthSecretValue}},
		{name: "rotation-open", cfg: rotateCfg, in: func(in *plan.Input) {
			rotating(in)
			at := truthAsOf.AddDate(0, 0, -3)
			in.Rotations = []state.Action{{ID: "20261120-5e6f7a8b.1", Run: "20261120-5e6f7a8b", Account: truthAcct, User: "alice",
				Credential: policy.CredentialAccessKey, KeyID: "AKIAIOSFODNN7EXAMPLE", Kind: state.KindRotate, Rule: config.RuleAccessKeyAge, Stage: 80,
				FindingID: "alice-1", Status: state.ActionDone, NewKeyID: truthNewKey, SecretTarget: truthSecretARN, At: at, FinishedAt: at}}
		}, never: []string{"was disabled", "is to rotate", "is to disable", truthSecretValue}},
	}...)
	tpl := notify.DefaultTemplates()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := plan.Input{Config: tt.cfg, AsOf: truthAsOf, Mode: plan.ModeApply, Apply: true, Findings: truthFindings(),
				Accounts:   []report.Account{{ID: truthAcct, Alias: "acme-prod", Status: report.StatusOK, Users: 12, AccessKeys: 10}},
				ActiveKeys: map[string]int{truthAcct: 10}}
			if tt.in != nil {
				tt.in(&in)
			}
			p := plan.Build(in)
			if len(p.Messages) == 0 || p.Messages[0].To != "alice@example.com" || len(p.Digests) != 1 {
				t.Fatalf("plan: messages %+v, digests %d; want alice's message first and one digest", p.Messages, len(p.Digests))
			}
			user, err := tpl.User(&p.Messages[0], p, "keywarden@example.com", "u1", truthAsOf)
			if err != nil {
				t.Fatal(err)
			}
			digest, err := tpl.Digest(&p.Digests[0], "keywarden@example.com", "d1", truthAsOf)
			if err != nil {
				t.Fatal(err)
			}
			base := filepath.Join("testdata", "truth", tt.name)
			golden.Assert(t, "Subject: "+user.Subject+"\n\n"+user.Text, base+".user.txt")
			golden.Assert(t, user.HTML, base+".user.html")
			golden.Assert(t, "Subject: "+digest.Subject+"\n\n"+digest.Text, base+".digest.txt")
			golden.Assert(t, digest.HTML, base+".digest.html")
			for _, m := range []*notify.Message{user, digest} {
				for _, part := range []string{m.Subject, m.Text, m.HTML} {
					for _, w := range tt.never {
						if strings.Contains(part, w) {
							t.Errorf("%s message says %q", m.Kind, w)
						}
					}
				}
			}
		})
	}
}
