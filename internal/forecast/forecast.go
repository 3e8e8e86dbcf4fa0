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
	// ChangeEnds: the finding stops applying with nothing changed in the
	// account (root_recent_use once root's last use is more than within
	// days ago; access_key_unknown_age once a future creation date is
	// reached). The event carries the stage, action and severity the
	// finding had until then.
	ChangeEnds = "ends"
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
// stage just before; or (Change "ends") a finding Evaluate returned just
// before At and returns no more from At on.
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
	// KeyID is the ID of the credential the event is about: an access key's
	// or signing certificate's when the scan resolved it (a live scan
	// resolves it only for those that have a finding now), a
	// service-specific credential's or SSH key's always.
	KeyID string `json:"key_id"`
	Slot  int    `json:"slot"`
	// Service is a service-specific credential's service
	// (codecommit.amazonaws.com, bedrock.amazonaws.com…); empty otherwise.
	Service  string `json:"service"`
	Rule     string `json:"rule"`
	StageAt  int    `json:"stage_at"`
	Action   string `json:"action"`
	Severity string `json:"severity"`
	Exempt   bool   `json:"exempt"`
	// NextStageOn is Evaluate's next_stage_on at At: the day the finding's
	// following stage starts (a service-specific credential's expiry day
	// while it has not expired); null at its last stage and for "ends".
	NextStageOn *config.Date `json:"next_stage_on"`
	// Reason is Evaluate's reason at At; for "ends", the finding's reason
	// just before At, after a note that it ends.
	Reason string `json:"reason"`
}

// New computes the forecast of snaps under cfg for the days days after
// asOf: every event with asOf < At <= asOf + days (UTC calendar days), ordered by At, then
// account, user, credential, slot, rule and key ID. Credentials already at a stage
// at asOf appear only when they reach a further one.
//
// Evaluate's findings change only when a whole-day age crosses a
// threshold (base time + N days, for every base time a rule counts from and
// every day count the config and password policy name, see dayCounts),
// when a service-specific credential's expiry warning starts (midnight UTC,
// warn_before days before its expiry day) or it expires, or when an
// exemption's until day ends (midnight UTC). New evaluates each user alone
// (and the account's own findings alone) at each such instant and reports
// the findings that differ from the instant before, including those that
// end, so its events are exactly what stepping Evaluate through every
// moment would show.
func New(snaps []*inventory.Snapshot, cfg *config.Config, generatedAt, asOf time.Time, days int) *Forecast {
	asOf = asOf.UTC()
	until := asOf.AddDate(0, 0, days)
	fc := &Forecast{Schema: Schema, GeneratedAt: generatedAt.UTC(), AsOf: asOf, Until: until, Days: days, Events: []Event{}}
	if cfg == nil {
		return fc
	}
	boundaries, rootThresholds := exemptionEnds(cfg, asOf, until), rootDayCounts(cfg)
	for _, snap := range snaps {
		if snap == nil {
			continue
		}
		thresholds := dayCounts(cfg, snap)
		// The account's findings (password_policy) change only when an
		// exemption ends; every per-user evaluation below leaves them out.
		if len(boundaries) > 0 {
			fc.Events = append(fc.Events, steps(accountOnly(snap), cfg, boundaries, asOf, nil, isAccount)...)
		}
		users := make([]*inventory.User, 0, len(snap.Users)+1)
		if snap.Root != nil {
			users = append(users, snap.Root)
		}
		for i := range snap.Users {
			users = append(users, &snap.Users[i])
		}
		for _, u := range users {
			d := thresholds
			if u.IsRoot() {
				d = rootThresholds
			}
			fc.Events = append(fc.Events, userEvents(snap, u, cfg, d, boundaries, asOf, until)...)
		}
	}
	slices.SortStableFunc(fc.Events, func(a, b Event) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Account, b.Account), cmp.Compare(a.User, b.User),
			cmp.Compare(a.Credential, b.Credential), cmp.Compare(a.Slot, b.Slot), cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.KeyID, b.KeyID), cmp.Compare(a.FindingID, b.FindingID))
	})
	return fc
}

