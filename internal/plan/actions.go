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

// Action statuses in a plan. Build sets listed, planned, blocked, waiting
// or skipped; remediation turns planned into done, skipped or failed.
const (
	// ActionListed: the policy calls for it, but enforcement is off for
	// the account; nothing will change ("would disable").
	ActionListed = "listed"
	// ActionPlanned: enforcement is on; the run is to carry it out.
	ActionPlanned = "planned"
	// ActionBlocked: a guard (max_actions_per_run, max_fraction, the clock) stopped
	// every change in the account.
	ActionBlocked = "blocked"
	// ActionWaiting: outside enforce.window; the first run inside it acts.
	ActionWaiting = "waiting"
	// ActionDone, ActionSkipped and ActionFailed are remediation's
	// outcomes (skipped is also Build's for keywarden's own key).
	ActionDone    = string(state.ActionDone)
	ActionSkipped = string(state.ActionSkipped)
	ActionFailed  = string(state.ActionFailed)
)

// Exact reasons an action is not carried out.
const (
	ReasonNotApplying   = "enforcement is off: run with --apply, or set enforce.mode: apply"
	ReasonOffline       = "an offline credential report has no account to act in: nothing is changed"
	reasonNotAllowedFmt = "account %s is not in enforce.allowed_accounts; add it there to allow changes"
	ReasonSelf          = "this is the access key keywarden is running with; keywarden never acts on its own credentials"
	reasonWindowFmt     = "outside the action window (%s); the first run inside it acts"
	reasonMaxActionsFmt = "account %s: %d actions planned, more than enforce.max_actions_per_run (%d): " +
		"nothing is changed in this account; check the plan with keywarden run --apply --dry-run, then raise the limit if it is right"
	reasonMaxFractionFmt = "account %s: %d of its %d %s (%.0f%%) would be disabled or deleted, more than " +
		"enforce.max_fraction (%.0f%%): nothing is changed in this account; check the plan with keywarden run --apply --dry-run, then raise the limit if it is right"
)

// GuardRule is the rule of the notice that tells the admins a guard
// stopped the changes in an account; its finding ID is GuardFinding.
const GuardRule = "enforce_guard"

// GuardFinding is the notice finding ID of a guard breach in account.
func GuardFinding(account string) string { return "guard:" + account }

// ActionFinding is the notice finding ID that tells what an action did.
func ActionFinding(actionID string) string { return state.ActionFinding(actionID) }

// Action is a change the policy calls for.
type Action struct {
	// ID identifies a recorded action (keywarden history, undo); set by
	// remediation.
	ID string `json:"id,omitempty"`
	// Kind is what the policy calls for: rotate, disable, delete or
	// remove_password.
	Kind         string `json:"action"`
	FindingID    string `json:"finding_id"`
	Account      string `json:"account"`
	AccountAlias string `json:"account_alias,omitempty"`
	User         string `json:"user"`
	Credential   string `json:"credential"`
	KeyID        string `json:"key_id,omitempty"`
	Slot         int    `json:"slot,omitempty"`
	// KeyActive is whether the key was active in the report, and
	// KeyCreated when it was created: a key with another creation time
	// was rotated since.
	KeyActive  bool      `json:"key_active,omitempty"`
	KeyCreated time.Time `json:"key_created,omitzero"`
	Rule       string    `json:"rule"`
	StageAt    int       `json:"stage_at"`
	// Target is where a rotate action writes the new key, as the user's
	// keywarden:secret tag or rotate.targets names it (not yet checked:
	// remediation checks it before writing).
	Target string `json:"target,omitempty"`
	// NewKeyID is a done rotation's new access key (never its secret);
	// remediation sets it, with Target the secret's ARN or ssm:/path it
	// wrote.
	NewKeyID string `json:"new_key_id,omitempty"`
	// RotationOf is, for a disable or delete that retires a rotated key,
	// the rotation's action ID.
	RotationOf string `json:"rotation_of,omitempty"`
	// Title names the credential: "access key AKIA… (key 1)".
	Title string `json:"title"`
	// Status is listed, planned, blocked, waiting, or remediation's done,
	// skipped, failed.
	Status string `json:"status"`
	// Reason says why an action is not (or was not) carried out, or what
	// was done.
	Reason string `json:"reason,omitempty"`
	// Done is what remediation did (disable for a delete stage reached by
	// an active key: it is disabled first), set when Status is done.
	Done string `json:"done,omitempty"`
	// Before and After are the credential's state around the action.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// DeleteOn is the day an inactive key waiting out its grace period
	// may be deleted.
	DeleteOn string `json:"delete_on,omitempty"`
	// On is the day a done action was made (the run's day, or for an
	// action a killed run made, the day it recorded it).
	On string `json:"on,omitempty"`
	// Unsettled: the action failed with an error from a write that may
	// have taken effect, and re-reading the credential failed too: its
	// record stays planned until the next run re-reads it and records the
	// outcome, which is then owed to whom it concerns. Until then no
	// notice tells it as final.
	Unsettled bool `json:"unsettled,omitempty"`
	// ActOn is the first day an action waiting for its notice period
	// (enforce.notice_before_action) may be taken.
	ActOn string `json:"act_on,omitempty"`
	// Audiences are who must hear the action's outcome (the owner's
	// addresses, every digest audience): recorded with the action, so that
	// its outcome's notices are owed in state (state.Action.Audiences).
	Audiences []string `json:"-"`
	// Owed marks an outcome an earlier (or a concurrent) run recorded and
	// never told: told in this run (Plan.Owed).
	Owed bool `json:"owed,omitempty"`
}

