package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// rotateFinding is a machine user's key at the 80-day rotate stage, with
// target ("" none).
func rotateFinding(user string, age int, target string) policy.Finding {
	f := keyFinding(user, 1, age, user+"@example.com")
	f.Class, f.StageAt, f.Action, f.RotateTarget, f.NextStageOn = "machine", 80, config.ActionRotate, target, nil
	return f
}

// rotationRecord is a done rotation of user's key 1, made daysAgo days
// before asOf.
func rotationRecord(user string, daysAgo int) state.Action {
	at := asOf.AddDate(0, 0, -daysAgo)
	return state.Action{ID: "20261001-rot." + user, Account: acct, User: user, Credential: policy.CredentialAccessKey,
		KeyID: "AKIA" + strings.ToUpper(user) + "1", Kind: state.KindRotate, Rule: config.RuleAccessKeyAge, Stage: 80,
		FindingID: user + "-1", Status: state.ActionDone, Before: state.KeyActive, After: state.KeyActive,
		NewKeyID: "AKIANEWKEY" + strings.ToUpper(user), SecretTarget: "arn:aws:secretsmanager:eu-west-1:" + acct + ":secret:keywarden/" + user + "-AbCdEf",
		At: at, FinishedAt: at}
}

func rotating() *config.Config {
	cfg := enforcing()
	cfg.Enforce.NoticeBeforeAction = 0
	return cfg
}

// TestBuildRotate: a finding at a rotate stage is a rotate action with
// the finding's target; without one it is blocked, saying why, and that
// block is no guard.
func TestBuildRotate(t *testing.T) {
	p := applying(rotating(), []policy.Finding{rotateFinding("ci", 85, "keywarden/ci"), rotateFinding("deploy", 85, "")}, 10)
	if got, want := statuses(p), []string{"AKIACI1 rotate planned", "AKIADEPLOY1 rotate blocked"}; !cmp.Equal(got, want) {
		t.Fatalf("actions = %v; want %v", got, want)
	}
	if p.Actions[0].Target != "keywarden/ci" {
		t.Errorf("ci's target = %q; want keywarden/ci", p.Actions[0].Target)
	}
	if r := p.Actions[1].Reason; r != plan.ReasonNoRotateTarget || !strings.HasPrefix(r, "no keywarden:secret tag and no rotate.targets entry for this user") {
		t.Errorf("deploy's reason = %q", r)
	}
	if len(p.Guards) != 0 {
		t.Errorf("guards = %+v; want none (a missing target blocks one rotation, not the account)", p.Guards)
	}
	m := messageTo(t, p, "deploy@example.com")
	if next := m.Items[0].Next; !strings.Contains(next, "keywarden cannot rotate it: no keywarden:secret tag") || !strings.Contains(next, "keywarden:user=deploy") {
		t.Errorf("deploy's next = %q; want it told why the rotation is blocked", next)
	}
	m = messageTo(t, p, "ci@example.com")
	if next := m.Items[0].Next; !strings.Contains(next, "keywarden is to rotate it in this run (2026-11-23): a new key is written to keywarden/ci") ||
		!strings.Contains(next, "for 7 days (rotate.overlap_days)") {
		t.Errorf("ci's next = %q", next)
	}
}

func messageTo(t *testing.T, p *plan.Plan, to string) plan.Message {
	t.Helper()
	for _, m := range p.Messages {
		if m.To == to {
			return m
		}
	}
	t.Fatalf("no message to %s in %+v", to, p.Messages)
	return plan.Message{}
}