// accountOnly is snap without its users and root: Evaluate then returns
// the account's own findings only.
func accountOnly(snap *inventory.Snapshot) *inventory.Snapshot {
	return &inventory.Snapshot{
		AccountID:              snap.AccountID,
		AccountAlias:           snap.AccountAlias,
		ReportGeneratedAt:      snap.ReportGeneratedAt,
		PasswordPolicy:         snap.PasswordPolicy,
		PasswordPolicyKnown:    snap.PasswordPolicyKnown,
		ServiceCredentialsRead: snap.ServiceCredentialsRead,
		Summary:                snap.Summary,
	}
}

// isAccount reports whether f is about the account, not a user.
func isAccount(f *policy.Finding) bool { return f.Credential == policy.CredentialAccount }

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
	instants := candidates(u, thresholds, boundaries, cfg, asOf, until)
	if len(instants) == 0 {
		return nil
	}
	one := accountOnly(snap)
	if u.IsRoot() {
		one.Root = u
	} else {
		one.Users = []inventory.User{*u}
	}
	keyIDs := map[int]string{}
	for _, k := range u.AccessKeys {
		keyIDs[k.Slot] = k.ID
	}
	return steps(one, cfg, instants, asOf, keyIDs, func(f *policy.Finding) bool { return !isAccount(f) })
}

// steps evaluates one at asOf and then at each of instants, and returns an
// event for every finding (that keep selects) which is new, at another
// stage, or gone at an instant. keyIDs are the access key IDs by slot, for
// findings about access keys.
func steps(one *inventory.Snapshot, cfg *config.Config, instants []time.Time, asOf time.Time, keyIDs map[int]string, keep func(*policy.Finding) bool) []Event {
	evaluate := func(at time.Time) []policy.Finding {
		return slices.DeleteFunc(policy.Evaluate(one, cfg, at), func(f policy.Finding) bool { return !keep(&f) })
	}
	stages := func(fs []policy.Finding) map[string]stage {
		m := make(map[string]stage, len(fs))
		for i := range fs {
			m[fs[i].ID] = stageOf(&fs[i])
		}
		return m
	}
	prev := evaluate(asOf)
	before := stages(prev)
	var out []Event
	for _, at := range instants {
		cur := evaluate(at)
		now := stages(cur)
		for i := range cur {
			f := &cur[i]
			s := now[f.ID]
			b, had := before[f.ID]
			if had && b == s {
				continue
			}
			change := ChangeNew
			switch {
			case had && b.exempt && !s.exempt && b.at == s.at && b.action == s.action:
				change = ChangeExemptionEnds
			case had:
				change = ChangeStage
			}
			out = append(out, event(at, change, f, keyIDs))
		}
		for i := range prev {
			if _, ok := now[prev[i].ID]; ok {
				continue
			}
			out = append(out, ended(one, cfg, at, &prev[i], keyIDs))
		}
		prev, before = cur, now
	}
	return out
}

// ended is the "ends" event of f, which Evaluate no longer returns from
// at: f as Evaluate gave it a nanosecond before at, its reason after a
// note.
func ended(one *inventory.Snapshot, cfg *config.Config, at time.Time, f *policy.Finding, keyIDs map[int]string) Event {
	last := *f
	for _, g := range policy.Evaluate(one, cfg, at.Add(-time.Nanosecond)) {
		if g.ID == f.ID {
			last = g
			break
		}
	}
	e := event(at, ChangeEnds, &last, keyIDs)
	e.NextStageOn = nil
	e.Reason = "the finding ends: the rule no longer applies from this instant; until then: " + last.Reason
	return e
}