// Verb is how the action reads in a sentence: "would disable" (listed),
// "disable" (planned), "disabled" (done), "skipped disable"…
func (a Action) Verb() string {
	v := strings.ReplaceAll(a.Kind, "_", " ")
	switch a.Status {
	case ActionListed:
		return "would " + v
	case ActionDone:
		return past(cmp.Or(a.Done, a.Kind))
	case ActionSkipped, ActionBlocked, ActionWaiting:
		return a.Status + " " + v
	case ActionFailed:
		return "FAILED " + v
	}
	return v
}

// Guard is an account where a guard stopped every change.
type Guard struct {
	Account string `json:"account"`
	// Reason is the guard's exact message.
	Reason string `json:"reason"`
}

// actionRank orders actions on one credential: the strongest is kept.
var actionRank = map[string]int{config.ActionRotate: 1, config.ActionDisable: 2, config.ActionRemovePassword: 2, config.ActionDelete: 3}

// actions lists what the policy calls for — one action per credential,
// the strongest — and applies the guards; with Executed set it returns
// those instead.
func (b *builder) actions(items []Item) ([]Action, []Guard) {
	if b.in.Executed != nil {
		out := slices.Clone(b.in.Executed)
		for i := range out {
			if out[i].Status == ActionDone && out[i].On == "" {
				out[i].On = b.day
			}
		}
		return out, b.guardsOf(out)
	}
	out := []Action{}
	idx := map[string]int{} // credential → index in out
	for _, it := range items {
		if !actsOn(it.Credential, it.Action) || it.Rule == config.RuleAccessKeyUnknownAge {
			continue // notify only; never the root user's credentials, nor on a creation date that cannot be trusted
		}
		if b.rotationOn(&it.Finding) != nil {
			continue // under an open rotation: the rotation retires it (b.retirements)
		}
		a := Action{Kind: it.Action, FindingID: it.ID, Account: it.Account, AccountAlias: it.AccountAlias, User: it.User,
			Credential: it.Credential, KeyID: it.KeyID, Slot: it.Slot, KeyActive: it.KeyActive, KeyCreated: it.KeyCreatedAt, Rule: it.Rule,
			StageAt: it.StageAt, Title: it.Title, Status: ActionPlanned, Audiences: b.audiences(&it)}
		if a.Kind == config.ActionRotate {
			a.Target = it.RotateTarget
		}
		cred := a.Account + "/" + a.User + "/" + a.Credential + "/" + fmt.Sprint(a.Slot) + "/" + a.KeyID
		if i, ok := idx[cred]; ok {
			if actionRank[a.Kind] > actionRank[out[i].Kind] {
				out[i] = a
			}
			continue
		}
		idx[cred] = len(out)
		out = append(out, a)
	}
	out = append(out, b.retirements(items)...)
	for i := range out {
		a := &out[i]
		switch r := b.actionReason(a.Account); {
		case r != "":
			a.Status, a.Reason = ActionListed, r
		default:
			if r := b.protection(a.Account, a.User, a.Credential, a.KeyID); r != "" {
				a.Status, a.Reason = ActionSkipped, r
			}
		}
		if a.Kind == config.ActionRotate && a.Target == "" && a.Status != ActionSkipped {
			a.Status, a.Reason = ActionBlocked, ReasonNoRotateTarget
		}
	}
	b.noticeWait(out, items)
	guards := b.guard(out)
	if w := b.cfg.Enforce.Window; !w.Open(b.actAt()) {
		for i := range out {
			if out[i].Status == ActionPlanned {
				out[i].Status, out[i].Reason = ActionWaiting, fmt.Sprintf(reasonWindowFmt, w)
			}
		}
	}
	return out, guards
}

