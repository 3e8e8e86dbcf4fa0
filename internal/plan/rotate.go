package plan

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// ReasonNoRotateTarget blocks a rotation whose user names no target.
const ReasonNoRotateTarget = "no keywarden:secret tag and no rotate.targets entry for this user: " +
	"tag the user keywarden:secret with a secret whose name matches rotate.secret_name (the secret tagged keywarden:user with the user's name), " +
	"or add a rotate.targets entry; until then the class's later stages apply"

// openRotation is a rotation whose old key is not deleted yet: its record
// and, once made, its retiring disable.
type openRotation struct {
	rec      state.Action
	disabled *state.Action
	// broken: its new key no longer exists (NewKeyUse.Gone): it retires
	// nothing, and the class's stages apply to the old key again.
	broken bool
	// held says why its retiring delete, due, is not planned from the
	// records this run ("": it is, or it is not due).
	held string
}

// OldKey is what the run read of an open rotation's old key before
// planning (Input.OldKeys).
type OldKey struct {
	Active  bool
	Created time.Time
	// Gone: the user no longer has the key; the delete is planned, and
	// finding it gone closes the rotation.
	Gone bool
}

// see notes f's key and, when f is exempt, its user (seenKeys,
// exemptUsers).
func (b *builder) see(f *policy.Finding) {
	if b.seenKeys == nil {
		b.seenKeys, b.exemptUsers = map[string]bool{}, map[string]bool{}
	}
	if f.Credential == policy.CredentialAccessKey && f.KeyID != "" {
		b.seenKeys[rotationKey(f.Account, f.User, f.KeyID)] = true
	}
	if f.Exempt {
		b.exemptUsers[f.Account+"/"+f.User] = true
	}
}

// recordsDeleteHeld says why a due retiring delete of o's old key is not
// built from the records ("": it is).
func (b *builder) recordsDeleteHeld(o *openRotation) string {
	r := o.rec
	switch k, seen := b.in.OldKeys[r.ID]; {
	case b.seenKeys[rotationKey(r.Account, r.User, r.KeyID)]:
		return "the old key has an exempt finding: it is not deleted"
	case b.exemptUsers[r.Account+"/"+r.User]:
		return "the user has an exemption: the old key is not deleted"
	case !seen:
		return "the old key's status could not be read (ListAccessKeys) before planning: it is not deleted this run"
	case k.Active && !k.Gone:
		return "the old key is active again (re-enabled since the rotation disabled it): it is not deleted"
	}
	return ""
}

// NewKeyUse is what a run read of an open rotation's new key before
// planning (Input.NewKeyUse).
type NewKeyUse struct {
	// UsedOn is the day the new key was last used, when that is on or
	// after the rotation's day ("": not used since).
	UsedOn string
	// Unread: the read failed; the rotation is not advanced this run.
	Unread bool
	// Gone: the new key no longer exists (NoSuchEntity): the rotation is
	// broken; the admins are told, the old key is not retired by it.
	Gone bool
}

// breakRotations takes the rotations whose new key is gone off their old
// keys: the class's stages apply to those again; the digest lists them
// as broken.
func (b *builder) breakRotations() {
	for id, use := range b.in.NewKeyUse {
		o := b.rotationByID[id]
		if o == nil || !use.Gone {
			continue
		}
		o.broken = true
		if k := rotationKey(o.rec.Account, o.rec.User, o.rec.KeyID); b.rotations[k] == o {
			delete(b.rotations, k)
		}
	}
}

// day is the day the rotation was made.
func (r *openRotation) day() string { return state.Day(cmp.Or(r.rec.FinishedAt, r.rec.At)) }

// rotationKey names an old key: account/user/key ID.
func rotationKey(account, user, keyID string) string { return account + "/" + user + "/" + keyID }