// event is the event of finding f at at.
func event(at time.Time, change string, f *policy.Finding, keyIDs map[int]string) Event {
	e := Event{
		At: at, On: config.Date{Time: time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)},
		Change: change, FindingID: f.ID, Account: f.Account, AccountAlias: f.AccountAlias, User: f.User,
		Class: f.Class, Credential: f.Credential, KeyID: f.KeyID, Slot: f.Slot, Service: f.Service, Rule: f.Rule,
		StageAt: f.StageAt, Action: f.Action, Severity: f.Severity, Exempt: f.Exempt, NextStageOn: f.NextStageOn,
		Reason: f.Reason,
	}
	// Evaluate leaves access key IDs to the collector; the snapshot may
	// have them.
	if e.KeyID == "" && (f.Credential == policy.CredentialAccessKey || f.Rule == config.RuleRootAccessKey) {
		e.KeyID = keyIDs[f.Slot]
	}
	return e
}

// candidates are the instants in (asOf, until] at which Evaluate's
// findings for u can change, ascending and without repeats: every time u's
// rules count from plus every day count of thresholds, a service-specific
// credential's expiry (and the midnight UTC warn_before days before its
// expiry day, when service_credential_expiry starts to warn), and the ends
// of exemptions.
func candidates(u *inventory.User, thresholds []int, boundaries []time.Time, cfg *config.Config, asOf, until time.Time) []time.Time {
	bases := []time.Time{u.CreatedAt, u.PasswordLastChanged, u.PasswordLastUsed}
	for _, k := range u.AccessKeys {
		bases = append(bases, k.CreatedAt, k.LastUsedAt)
	}
	for _, c := range u.SigningCerts {
		bases = append(bases, c.CreatedAt)
	}
	for _, c := range u.ServiceCredentials {
		bases = append(bases, c.CreatedAt)
	}
	for _, k := range u.SSHKeys {
		bases = append(bases, k.UploadedAt)
	}
	var out []time.Time
	in := func(t time.Time) {
		if t.After(asOf) && !t.After(until) {
			out = append(out, t.UTC())
		}
	}
	for _, b := range bases {
		if b.IsZero() {
			continue
		}
		for _, d := range thresholds {
			in(b.UTC().AddDate(0, 0, d))
		}
	}
	if r := cfg.Rules.ServiceCredentialExpiry; r != nil {
		for _, c := range u.ServiceCredentials {
			if c.ExpiresAt.IsZero() {
				continue
			}
			x := c.ExpiresAt.UTC()
			in(x)
			in(time.Date(x.Year(), x.Month(), x.Day()-r.WarnBefore, 0, 0, 0, 0, time.UTC))
		}
	}
	out = append(out, boundaries...)
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// dayCounts lists every day count at which a rule of cfg can change a
// finding in snap's account: 0 (a creation date in the future is reached:
// access_key_unknown_age ends); the stages of every class of
// access_key_age, signing_certificate_age and service_credential_age; the
// after of access_key_unused, password_unused and dormant_user;
// ssh_key_age's max_age; and password expiry's warning and expiry days,
// for the configured max_age and for the account password policy's
// maximum age. two_active_keys, access_key_at_setup, console_and_keys,
// mfa_missing and password_policy depend on no time but an exemption's
// end.
func dayCounts(cfg *config.Config, snap *inventory.Snapshot) []int {
	d := []int{0}
	for _, byClass := range []map[string][]config.Stage{cfg.Rules.AccessKeyAge, cfg.Rules.SigningCertAge, cfg.Rules.ServiceCredentialAge} {
		for _, stages := range byClass {
			for _, s := range stages {
				d = append(d, s.At)
			}
		}
	}
	for _, r := range []*config.UnusedRule{cfg.Rules.AccessKeyUnused, cfg.Rules.PasswordUnused, cfg.Rules.DormantUser} {
		if r != nil {
			d = append(d, r.After)
		}
	}
	if r := cfg.Rules.SSHKeyAge; r != nil {
		d = append(d, r.MaxAge)
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

// rootDayCounts are the day counts at which root's findings can change:
// root_recent_use's within + 1, when its finding ends. Root gets no other
// rule that counts days (root_access_key, root_signing_certificate and
// mfa_missing depend on no time but an exemption's end).
func rootDayCounts(cfg *config.Config) []int {
	if r := cfg.Rules.RootRecentUse; r != nil {
		return []int{r.Within + 1}
	}
	return nil
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