// actsOn reports whether keywarden changes a credential of this kind
// with action: it disables and deletes access keys, signing certificates
// and service-specific credentials, and removes console passwords. Never
// anything of the root user's, nor SSH public keys, users or accounts:
// their findings are told, never acted on.
func actsOn(credential, action string) bool {
	switch {
	case keyLike(credential):
		return action == config.ActionDisable || action == config.ActionDelete ||
			action == config.ActionRotate && credential == policy.CredentialAccessKey
	case credential == policy.CredentialPassword:
		return action == config.ActionRemovePassword
	}
	return false
}

// actAt is when the run acts: Input.ActAt (the wall clock, or a forced
// --as-of), else AsOf.
func (b *builder) actAt() time.Time {
	if b.in.ActAt.IsZero() {
		return b.in.AsOf
	}
	return b.in.ActAt
}

// guard blocks every planned action of an account whose own data
// contradicts the run's clock (Input.ClockProblems), or whose planned
// actions exceed max_actions_per_run, or touch more than max_fraction of
// its active credentials: access keys, signing certificates and
// service-specific credentials, counted together (one pool, so that one
// old certificate, an account's only one, does not stop every change).
func (b *builder) guard(actions []Action) []Guard {
	type count struct{ all, activeKeys, activeOther int }
	counts := map[string]*count{}
	for _, a := range actions {
		if a.Status != ActionPlanned {
			continue
		}
		c := counts[a.Account]
		if c == nil {
			c = &count{}
			counts[a.Account] = c
		}
		c.all++
		switch {
		case a.Kind == config.ActionRotate:
			// A rotation counts toward max_actions_per_run but leaves the
			// key active: not part of max_fraction.
		case a.Credential == policy.CredentialAccessKey && a.KeyActive:
			c.activeKeys++
		case keyLike(a.Credential) && a.KeyActive:
			c.activeOther++
		}
	}
	e := b.cfg.Enforce
	var guards []Guard
	for _, account := range slices.Sorted(maps.Keys(counts)) {
		c := counts[account]
		active, other := b.in.ActiveKeys[account], b.in.ActiveOther[account]
		n, of, what := c.activeKeys, active, "active access keys"
		if other > 0 || c.activeOther > 0 {
			n, of, what = c.activeKeys+c.activeOther, active+other, "active credentials (access keys, signing certificates, service-specific credentials)"
		}
		reason := b.in.ClockProblems[account]
		switch {
		case reason != "":
		case e.MaxActionsPerRun > 0 && c.all > e.MaxActionsPerRun:
			reason = fmt.Sprintf(reasonMaxActionsFmt, account, c.all, e.MaxActionsPerRun)
		case n > 0 && float64(n) > e.MaxFraction*float64(of):
			reason = fmt.Sprintf(reasonMaxFractionFmt, account, n, of, what,
				100*float64(n)/float64(max(of, 1)), 100*e.MaxFraction)
		}
		if reason == "" {
			continue
		}
		guards = append(guards, Guard{Account: account, Reason: reason})
		for i := range actions {
			if actions[i].Account == account && actions[i].Status == ActionPlanned {
				actions[i].Status, actions[i].Reason = ActionBlocked, reason
			}
		}
	}
	return guards
}

// guardsOf recovers the guards from actions a guard blocked.
func (b *builder) guardsOf(actions []Action) []Guard {
	var guards []Guard
	for _, a := range actions {
		if a.Status == ActionBlocked && a.Reason != ReasonNoRotateTarget && !slices.ContainsFunc(guards, func(g Guard) bool { return g.Account == a.Account }) {
			guards = append(guards, Guard{Account: a.Account, Reason: a.Reason})
		}
	}
	return guards
}

// withOutcomes words each item whose finding calls for a change by what
// became of the action on its credential (outcome), and marks the item
// whose action this run carried out (ActionID): what was done is news.
func (b *builder) withOutcomes(items []Item, actions []Action) []Item {
	for i := range items {
		it := &items[i]
		o := b.rotationOn(&it.Finding)
		if !changes(it.Action) && o == nil {
			continue
		}
		a := actionOn(it, actions)
		if a == nil && o != nil {
			it.Next = b.limit(&it.Finding) + ". " + b.rotationNext(o, "This key")
			it.Fix = rotateFix(o.rec.SecretTarget, o.rec.NewKeyID)
			it.rotating = true
			if o.disabled == nil {
				it.retireOn = state.AddDays(o.day(), b.overlapDays())
			}
			continue
		}
		if a == nil {
			continue
		}
		it.ActionStatus = a.Status
		it.Next = b.outcome(&it.Finding, a)
		if a.Status == ActionDone {
			it.Done = cmp.Or(a.Done, a.Kind)
			it.doneOn = cmp.Or(a.On, b.day)
			it.Fix = fixDone(&it.Finding, it.ConsoleURL, it.Done)
			if it.Done == config.ActionRotate {
				it.Fix = rotateFix(a.Target, a.NewKeyID)
			}
		}
		if a.Status == ActionDone && a.FindingID == it.ID {
			it.ActionID = a.ID
		}
	}
	return items
}