// TestBuildRotateGuards: a rotation counts toward max_actions_per_run but
// not toward max_fraction (the key stays active), and does not wait for
// notice_before_action.
func TestBuildRotateGuards(t *testing.T) {
	fs := []policy.Finding{rotateFinding("a", 85, "keywarden/a"), rotateFinding("b", 85, "keywarden/b"), rotateFinding("c", 85, "keywarden/c")}
	// 3 of 3 active keys: max_fraction 0.2 would block three disables.
	if got, want := statuses(applying(rotating(), fs, 3)), []string{"AKIAA1 rotate planned", "AKIAB1 rotate planned", "AKIAC1 rotate planned"}; !cmp.Equal(got, want) {
		t.Errorf("max_fraction: actions = %v; want %v", got, want)
	}
	cfg := rotating()
	cfg.Enforce.MaxActionsPerRun = 2
	p := applying(cfg, fs, 100)
	if got, want := statuses(p), []string{"AKIAA1 rotate blocked", "AKIAB1 rotate blocked", "AKIAC1 rotate blocked"}; !cmp.Equal(got, want) || len(p.Guards) != 1 {
		t.Errorf("max_actions_per_run: actions = %v, guards %+v; want %v and one guard", got, p.Guards, want)
	}
	cfg = rotating()
	cfg.Enforce.NoticeBeforeAction = 7
	if got, want := statuses(applying(cfg, fs[:1], 10)), []string{"AKIAA1 rotate planned"}; !cmp.Equal(got, want) {
		t.Errorf("notice_before_action: actions = %v; want %v (a rotation stops nothing working)", got, want)
	}
}

// TestBuildOpenRotation: a key under an open rotation gets no action of
// its class's stages nor a second rotation before the overlap ends; its
// owner is told the rotation (new key ID, the secret's ARN, never a
// secret) and when the old key goes.
func TestBuildOpenRotation(t *testing.T) {
	old := keyFinding("ci", 1, 125, "ci@example.com") // past a later disable stage
	old.Class, old.Action, old.StageAt = "machine", config.ActionDisable, 120
	again := rotateFinding("deploy", 85, "keywarden/deploy")
	p := applying(rotating(), []policy.Finding{old, again}, 10, func(in *plan.Input) {
		in.Rotations = []state.Action{rotationRecord("ci", 3), rotationRecord("deploy", 2)}
	})
	if got := statuses(p); got != nil {
		t.Fatalf("actions = %v; want none (both keys are under open rotations, inside the overlap)", got)
	}
	m := messageTo(t, p, "ci@example.com")
	next := m.Items[0].Next
	for _, w := range []string{"It was rotated on 2026-11-20 by keywarden (action 20261001-rot.ci): the new key AKIANEWKEYCI was written to arn:aws:secretsmanager:eu-west-1:123456789012:secret:keywarden/ci-AbCdEf.",
		"until 2026-11-27 at the latest", "deletes it 10 days later"} {
		if !strings.Contains(next, w) {
			t.Errorf("ci's next = %q; want it to say %q", next, w)
		}
	}
	if d := m.Items[0].Deadline(p.Day); d != "2026-11-27" {
		t.Errorf("ci's deadline = %q; want 2026-11-27, the overlap's end (nothing is past due: the rotation carries the change)", d)
	}
	if len(p.Digests) == 0 || len(p.Digests[0].Rotations) != 2 || p.Digests[0].Rotations[0].User != "ci" || p.Digests[0].Rotations[0].NewKeyID != "AKIANEWKEYCI" {
		t.Errorf("digest rotations = %+v; want ci's and deploy's", p.Digests[0].Rotations)
	}
}

