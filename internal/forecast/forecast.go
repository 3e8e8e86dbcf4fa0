package forecast

import (
	"cmp"
	"slices"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

// Schema is the JSON forecast's schema identifier.
const Schema = "keywarden.forecast/v1"

// Changes an event can be.
const (
	// ChangeNew: the credential starts to break the rule.
	ChangeNew = "new"
	// ChangeStage: it reaches a further stage (stage_at, action or
	// severity change; a password that expires).
	ChangeStage = "stage"
	// ChangeExemptionEnds: its exemption's until day has passed.
	ChangeExemptionEnds = "exemption_ends"
)

// Forecast is every stage change within Days days of AsOf.
type Forecast struct {
	Schema      string    `json:"schema"`
	GeneratedAt time.Time `json:"generated_at"`
	AsOf        time.Time `json:"as_of"`
	Until       time.Time `json:"until"`
	Days        int       `json:"days"`
	Events      []Event   `json:"events"`
}

// Event is one credential reaching a stage of one rule: the finding
// policy.Evaluate returns from At on, where it returned none or another
// stage just before.
type Event struct {
	// At is the instant the stage starts to apply; On is its UTC day (the
	// day a finding's next_stage_on names).
	At           time.Time   `json:"at"`
	On           config.Date `json:"on"`
	Change       string      `json:"change"`
	FindingID    string      `json:"finding_id"`
	Account      string      `json:"account"`
	AccountAlias string      `json:"account_alias"`
	User         string      `json:"user"`
	Class        string      `json:"class"`
	Credential   string      `json:"credential"`
	// KeyID is the access key's ID when the scan resolved it (a live scan
	// resolves it only for keys that have a finding now).
	KeyID    string `json:"key_id"`
	Slot     int    `json:"slot"`
	Rule     string `json:"rule"`
	StageAt  int    `json:"stage_at"`
	Action   string `json:"action"`
	Severity string `json:"severity"`
	Exempt   bool   `json:"exempt"`
	// Reason is Evaluate's reason at At.
	Reason string `json:"reason"`
}

// New computes the forecast of snaps under cfg for the days days after
// asOf: every event with asOf < At <= asOf + days (UTC calendar days), ordered by At, then
// account, user, credential, slot and rule. Credentials already at a stage
// at asOf appear only when they reach a further one.
//
// Evaluate's findings change only when a whole-day age crosses a
// threshold (base time + N days, for every base time a rule counts from and
// every day count the config and password policy name) or when an
// exemption's until day ends (midnight UTC). New evaluates each user alone
// at each such instant and reports the findings that differ from the
// instant before, so its events are exactly what stepping Evaluate through
// every moment would show.
func New(snaps []*inventory.Snapshot, cfg *config.Config, generatedAt, asOf time.Time, days int) *Forecast {
	asOf = asOf.UTC()
	until := asOf.AddDate(0, 0, days)
	fc := &Forecast{Schema: Schema, GeneratedAt: generatedAt.UTC(), AsOf: asOf, Until: until, Days: days, Events: []Event{}}
	if cfg == nil {
		return fc
	}
	boundaries := exemptionEnds(cfg, asOf, until)
	for _, snap := range snaps {
		if snap == nil {
			continue
		}
		thresholds := dayCounts(cfg, snap)
		users := make([]*inventory.User, 0, len(snap.Users)+1)
		if snap.Root != nil {
			users = append(users, snap.Root)
		}
		for i := range snap.Users {
			users = append(users, &snap.Users[i])
		}
		for _, u := range users {
			fc.Events = append(fc.Events, userEvents(snap, u, cfg, thresholds, boundaries, asOf, until)...)
		}
	}
	slices.SortStableFunc(fc.Events, func(a, b Event) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Account, b.Account), cmp.Compare(a.User, b.User),
			cmp.Compare(a.Credential, b.Credential), cmp.Compare(a.Slot, b.Slot), cmp.Compare(a.Rule, b.Rule))
	})
	return fc
}

// stage is what makes two findings of one credential and rule differ for
// the forecast (age and days left change every day; these do not).
type stage struct {
	at               int
	action, severity string
	exempt           bool
}

func stageOf(f *policy.Finding) stage {
	return stage{f.StageAt, f.Action, f.Severity, f.Exempt}
}