// openRotations sorts the state's rotation records (Input.Rotations) into
// the open rotations, by old key and by ID: done rotations whose old key
// no done delete retired, and which no undo (an enable of the rotation or
// of its retiring disable) ended. Of two on one key, the later.
func openRotations(recs []state.Action) (byKey, byID map[string]*openRotation) {
	byKey, byID = map[string]*openRotation{}, map[string]*openRotation{}
	for _, r := range recs {
		if r.Kind == config.ActionRotate && r.Status == state.ActionDone && r.KeyID != "" {
			byID[r.ID] = &openRotation{rec: r}
		}
	}
	closed := map[string]bool{}
	retired := map[string]string{} // a retiring disable's ID → its rotation
	for _, r := range recs {
		o := byID[r.RotationOf]
		if o != nil && (r.After == state.KeyDeleted || r.After == state.StateNotFound) {
			closed[r.RotationOf] = true // deleted, or found gone by a retiring step
			continue
		}
		if o == nil || r.Status != state.ActionDone {
			continue
		}
		switch r.Kind {
		case config.ActionDisable:
			o.disabled = &r
			retired[r.ID] = r.RotationOf
		case config.ActionDelete:
			closed[r.RotationOf] = true
		}
	}
	for _, r := range recs {
		if r.Kind == state.KindEnable && r.Status == state.ActionDone && r.UndoOf != "" {
			closed[r.UndoOf], closed[retired[r.UndoOf]] = true, true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		o := byID[id]
		if closed[id] {
			delete(byID, id)
			continue
		}
		k := rotationKey(o.rec.Account, o.rec.User, o.rec.KeyID)
		if prev := byKey[k]; prev == nil || prev.rec.At.Before(o.rec.At) {
			byKey[k] = o
		}
	}
	return byKey, byID
}

// rotationOn is the open rotation of f's access key, or nil.
func (b *builder) rotationOn(f *policy.Finding) *openRotation {
	if f.Credential != policy.CredentialAccessKey || f.KeyID == "" {
		return nil
	}
	return b.rotations[rotationKey(f.Account, f.User, f.KeyID)]
}

// retirements are the actions that retire the old keys of open rotations,
// from the items on them (none: the key is gone, or exempt): a disable
// once the new key has been used since the rotation (Input.NewKeyUse) or
// rotate.overlap_days have passed since it, a delete once
// the key has been inactive for enforce.grace_after_disable days. They
// are planned like any disable and delete: the guards and the notice
// period apply.
func (b *builder) retirements(items []Item) []Action {
	var out []Action
	today := state.Day(b.actAt())
	overlap, grace := b.overlapDays(), b.cfg.Enforce.GraceAfterDisable
	seen := map[string]bool{}
	for _, it := range items {
		o := b.rotationOn(&it.Finding)
		if o == nil || seen[o.rec.ID] {
			continue
		}
		seen[o.rec.ID] = true
		use := b.in.NewKeyUse[o.rec.ID]
		if use.Unread {
			continue // not known whether the new key is used: held where it is
		}
		kind := ""
		switch {
		case it.KeyActive && o.disabled == nil && (use.UsedOn != "" || today >= state.AddDays(o.day(), overlap)):
			kind = config.ActionDisable
		case !it.KeyActive && o.disabled != nil && today >= state.AddDays(state.Day(cmp.Or(o.disabled.FinishedAt, o.disabled.At)), grace):
			kind = config.ActionDelete
		case !it.KeyActive && o.disabled == nil && today >= state.AddDays(o.day(), overlap+grace):
			kind = config.ActionDelete // made inactive by hand: deleted when a retiring disable would have been
		}
		if kind == "" {
			continue
		}
		out = append(out, Action{Kind: kind, FindingID: it.ID, Account: it.Account, AccountAlias: it.AccountAlias, User: it.User,
			Credential: it.Credential, KeyID: it.KeyID, Slot: it.Slot, KeyActive: it.KeyActive, KeyCreated: it.KeyCreatedAt,
			Rule: it.Rule, StageAt: it.StageAt, Title: it.Title, Status: ActionPlanned, Audiences: b.audiences(&it), RotationOf: o.rec.ID})
	}
	// An old key its rotation disabled has no finding when the class has
	// no delete stage (an inactive key gets only those): its delete is
	// planned from the records, once the grace period is over — only when
	// no finding of the scan (exempt ones included) is on the key, the user
	// has no exempt finding, and the scan saw the key inactive.
	for _, id := range slices.Sorted(maps.Keys(b.rotationByID)) {
		o := b.rotationByID[id]
		if seen[id] || o.broken || o.disabled == nil || b.rotations[rotationKey(o.rec.Account, o.rec.User, o.rec.KeyID)] != o {
			continue
		}
		if _, ok := b.ok[o.rec.Account]; !ok || b.in.NewKeyUse[id].Unread ||
			today < state.AddDays(state.Day(cmp.Or(o.disabled.FinishedAt, o.disabled.At)), grace) {
			continue
		}
		if o.held = b.recordsDeleteHeld(o); o.held != "" {
			continue
		}
		r := o.rec
		out = append(out, Action{Kind: config.ActionDelete, FindingID: r.FindingID, Account: r.Account, User: r.User,
			Credential: policy.CredentialAccessKey, KeyID: r.KeyID, KeyCreated: b.in.OldKeys[id].Created, Rule: r.Rule, StageAt: r.Stage,
			Title: "access key " + r.KeyID, Status: ActionPlanned, Audiences: r.Audiences, RotationOf: r.ID})
	}
	return out
}

func (b *builder) overlapDays() int {
	return cmp.Or(b.cfg.Rotate.OverlapDays, config.DefaultOverlapDays)
}

// rotatedText tells a rotation made on day: where the new key went, by
// its ID and the secret's ARN or path (never the secret).
func rotatedText(day, id, newKeyID, target string) string {
	s := "It was rotated on " + day + " by keywarden"
	if id != "" {
		s += " (action " + id + ")"
	}
	s += ": the new key " + cmp.Or(newKeyID, "(its ID is not known)")
	if target != "" {
		s += " was written to " + target
	}
	return s + "."
}

// stillActive says what becomes of a key rotated on day and not yet
// disabled.
func (b *builder) stillActive(day, key string) string {
	return fmt.Sprintf(key+" stays active until the new key is first used, or until %s at the latest (rotate.overlap_days); "+
		"then keywarden disables it, and deletes it %d days later.", state.AddDays(day, b.overlapDays()), b.cfg.Enforce.GraceAfterDisable)
}

// rotateOutcome is outcome for a rotation (ok false: another action, or
// a status the common wording tells).
func (b *builder) rotateOutcome(f *policy.Finding, a *Action) (string, bool) {
	if a.Kind != config.ActionRotate {
		return "", false
	}
	lim := b.limit(f) + ". "
	then := fmt.Sprintf("this key then stays active until the new key is first used, or for %d days (rotate.overlap_days); "+
		"then keywarden disables it, and deletes it %d days later", b.overlapDays(), b.cfg.Enforce.GraceAfterDisable)
	switch a.Status {
	case ActionDone:
		on := cmp.Or(a.On, b.day)
		return lim + rotatedText(on, a.ID, a.NewKeyID, a.Target) + " " + b.stillActive(on, "This key"), true
	case ActionPlanned:
		switch {
		case b.in.Mode == ModeDryRun:
			return lim + fmt.Sprintf("This dry run changed nothing; a real run would rotate it now (%s): a new key written to %s, and %s.", b.day, a.Target, then), true
		case b.in.Executed != nil && a.ID == "":
			return "", false
		}
		return lim + fmt.Sprintf("keywarden is to rotate it in this run (%s): a new key is written to %s, and %s.", b.day, a.Target, then), true
	case ActionBlocked:
		if a.Reason == ReasonNoRotateTarget {
			return lim + "keywarden cannot rotate it: no keywarden:secret tag on the user and no rotate.targets entry names a secret for it. " +
				"Ask an administrator to provision the secret (tagged keywarden:user=" + a.User + ") and name it in the user's keywarden:secret tag; " +
				"until then the class's later stages apply.", true
		}
	}
	return "", false
}

// retireOutcome is outcome for a disable or delete that retires a
// rotated key: the rotation, then what became of the retirement.
func (b *builder) retireOutcome(f *policy.Finding, a *Action) string {
	lim := b.limit(f) + ". "
	plain := *a
	plain.RotationOf = ""
	rest := strings.TrimPrefix(b.outcome(f, &plain), lim)
	s := lim
	if o := b.rotationByID[a.RotationOf]; o != nil {
		s += rotatedText(o.day(), o.rec.ID, o.rec.NewKeyID, o.rec.SecretTarget) + " "
	}
	s += rest
	if a.Status == ActionDone && cmp.Or(a.Done, a.Kind) == config.ActionDisable {
		s += fmt.Sprintf(" The first keywarden run from %s deletes it.", cmp.Or(a.DeleteOn, state.AddDays(cmp.Or(a.On, b.day), b.cfg.Enforce.GraceAfterDisable)))
	}
	return s
}

// rotationNext says, for an item on a key under an open rotation that no
// action of this run touches, what was done and what comes.
func (b *builder) rotationNext(o *openRotation, key string) string {
	s := rotatedText(o.day(), o.rec.ID, o.rec.NewKeyID, o.rec.SecretTarget) + " "
	if d := o.disabled; d != nil {
		on := state.Day(cmp.Or(d.FinishedAt, d.At))
		return s + fmt.Sprintf("keywarden disabled %s on %s (action %s); the first keywarden run from %s deletes it.",
			strings.ToLower(key), on, d.ID, state.AddDays(on, b.cfg.Enforce.GraceAfterDisable))
	}
	return s + b.stillActive(o.day(), key)
}

// rotateFix are the steps left to the owner of a rotated key.
func rotateFix(target, newKeyID string) []string {
	where := cmp.Or(target, "the secret")
	return []string{
		"Nothing, if the workload reads its key from " + where + " (the AWS CLI's credential_process JSON): it picks up the new key " +
			cmp.Or(newKeyID, "") + " when it next reads the secret (at its start, or on an AccessDenied retry).",
		"Anything that still uses the old key outside that secret: switch it to the new key before the old one is disabled.",
	}
}

// RotationNote is what a digest says of a rotation or a retirement
// besides its line: "new key AKIA… written to ARN" once done, "into
// TARGET" before; "retires the key rotation ID replaced"; "" otherwise.
func (a Action) RotationNote() string {
	switch {
	case a.Kind == config.ActionRotate && a.Status == ActionDone:
		return fmt.Sprintf("new key %s written to %s", cmp.Or(a.NewKeyID, "(ID not known)"), a.Target)
	case a.Kind == config.ActionRotate && a.Target != "":
		return "into " + a.Target
	case a.RotationOf != "":
		return "retires the key rotation " + a.RotationOf + " replaced"
	}
	return ""
}

// rotationLine is what Line adds for a rotation or a retirement.
func (a Action) rotationLine() string {
	n := a.RotationNote()
	switch {
	case n == "":
		return ""
	case a.RotationOf != "":
		return " (" + n + ")"
	case a.Status == ActionDone:
		return ": " + n
	}
	return " " + n
}

// RotationLine is one open rotation as the digest lists it.
type RotationLine struct {
	Account string `json:"account"`
	User    string `json:"user"`
	// ID is the rotation's action ID; OldKeyID the key it replaces,
	// NewKeyID the new key, Target where that was written.
	ID       string `json:"id"`
	OldKeyID string `json:"old_key_id"`
	NewKeyID string `json:"new_key_id"`
	Target   string `json:"target"`
	// Text says where the rotation stands.
	Text string `json:"text"`
	// Broken: the new key no longer exists; the rotation retires nothing.
	Broken bool `json:"broken,omitempty"`
}

// rotationLines are the open rotations of the planned accounts, by
// account, user and ID.
func (b *builder) rotationLines() []RotationLine {
	out := []RotationLine{}
	for _, id := range slices.Sorted(maps.Keys(b.rotationByID)) {
		o := b.rotationByID[id]
		if _, ok := b.ok[o.rec.Account]; !ok {
			continue
		}
		r := o.rec
		text := fmt.Sprintf("%s in %s: access key %s %s", r.User, r.Account, r.KeyID, strings.TrimPrefix(b.rotationNext(o, "The old key"), "It "))
		if o.broken {
			text = fmt.Sprintf("BROKEN: %s in %s: the new key %s of rotation %s no longer exists (deleted outside keywarden?); "+
				"the rotation does not retire the old key %s: the class's stages apply to it again; check the user's keys and %s.",
				r.User, r.Account, r.NewKeyID, r.ID, r.KeyID, r.SecretTarget)
		}
		out = append(out, RotationLine{Account: r.Account, User: r.User, ID: r.ID, OldKeyID: r.KeyID, NewKeyID: r.NewKeyID, Target: r.SecretTarget,
			Text: text, Broken: o.broken})
		if o.held != "" {
			out[len(out)-1].Text += " Its deletion is due but held: " + o.held + "."
		}
	}
	slices.SortStableFunc(out, func(x, y RotationLine) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.User, y.User))
	})
	return out
}