// TestBuildRetireRotation: once the overlap has passed, the old key is
// disabled (a disable that retires the rotation, guarded like any
// disable); once inactive for the grace period, deleted; a deleted or
// undone rotation is no longer open.
func TestBuildRetireRotation(t *testing.T) {
	old := keyFinding("ci", 1, 95, "ci@example.com")
	old.Class, old.Action, old.StageAt = "machine", config.ActionRotate, 80
	rot := rotationRecord("ci", 8)
	p := applying(rotating(), []policy.Finding{old}, 10, func(in *plan.Input) { in.Rotations = []state.Action{rot} })
	if got, want := statuses(p), []string{"AKIACI1 disable planned"}; !cmp.Equal(got, want) {
		t.Fatalf("after the overlap: actions = %v; want %v", got, want)
	}
	if a := p.Actions[0]; a.RotationOf != rot.ID || !a.KeyActive {
		t.Errorf("retiring disable = %+v; want RotationOf %s, an active key", a, rot.ID)
	}
	if got := p.Actions[0].Line(); !strings.HasSuffix(got, "(retires the key rotation 20261001-rot.ci replaced)") {
		t.Errorf("digest line = %q", got)
	}
	// The retiring disable counts toward max_fraction, as any disable.
	if got, want := statuses(applying(rotating(), []policy.Finding{old}, 1, func(in *plan.Input) { in.Rotations = []state.Action{rot} })),
		[]string{"AKIACI1 disable blocked"}; !cmp.Equal(got, want) {
		t.Errorf("max_fraction: actions = %v; want %v", got, want)
	}
	// And waits for notice_before_action, counted from the notice of its stage.
	cfg := rotating()
	cfg.Enforce.NoticeBeforeAction = 7
	if got, want := statuses(applying(cfg, []policy.Finding{old}, 10, func(in *plan.Input) { in.Rotations = []state.Action{rot} })),
		[]string{"AKIACI1 disable waiting"}; !cmp.Equal(got, want) {
		t.Errorf("notice_before_action: actions = %v; want %v", got, want)
	}

	disabled := state.Action{ID: "20261117-ret.1", Account: acct, User: "ci", Credential: policy.CredentialAccessKey, KeyID: "AKIACI1",
		Kind: state.KindDisable, Status: state.ActionDone, RotationOf: rot.ID, At: asOf.AddDate(0, 0, -10), FinishedAt: asOf.AddDate(0, 0, -10)}
	inactive := old
	inactive.KeyActive = false
	p = applying(rotating(), []policy.Finding{inactive}, 10, func(in *plan.Input) { in.Rotations = []state.Action{rot, disabled} })
	if got, want := statuses(p), []string{"AKIACI1 delete planned"}; !cmp.Equal(got, want) || p.Actions[0].RotationOf != rot.ID {
		t.Errorf("after the grace: actions = %v; want %v retiring %s", got, want, rot.ID)
	}
	disabled.FinishedAt = asOf.AddDate(0, 0, -3)
	p = applying(rotating(), []policy.Finding{inactive}, 10, func(in *plan.Input) { in.Rotations = []state.Action{rot, disabled} })
	if got := statuses(p); got != nil {
		t.Errorf("inside the grace: actions = %v; want none", got)
	}
	if next := messageTo(t, p, "ci@example.com").Items[0].Next; !strings.Contains(next, "keywarden disabled this key on 2026-11-20 (action 20261117-ret.1); the first keywarden run from 2026-11-30 deletes it.") {
		t.Errorf("ci's next = %q", next)
	}

	undo := state.Action{ID: "20261122-undo.1", Account: acct, User: "ci", KeyID: "AKIACI1", Kind: state.KindEnable, Status: state.ActionDone, UndoOf: rot.ID}
	deleted := disabled
	deleted.ID, deleted.Kind = "20261122-ret.2", state.KindDelete
	for name, recs := range map[string][]state.Action{"undone": {rot, undo}, "deleted": {rot, disabled, deleted}} {
		p = applying(rotating(), []policy.Finding{old}, 10, func(in *plan.Input) { in.Rotations = recs })
		if got, want := statuses(p), []string{"AKIACI1 rotate blocked"}; !cmp.Equal(got, want) {
			t.Errorf("%s rotation: actions = %v; want %v (the class's stages again; no target in this finding)", name, got, want)
		}
	}
}