// userEvents steps Evaluate over u alone through its candidate instants.
func userEvents(snap *inventory.Snapshot, u *inventory.User, cfg *config.Config, thresholds []int, boundaries []time.Time, asOf, until time.Time) []Event {
	one := &inventory.Snapshot{
		AccountID:           snap.AccountID,
		AccountAlias:        snap.AccountAlias,
		ReportGeneratedAt:   snap.ReportGeneratedAt,
		PasswordPolicy:      snap.PasswordPolicy,
		PasswordPolicyKnown: snap.PasswordPolicyKnown,
	}
	if u.IsRoot() {
		one.Root = u
	} else {
		one.Users = []inventory.User{*u}
	}
	instants := candidates(u, thresholds, boundaries, asOf, until)
	if len(instants) == 0 {
		return nil
	}
	prev := map[string]stage{}
	for _, f := range policy.Evaluate(one, cfg, asOf) {
		prev[f.ID] = stageOf(&f)
	}
	keyIDs := map[int]string{}
	for _, k := range u.AccessKeys {
		keyIDs[k.Slot] = k.ID
	}
	var out []Event
	for _, at := range instants {
		cur := map[string]stage{}
		for _, f := range policy.Evaluate(one, cfg, at) {
			s := stageOf(&f)
			cur[f.ID] = s
			before, had := prev[f.ID]
			if had && before == s {
				continue
			}
			change := ChangeNew
			switch {
			case had && before.exempt && !s.exempt && before.at == s.at && before.action == s.action:
				change = ChangeExemptionEnds
			case had:
				change = ChangeStage
			}
			e := Event{
				At: at, On: config.Date{Time: time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)},
				Change: change, FindingID: f.ID, Account: f.Account, AccountAlias: f.AccountAlias, User: f.User,
				Class: f.Class, Credential: f.Credential, Slot: f.Slot, Rule: f.Rule, StageAt: f.StageAt,
				Action: f.Action, Severity: f.Severity, Exempt: f.Exempt, Reason: f.Reason,
			}
			if f.Credential == policy.CredentialAccessKey || f.Credential == policy.CredentialRoot {
				e.KeyID = keyIDs[f.Slot]
			}
			out = append(out, e)
		}
		prev = cur
	}
	return out
}

// candidates are the instants in (asOf, until] at which Evaluate's
// findings for u can change, ascending and without repeats: every time u's
// rules count from plus every day count of thresholds, and the ends of
// exemptions.
func candidates(u *inventory.User, thresholds []int, boundaries []time.Time, asOf, until time.Time) []time.Time {
	bases := []time.Time{u.CreatedAt, u.PasswordLastChanged, u.PasswordLastUsed}
	for _, k := range u.AccessKeys {
		bases = append(bases, k.CreatedAt, k.LastUsedAt)
	}
	var out []time.Time
	for _, b := range bases {
		if b.IsZero() {
			continue
		}
		for _, d := range thresholds {
			if t := b.UTC().AddDate(0, 0, d); t.After(asOf) && !t.After(until) {
				out = append(out, t.UTC())
			}
		}
	}
	out = append(out, boundaries...)
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// dayCounts lists every day count at which a rule of cfg can change a
// finding in snap's account: access-key stages of every class, the unused
// rules' after, and password expiry's warning and expiry days, for the
// configured max_age and for the account password policy's maximum age.
func dayCounts(cfg *config.Config, snap *inventory.Snapshot) []int {
	var d []int
	for _, stages := range cfg.Rules.AccessKeyAge {
		for _, s := range stages {
			d = append(d, s.At)
		}
	}
	if r := cfg.Rules.AccessKeyUnused; r != nil {
		d = append(d, r.After)
	}
	if r := cfg.Rules.PasswordUnused; r != nil {
		d = append(d, r.After)
	}
	if r := cfg.Rules.PasswordExpiry; r != nil {
		d = append(d, r.MaxAge, r.MaxAge-r.WarnBefore)
		if p := snap.PasswordPolicy; p != nil && p.MaxPasswordAge > 0 {
			d = append(d, p.MaxPasswordAge, p.MaxPasswordAge-r.WarnBefore)
		}
	}
	slices.Sort(d)
	return slices.Compact(d)
}

// exemptionEnds are the instants in (asOf, until] at which an exemption
// stops applying: midnight UTC after its until day.
func exemptionEnds(cfg *config.Config, asOf, until time.Time) []time.Time {
	var out []time.Time
	for _, e := range cfg.Exemptions {
		if e.Until == nil {
			continue
		}
		u := e.Until.UTC()
		t := time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
		if t.After(asOf) && !t.After(until) {
			out = append(out, t)
		}
	}
	return out
}
