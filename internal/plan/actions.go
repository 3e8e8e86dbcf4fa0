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
	// ActionBlocked: a guard (max_actions_per_run, max_fraction) stopped
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
		"nothing is changed in this account; check the plan with keywarden run --dry-run, then raise the limit if it is right"
	reasonMaxFractionFmt = "account %s: %d of its %d active access keys (%.0f%%) would be disabled or deleted, more than " +
		"enforce.max_fraction (%.0f%%): nothing is changed in this account; check the plan with keywarden run --dry-run, then raise the limit if it is right"
)

// GuardRule is the rule of the notice that tells the admins a guard
// stopped the changes in an account; its finding ID is GuardFinding.
const GuardRule = "enforce_guard"

// GuardFinding is the notice finding ID of a guard breach in account.
func GuardFinding(account string) string { return "guard:" + account }

// ActionFinding is the notice finding ID that tells what an action did.
func ActionFinding(actionID string) string { return "action:" + actionID }

// Action is a change the policy calls for.
type Action struct {
	// ID identifies a recorded action (keywarden history, undo); set by
	// remediation.
	ID string `json:"id,omitempty"`
	// Kind is what the policy calls for: disable, delete or
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
	// ActOn is the first day an action waiting for its notice period
	// (enforce.notice_before_action) may be taken.
	ActOn string `json:"act_on,omitempty"`
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
var actionRank = map[string]int{config.ActionDisable: 1, config.ActionRemovePassword: 1, config.ActionDelete: 2}

// actions lists what the policy calls for — one action per credential,
// the strongest — and applies the guards; with Executed set it returns
// those instead.
func (b *builder) actions(items []Item) ([]Action, []Guard) {
	if b.in.Executed != nil {
		return slices.Clone(b.in.Executed), b.guardsOf(b.in.Executed)
	}
	out := []Action{}
	idx := map[string]int{} // credential → index in out
	for _, it := range items {
		if actionRank[it.Action] == 0 || it.Credential == policy.CredentialRoot || it.Rule == config.RuleAccessKeyUnknownAge {
			continue // notify only; never the root user's credentials, nor on a creation date that cannot be trusted
		}
		a := Action{Kind: it.Action, FindingID: it.ID, Account: it.Account, AccountAlias: it.AccountAlias, User: it.User,
			Credential: it.Credential, KeyID: it.KeyID, Slot: it.Slot, KeyActive: it.KeyActive, KeyCreated: it.KeyCreatedAt, Rule: it.Rule,
			StageAt: it.StageAt, Title: it.Title, Status: ActionPlanned}
		cred := a.Account + "/" + a.User + "/" + a.Credential + "/" + fmt.Sprint(a.Slot)
		if i, ok := idx[cred]; ok {
			if actionRank[a.Kind] > actionRank[out[i].Kind] {
				out[i] = a
			}
			continue
		}
		idx[cred] = len(out)
		out = append(out, a)
	}
	for i := range out {
		a := &out[i]
		switch r := b.actionReason(a.Account); {
		case r != "":
			a.Status, a.Reason = ActionListed, r
		default:
			if r := b.protection(a.Account, a.User, a.KeyID); r != "" {
				a.Status, a.Reason = ActionSkipped, r
			}
		}
	}
	b.noticeWait(out, items)
	guards := b.guard(out)
	if w := b.cfg.Enforce.Window; !w.Open(b.in.AsOf) {
		for i := range out {
			if out[i].Status == ActionPlanned {
				out[i].Status, out[i].Reason = ActionWaiting, fmt.Sprintf(reasonWindowFmt, w)
			}
		}
	}
	return out, guards
}

// guard blocks every planned action of an account whose planned actions
// exceed max_actions_per_run, or touch more than max_fraction of its
// active keys.
func (b *builder) guard(actions []Action) []Guard {
	type count struct{ all, activeKeys int }
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
		if a.Credential == policy.CredentialAccessKey && a.KeyActive {
			c.activeKeys++
		}
	}
	e := b.cfg.Enforce
	var guards []Guard
	for _, account := range slices.Sorted(maps.Keys(counts)) {
		c := counts[account]
		active := b.in.ActiveKeys[account]
		reason := ""
		switch {
		case e.MaxActionsPerRun > 0 && c.all > e.MaxActionsPerRun:
			reason = fmt.Sprintf(reasonMaxActionsFmt, account, c.all, e.MaxActionsPerRun)
		case c.activeKeys > 0 && float64(c.activeKeys) > e.MaxFraction*float64(active):
			reason = fmt.Sprintf(reasonMaxFractionFmt, account, c.activeKeys, active,
				100*float64(c.activeKeys)/float64(max(active, 1)), 100*e.MaxFraction)
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
		if a.Status == ActionBlocked && !slices.ContainsFunc(guards, func(g Guard) bool { return g.Account == a.Account }) {
			guards = append(guards, Guard{Account: a.Account, Reason: a.Reason})
		}
	}
	return guards
}

// withOutcomes tells, on each item an executed action changed or decided
// about, what happened.
func (b *builder) withOutcomes(items []Item, actions []Action) []Item {
	if b.in.Executed == nil {
		return items
	}
	byFinding := map[string]*Action{}
	for i := range actions {
		byFinding[actions[i].FindingID] = &actions[i]
	}
	for i := range items {
		a := byFinding[items[i].ID]
		if a == nil {
			continue
		}
		it := &items[i]
		switch a.Status {
		case ActionDone:
			it.ActionID = a.ID
			it.Next = fmt.Sprintf("keywarden %s it on %s.", past(cmp.Or(a.Done, a.Kind)), b.day)
			if a.Kind == config.ActionDelete && a.Done == config.ActionDisable {
				it.Next += fmt.Sprintf(" It is deleted once it has been inactive for %d days.", b.cfg.Enforce.GraceAfterDisable)
			}
		case ActionSkipped:
			if a.DeleteOn != "" {
				it.Next = fmt.Sprintf("It is inactive and will be deleted on %s, once it has been inactive for %d days.",
					a.DeleteOn, b.cfg.Enforce.GraceAfterDisable)
			}
		}
	}
	return items
}