// TestRotationDoneWording: a rotation this run made is told in the past
// tense, with the new key's ID and the secret's ARN; the owner's summary
// counts it.
func TestRotationDoneWording(t *testing.T) {
	f := rotateFinding("ci", 85, "keywarden/ci")
	p := applying(rotating(), []policy.Finding{f}, 10, func(in *plan.Input) {
		p := plan.Build(*in)
		ex := p.Actions
		ex[0].ID, ex[0].Status, ex[0].Done, ex[0].NewKeyID = "20261123-aa.1", plan.ActionDone, config.ActionRotate, "AKIANEWKEYCI"
		ex[0].Target = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keywarden/ci-AbCdEf"
		in.Executed = ex
	})
	m := messageTo(t, p, "ci@example.com")
	want := "It is past the 80-day limit. It was rotated on 2026-11-23 by keywarden (action 20261123-aa.1): the new key AKIANEWKEYCI was written to " +
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:keywarden/ci-AbCdEf. This key stays active until the new key is first used, " +
		"or until 2026-11-30 at the latest (rotate.overlap_days); then keywarden disables it, and deletes it 10 days later."
	if got := m.Items[0].Next; got != want {
		t.Errorf("next =\n%s\nwant\n%s", got, want)
	}
	if got := m.Changed(); got != "1 rotated" {
		t.Errorf("Changed() = %q; want 1 rotated", got)
	}
	if got := p.Actions[0].Line(); !strings.HasSuffix(got, "[20261123-aa.1]: new key AKIANEWKEYCI written to arn:aws:secretsmanager:eu-west-1:123456789012:secret:keywarden/ci-AbCdEf") ||
		!strings.HasPrefix(got, "rotated access key AKIACI1") {
		t.Errorf("digest line = %q", got)
	}
	if len(m.Items[0].Fix) == 0 || !strings.Contains(m.Items[0].Fix[0], "credential_process") {
		t.Errorf("fix = %q; want the steps of a rotated key", m.Items[0].Fix)
	}
}

// TestBuildRotateYieldsToDisable: a key that one rule rotates and another
// disables (unused) gets one action, the disable: a key nothing uses
// needs no successor.
func TestBuildRotateYieldsToDisable(t *testing.T) {
	unused := rotateFinding("ci", 85, "keywarden/ci")
	unused.ID, unused.Rule, unused.StageAt, unused.Action = "ci-1-unused", config.RuleAccessKeyUnused, 45, config.ActionDisable
	p := applying(rotating(), []policy.Finding{rotateFinding("ci", 85, "keywarden/ci"), unused}, 10)
	if got, want := statuses(p), []string{"AKIACI1 disable planned"}; !cmp.Equal(got, want) {
		t.Errorf("actions = %v; want %v", got, want)
	}
}

// TestBuildRetireOnNewKeyUse: the run's read of the new key (NewKeyUse)
// decides the retiring disable inside the overlap: used → planned now,
// with the old key's creation and guarded (notice_before_action) as any
// disable; read failed → nothing, even past the overlap; gone → the
// rotation is broken: the digest says so, the class's stages apply again.
func TestBuildRetireOnNewKeyUse(t *testing.T) {
	old := keyFinding("ci", 1, 95, "ci@example.com")
	old.Class, old.Action, old.StageAt = "machine", config.ActionDisable, 90
	old.KeyCreatedAt = asOf.AddDate(0, 0, -95)
	rot := rotationRecord("ci", 3) // inside the overlap
	with := func(use plan.NewKeyUse, rots ...state.Action) func(*plan.Input) {
		return func(in *plan.Input) {
			in.Rotations = rots
			in.NewKeyUse = map[string]plan.NewKeyUse{rot.ID: use}
		}
	}
	p := applying(rotating(), []policy.Finding{old}, 10, with(plan.NewKeyUse{UsedOn: "2026-11-22"}, rot))
	if got, want := statuses(p), []string{"AKIACI1 disable planned"}; !cmp.Equal(got, want) {
		t.Fatalf("new key used: actions = %v; want %v", got, want)
	}
	if a := p.Actions[0]; a.RotationOf != rot.ID || a.KeyCreated.IsZero() || !a.KeyCreated.Equal(old.KeyCreatedAt) {
		t.Errorf("retiring disable = %+v; want RotationOf %s and the old key's creation", a, rot.ID)
	}
	cfg := rotating()
	cfg.Enforce.NoticeBeforeAction = 7
	if got, want := statuses(applying(cfg, []policy.Finding{old}, 10, with(plan.NewKeyUse{UsedOn: "2026-11-22"}, rot))),
		[]string{"AKIACI1 disable waiting"}; !cmp.Equal(got, want) {
		t.Errorf("new key used, notice_before_action: actions = %v; want %v", got, want)
	}
	if got := statuses(applying(rotating(), []policy.Finding{old}, 10, with(plan.NewKeyUse{}, rot))); got != nil {
		t.Errorf("new key not used, inside the overlap: actions = %v; want none", got)
	}
	late := rotationRecord("ci", 8)
	late.ID = rot.ID
	if got := statuses(applying(rotating(), []policy.Finding{old}, 10, with(plan.NewKeyUse{Unread: true}, late))); got != nil {
		t.Errorf("read failed, past the overlap: actions = %v; want none (held this run)", got)
	}
	p = applying(rotating(), []policy.Finding{old}, 10, with(plan.NewKeyUse{Gone: true}, rot))
	if got, want := statuses(p), []string{"AKIACI1 disable planned"}; !cmp.Equal(got, want) || p.Actions[0].RotationOf != "" {
		t.Errorf("new key gone: actions = %v (RotationOf %q); want the class's disable stage, retiring no rotation", got, p.Actions[0].RotationOf)
	}
	if len(p.Digests) == 0 || len(p.Digests[0].Rotations) != 1 || !p.Digests[0].Rotations[0].Broken ||
		!strings.Contains(p.Digests[0].Rotations[0].Text, "BROKEN: ci in "+acct+": the new key AKIANEWKEYCI of rotation "+rot.ID+" no longer exists") {
		t.Errorf("digest rotations = %+v; want the rotation listed as broken", p.Digests)
	}
}