// actionOn is the action on it's credential — one that happened (done,
// then failed) before one that did not, the item's own finding's before
// another's — or nil. Reconciled actions carry a key ID but no slot.
func actionOn(it *Item, actions []Action) *Action {
	rank := func(a *Action) int {
		r := map[string]int{ActionDone: 4, ActionFailed: 2}[a.Status]
		if a.FindingID == it.ID {
			r++
		}
		return r
	}
	var best *Action
	for i := range actions {
		a := &actions[i]
		sameKey := a.KeyID == it.KeyID && (a.KeyID != "" || a.Slot == it.Slot)
		if a.Account != it.Account || a.User != it.User || a.Credential != it.Credential || !sameKey {
			continue
		}
		if best == nil || rank(a) > rank(best) {
			best = a
		}
	}
	return best
}

// What is the action's change as a digest line starts it: "disabled" once
// done, else what a run does ("disable"; an active key at its delete
// stage is disabled first).
func (a Action) What() string {
	if a.Status == ActionDone {
		return past(cmp.Or(a.Done, a.Kind))
	}
	return verb(&a)
}

// Line is the action in a digest, without its reason: "disabled access
// key AKIA… (key 1) of alice in 123456789012 on 2026-11-23
// (access_key_age, 80-day stage) [RUN.1]".
func (a Action) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s of %s in %s", a.What(), a.Title, a.User, a.Account)
	if a.AccountAlias != "" {
		fmt.Fprintf(&b, " (%s)", a.AccountAlias)
	}
	if a.Status == ActionDone && a.On != "" {
		fmt.Fprintf(&b, " on %s", a.On)
	}
	fmt.Fprintf(&b, " (%s, %d-day stage)", a.Rule, a.StageAt)
	if a.ID != "" {
		fmt.Fprintf(&b, " [%s]", a.ID)
	}
	b.WriteString(a.rotationLine())
	if a.Owed {
		b.WriteString(" (by an earlier run; not reported until now)")
	}
	return b.String()
}

// ActionGroup is a digest's actions of one status, titled by what
// happened to them.
type ActionGroup struct {
	Status string
	// Title says what happened: "Done", "Stopped by a guard, not made", …
	Title string
	// Reason is the reason every action of the group gives, "" when they
	// differ (each line then gives its own).
	Reason  string
	Actions []Action
}

// actionGroupOrder is the order of a digest's action groups: what was
// done or failed first, then what was not made and why.
var actionGroupOrder = []string{ActionDone, ActionFailed, ActionPlanned, ActionBlocked, ActionWaiting, ActionSkipped, ActionListed}

// ActionGroups are the digest's actions by what happened to them, in
// actionGroupOrder; a group without actions is left out.
func (d Digest) ActionGroups() []ActionGroup {
	var out []ActionGroup
	for _, st := range actionGroupOrder {
		g := ActionGroup{Status: st, Title: d.groupTitle(st)}
		for _, a := range d.Actions {
			if a.Status == st {
				g.Actions = append(g.Actions, a)
			}
		}
		if len(g.Actions) == 0 {
			continue
		}
		if st == ActionBlocked && slices.ContainsFunc(g.Actions, func(a Action) bool { return a.Reason == ReasonNoRotateTarget }) {
			g.Title = "Blocked (a guard, or a rotation without a target), not made"
		}
		g.Reason = g.Actions[0].Reason
		for _, a := range g.Actions[1:] {
			if a.Reason != g.Reason {
				g.Reason = ""
				break
			}
		}
		out = append(out, g)
	}
	return out
}

func (d Digest) groupTitle(status string) string {
	switch status {
	case ActionDone:
		return "Done"
	case ActionFailed:
		return "Failed (tried, not made; the next run tries again)"
	case ActionPlanned:
		if d.Mode == ModeDryRun {
			return "A real run would make these now (this dry run made none)"
		}
		return "Planned in this run, not made yet"
	case ActionBlocked:
		return "Stopped by a guard, not made"
	case ActionWaiting:
		return "Waiting for the action window, not made"
	case ActionSkipped:
		return "Skipped, not made"
	case ActionListed:
		return "Listed only, not made"
	}
	return status
}

// Count counts the digest's actions of status (done, failed, …): what a
// subject counts, so that it counts only what happened.
func (d Digest) Count(status string) int {
	n := 0
	for _, a := range d.Actions {
		if a.Status == status {
			n++
		}
	}
	return n
}