// TestBuildRetireDeleteWithoutFinding: an old key its rotation disabled
// has no finding when the class has no delete stage; the rotation still
// plans its delete once the grace period is over, and a retiring step
// that found the key gone closes the rotation.
func TestBuildRetireDeleteWithoutFinding(t *testing.T) {
	rot := rotationRecord("ci", 20)
	rot.Audiences = []string{"ci@example.com"}
	disabled := state.Action{ID: "20261110-ret.1", Account: acct, User: "ci", Credential: policy.CredentialAccessKey, KeyID: rot.KeyID,
		Kind: state.KindDisable, Status: state.ActionDone, After: state.KeyInactive, RotationOf: rot.ID, At: asOf.AddDate(0, 0, -12), FinishedAt: asOf.AddDate(0, 0, -12)}
	seen := map[string]plan.OldKey{rot.ID: {Active: false}}
	p := applying(rotating(), nil, 10, func(in *plan.Input) { in.Rotations, in.OldKeys = []state.Action{rot, disabled}, seen })
	if got, want := statuses(p), []string{rot.KeyID + " delete planned"}; !cmp.Equal(got, want) || p.Actions[0].RotationOf != rot.ID {
		t.Fatalf("actions = %v; want %v retiring %s", got, want, rot.ID)
	}
	disabled.FinishedAt = asOf.AddDate(0, 0, -3)
	if got := statuses(applying(rotating(), nil, 10, func(in *plan.Input) { in.Rotations, in.OldKeys = []state.Action{rot, disabled}, seen })); got != nil {
		t.Errorf("inside the grace: actions = %v; want none", got)
	}
	disabled.FinishedAt = asOf.AddDate(0, 0, -12)
	gone := state.Action{ID: "20261122-ret.2", Account: acct, User: "ci", KeyID: rot.KeyID, Kind: state.KindDelete, Status: state.ActionSkipped,
		After: state.StateNotFound, RotationOf: rot.ID}
	p = applying(rotating(), nil, 10, func(in *plan.Input) { in.Rotations, in.OldKeys = []state.Action{rot, disabled, gone}, seen })
	if got := statuses(p); got != nil || len(p.Digests) > 0 && len(p.Digests[0].Rotations) != 0 {
		t.Errorf("old key found gone: actions = %v; want none, the rotation closed", got)
	}
}

// retiredCI is a rotation of ci's key and its retiring disable, made
// disabledAgo days before asOf.
func retiredCI(disabledAgo int) (rot, disabled state.Action) {
	rot = rotationRecord("ci", disabledAgo+8)
	rot.Audiences = []string{"ci@example.com"}
	at := asOf.AddDate(0, 0, -disabledAgo)
	disabled = state.Action{ID: "20261110-ret.1", Account: acct, User: "ci", Credential: policy.CredentialAccessKey, KeyID: rot.KeyID,
		Kind: state.KindDisable, Status: state.ActionDone, After: state.KeyInactive, RotationOf: rot.ID, At: at, FinishedAt: at}
	return rot, disabled
}

// TestBuildRetireDeleteHeld: the delete built from the records (no item
// on the old key) is planned only for a key with no finding at all, of a
// user with no exemption, that the scan saw inactive; otherwise none, and
// the digest's rotation line says why.
func TestBuildRetireDeleteHeld(t *testing.T) {
	rot, disabled := retiredCI(12)
	exemptKey := keyFinding("ci", 1, 200, "ci@example.com")
	exemptKey.Exempt, exemptKey.KeyActive = true, false
	exemptUser := keyFinding("ci", 2, 200, "ci@example.com")
	exemptUser.Exempt = true
	for _, c := range []struct {
		name     string
		findings []policy.Finding
		seen     map[string]plan.OldKey
		why      string
	}{
		{"exempt key", []policy.Finding{exemptKey}, map[string]plan.OldKey{rot.ID: {}}, "the old key has an exempt finding: it is not deleted"},
		{"exempt user", []policy.Finding{exemptUser}, map[string]plan.OldKey{rot.ID: {}}, "the user has an exemption: the old key is not deleted"},
		{"not seen", nil, nil, "the old key's status could not be read (ListAccessKeys) before planning: it is not deleted this run"},
		{"re-enabled", nil, map[string]plan.OldKey{rot.ID: {Active: true}}, "the old key is active again (re-enabled since the rotation disabled it): it is not deleted"},
	} {
		cfg := rotating()
		cfg.Notify.Admins.SendWhen = config.SendWhenAlways // the digest is made without notices
		p := applying(cfg, c.findings, 10, func(in *plan.Input) { in.Rotations, in.OldKeys = []state.Action{rot, disabled}, c.seen })
		for _, a := range p.Actions {
			if a.KeyID == rot.KeyID {
				t.Errorf("%s: action %s %s on the old key; want none", c.name, a.Kind, a.Status)
			}
		}
		if len(p.Digests) == 0 || len(p.Digests[0].Rotations) != 1 || !strings.Contains(p.Digests[0].Rotations[0].Text, "Its deletion is due but held: "+c.why) {
			t.Errorf("%s: digests = %+v; want the rotation line to say %q", c.name, p.Digests, c.why)
		}
	}
}

// TestBuildRetireDeleteNotice: with notice_before_action the delete built
// from the records counts its notice from the retiring disable (the
// owner and admins were told the deletion date then), not from a notice
// of the resolved finding (never found: it waited forever).
func TestBuildRetireDeleteNotice(t *testing.T) {
	cfg := rotating()
	cfg.Enforce.NoticeBeforeAction = 7
	rot, disabled := retiredCI(12)
	seen := map[string]plan.OldKey{rot.ID: {}}
	p := applying(cfg, nil, 10, func(in *plan.Input) { in.Rotations, in.OldKeys = []state.Action{rot, disabled}, seen })
	if got, want := statuses(p), []string{rot.KeyID + " delete planned"}; !cmp.Equal(got, want) {
		t.Fatalf("told 12 days ago, 7 days' notice: actions = %v (%+v); want %v", got, p.Actions, want)
	}
	cfg.Enforce.NoticeBeforeAction = 14
	p = applying(cfg, nil, 10, func(in *plan.Input) { in.Rotations, in.OldKeys = []state.Action{rot, disabled}, seen })
	if got, want := statuses(p), []string{rot.KeyID + " delete waiting"}; !cmp.Equal(got, want) {
		t.Fatalf("told 12 days ago, 14 days' notice: actions = %v; want %v", got, want)
	}
	a := p.Actions[0]
	told := asOf.AddDate(0, 0, -12).Format("2006-01-02")
	if wantOn := asOf.AddDate(0, 0, 2).Format("2006-01-02"); a.ActOn != wantOn {
		t.Errorf("act on = %s; want %s (14 days from the retiring disable on %s)", a.ActOn, wantOn, told)
	}
	if !strings.Contains(a.Reason, "told of the deletion on "+told+", when the rotation's retiring disable (action "+disabled.ID+") was made") ||
		strings.Contains(a.Reason, "cannot be mailed") {
		t.Errorf("reason = %q; want it to count from the retiring disable", a.Reason)
	}
}
