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
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/state"
)

// Mode is how a run acts on its plan.
type Mode string

// Modes of `keywarden run`.
const (
	// ModeDryRun prints the plan; nothing is sent, changed or recorded.
	ModeDryRun Mode = "dry_run"
	// ModeNotify sends the notifications and records them; actions are
	// only listed ("would disable").
	ModeNotify Mode = "notify"
	// ModeApply also remediates, where enforcement is on.
	ModeApply Mode = "apply"
)

// Digest targets: the channels that carry the admin digest.
const (
	TargetEmail   = "email"   // notify.admins.emails, through notify.users.via
	TargetSNS     = "sns"     // notify.admins.sns_topic_arn
	TargetSlack   = "slack"   // notify.admins.slack_webhook_env / _ssm
	TargetWebhook = "webhook" // notify.admins.webhook_url_env / _ssm
	TargetOutbox  = "outbox"  // the local default, when none of the above is set
)

// DigestAudience is the state.NoticeKey audience of a digest target.
func DigestAudience(target string) string { return state.DigestPrefix + target }

// AccountErrorRule is the rule of the notice that tells the admins an
// account could not be scanned; its finding ID is "account:ID".
const AccountErrorRule = "account_error"

// Input is everything Build needs.
type Input struct {
	Config *config.Config
	// AsOf is the run's time (its --as-of); its UTC day is the cadence's day.
	AsOf time.Time
	// Accounts are the scanned accounts; only findings of accounts whose
	// status is ok are planned.
	Accounts []report.Account
	Findings []policy.Finding
	// Notices are the open notices of these accounts (state.Store.Notices),
	// the owed ones among them (state.Notice.Owed): outcomes of actions
	// never told to an audience, which Build tells.
	Notices []state.Notice
	// OwedActions are the records of the actions the owed notices tell
	// (state.Store.Actions by ID); an owed notice without its record waits.
	OwedActions []state.Action
	// Mode is the run's mode; Apply asks for remediation (--apply, or
	// enforce.mode: apply).
	Mode  Mode
	Apply bool
	// Offline is true for a run over a downloaded credential report:
	// actions are listed only.
	Offline bool
	// ActiveKeys counts each account's active access keys, and
	// ActiveOther its active signing certificates and service-specific
	// credentials (the max_fraction guard counts them together).
	ActiveKeys  map[string]int
	ActiveOther map[string]int
	// Self are, by account, the access keys the run signs its own calls
	// with: never acted on.
	Self map[string][]string
	// ActAt is when the run acts: the wall clock, or a forced --as-of
	// (zero: AsOf). enforce.window is checked at it.
	ActAt time.Time
	// ClockProblems are, by account, why the account's own data
	// contradicts the run's clock: a guard that stops every change there.
	ClockProblems map[string]string
	// SourceKeys are the access keys behind the credentials the run signs
	// with — the source credentials of a role the SDK assumed for it — by
	// key ID, with the role each assumes: never acted on, in any account.
	SourceKeys map[string]string
	// Rotations are the open rotations of these accounts, from the state:
	// the records of Kind rotate, done, whose old key is not yet deleted,
	// with their retiring disable and delete records (RotationOf) and the
	// undo (enable) records of either. A key under an open rotation gets no
	// other action: the plan retires it (disable once rotate.overlap_days
	// have passed, delete after enforce.grace_after_disable) and its
	// messages tell the rotation.
	Rotations []state.Action
	// NewKeyUse is, by rotation ID, what the run read of each open
	// rotation's new key before planning (GetAccessKeyLastUsed): its use
	// since the rotation retires the old key at once; a failed read
	// holds the rotation where it is this run; a new key gone breaks it.
	NewKeyUse map[string]NewKeyUse
	// OldKeys is, by rotation ID, what the run read of each retired
	// rotation's old key that has no finding (its status; the report
	// carries no key IDs): a retiring delete without a finding is planned
	// only for a key read inactive (or gone).
	OldKeys map[string]OldKey
	// Executed, when set, are this run's actions as remediation left them
	// (done, skipped, failed, with IDs): Build then reports them instead of
	// planning anew, tells owners what was done, and the digest lists them.
	Executed []Action
}

// Plan is what one run will tell and do.
type Plan struct {
	Mode Mode      `json:"mode"`
	AsOf time.Time `json:"as_of"`
	// Day is AsOf's UTC day, the cadence's day.
	Day string `json:"day"`
	// Messages are the owner messages that are due, by address.
	Messages []Message `json:"messages"`
	// NotDue counts owners who have findings but nothing due this run.
	NotDue int `json:"owners_not_due"`
	// Digests are the admin digests that are due, one per target.
	Digests []Digest `json:"digests"`
	// Actions are the changes the policy calls for.
	Actions []Action `json:"actions"`
	// Owed are outcomes of actions this run did not carry out (an earlier
	// or a concurrent run's) that are owed to an owner or a digest: told in
	// this run's messages, even when their finding is gone.
	Owed []Action `json:"owed"`
	// Guards are the accounts where a guard stopped every change.
	Guards []Guard `json:"guards"`
	// Undeliverable are owners keywarden cannot mail; the admins are told.
	Undeliverable []Undeliverable `json:"undeliverable"`
	// AddressProblems are owners mailed at one address whose other
	// addresses (a malformed tag, a disallowed domain) were skipped; the
	// admins are told so they can fix the tags.
	AddressProblems []Undeliverable `json:"address_problems"`
	// Resolve are findings whose open notices are closed (resolved since).
	Resolve []string `json:"resolve"`
	// Relaxed are the users whose enforcement a tag relaxed (a softer
	// class, an exemption): users may be able to tag themselves.
	Relaxed []Relaxed `json:"relaxed"`
	// Findings and Exempt count the planned accounts' findings.
	Findings int `json:"findings"`
	Exempt   int `json:"exempt"`
}

// Notice is one notice a run claims before it delivers a message.
type Notice struct {
	Key     state.NoticeKey `json:"key"`
	Account string          `json:"account"`
	User    string          `json:"user"`
	KeyID   string          `json:"key_id,omitempty"`
	Rule    string          `json:"rule"`
	Stage   int             `json:"stage"`
	Status  state.Status    `json:"status"`
}

// Message is one owner message: every current credential finding of one
// address, across accounts.
type Message struct {
	To    string `json:"to"`
	Items []Item `json:"items"`
	// Notices are the due items' notices: what the message is sent for.
	Notices []Notice `json:"notices"`
	// Reminder is true when every due item is a reminder (nothing new).
	Reminder bool `json:"reminder"`
}

// Item is one finding as a message shows it.
type Item struct {
	policy.Finding
	// Title names the credential: "access key AKIA… (key 1)".
	Title string `json:"title"`
	// Status is why it is in this message: new, stage, reminder, or
	// not_due (listed so the message is complete, not the reason it is sent).
	Status state.Status `json:"status"`
	// LastTold is the day it was last told to this audience ("": never).
	LastTold string `json:"last_told,omitempty"`
	// Next says what happened to the credential in this run, or what
	// happens next: from the action on it where its finding calls for a
	// change (done, with its day; planned; blocked by a guard; waiting for
	// the window; not made because enforcement is off; skipped; failed),
	// never a day on which a change no run will make "will be" made.
	Next string `json:"next"`
	// Fix are the steps to resolve it.
	Fix []string `json:"fix"`
	// ConsoleURL is the account's sign-in URL.
	ConsoleURL string `json:"console_url"`
	// Enforced is whether enforcement is on for the credential's account
	// in this run (it applies, the account is allowed, the credential is
	// not root's); a guard, the window or a re-check may still stop a
	// change: ActionStatus says what became of it.
	Enforced bool `json:"enforced"`
	// ActionStatus is the status of the action on the credential (listed,
	// planned, blocked, waiting, done, skipped, failed), "" when its
	// finding calls for no change.
	ActionStatus string `json:"action_status,omitempty"`
	// ActionID is the action this run carried out on the credential
	// ("": none); what was done is news, whatever the cadence says.
	ActionID string `json:"action_id,omitempty"`
	// Done is what keywarden did to the credential when ActionStatus is
	// done: disable, delete or remove_password.
	Done string `json:"done,omitempty"`

	// owedOnly: the item tells an earlier change only (its finding is
	// gone); it has no finding notice.
	owedOnly bool
	// doneOn is the day keywarden made Done (ChangedOn).
	doneOn string
	// rotating: the credential is the old key of an open rotation that no
	// action of this run touches; retireOn is the day it is disabled at
	// the latest ("" once it is disabled).
	rotating bool
	retireOn string
}

// Changed sums up what keywarden did to the message's credentials — "1
// disabled, 1 deleted" — or "" when it did nothing.
func (m Message) Changed() string {
	counts := map[string]int{}
	seen := map[string]bool{} // a credential with two findings is one change
	for _, it := range m.Items {
		cred := fmt.Sprint(it.Account, "/", it.User, "/", it.Credential, "/", it.KeyID, "/", it.Slot)
		if it.Done != "" && !seen[cred] {
			seen[cred] = true
			counts[it.Done]++
		}
	}
	var parts []string
	for _, kind := range []string{config.ActionRotate, config.ActionDisable, config.ActionDelete, config.ActionRemovePassword} {
		if n := counts[kind]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, past(kind)))
		}
	}
	return strings.Join(parts, ", ")
}

// Digest is the admin digest for one target.
type Digest struct {
	Target string `json:"target"`
	// To are the admin addresses (email and outbox targets).
	To   []string  `json:"to,omitempty"`
	Mode Mode      `json:"mode"`
	Day  string    `json:"day"`
	AsOf time.Time `json:"as_of"`
	// Accounts are every scanned account, with counts.
	Accounts []AccountSummary `json:"accounts"`
	// Findings are every non-exempt finding of the planned accounts; their
	// Status is for this target.
	Findings []Item `json:"findings"`
	// Exempt counts exempt findings (never mailed, never changed).
	Exempt        int             `json:"exempt"`
	Undeliverable []Undeliverable `json:"undeliverable"`
	// AddressProblems are owners mailed, with skipped addresses.
	AddressProblems []Undeliverable `json:"address_problems"`
	Actions         []Action        `json:"actions"`
	// Guards are the accounts where a guard stopped every change.
	Guards []Guard `json:"guards"`
	// Relaxed are the users whose enforcement a tag relaxed.
	Relaxed []Relaxed `json:"relaxed"`
	// Messages counts the owner messages of this run.
	Messages int `json:"messages"`
	// Compliant is true when there are no findings and no failed account.
	Compliant bool `json:"compliant"`
	// Notices are this target's due notices ("always" digests may have
	// none).
	Notices []Notice `json:"notices"`
	// Rotations are the open rotations of the planned accounts: a new key
	// written, the old one not yet deleted.
	Rotations []RotationLine `json:"rotations"`
	// MaxItems is how many entries each section of the rendered digest
	// lists (notify.admins.max_items); the rest are counted and attached.
	MaxItems int `json:"max_items,omitempty"`
}

// AccountSummary is one account in the digest.
type AccountSummary struct {
	ID         string  `json:"id"`
	Alias      string  `json:"alias"`
	Status     string  `json:"status"`
	Error      string  `json:"error,omitempty"`
	Users      int     `json:"users"`
	AccessKeys int     `json:"access_keys"`
	Findings   int     `json:"findings"`
	Exempt     int     `json:"exempt"`
	Counts     []Count `json:"counts"`
	ConsoleURL string  `json:"console_url"`
}

// Count is how many findings of an account are at one rule's stage.
type Count struct {
	Rule   string `json:"rule"`
	Stage  int    `json:"stage"`
	Action string `json:"action"`
	Count  int    `json:"count"`
}

// Undeliverable is an owner keywarden cannot mail.
type Undeliverable struct {
	Account string `json:"account"`
	User    string `json:"user"`
	// Findings counts the user's non-exempt findings.
	Findings int `json:"findings"`
	// Reason says why, e.g. "no address: …".
	Reason   string                    `json:"reason"`
	Problems []policy.RecipientProblem `json:"problems,omitempty"`
}

// Build makes the plan.
func Build(in Input) *Plan {
	cfg := in.Config
	if cfg == nil {
		cfg = config.Default()
	}
	b := &builder{in: in, cfg: cfg, day: state.Day(in.AsOf), notices: map[state.NoticeKey]*state.Notice{}, owed: owedBy(in.Notices),
		own: map[string]bool{}}
	b.rotations, b.rotationByID = openRotations(in.Rotations)
	b.breakRotations()
	for i := range in.Notices {
		b.notices[in.Notices[i].NoticeKey] = &in.Notices[i]
	}
	b.ok = map[string]report.Account{}
	for _, a := range in.Accounts {
		if a.Status == report.StatusOK || a.Status == "" {
			b.ok[a.ID] = a
		}
	}
	p := &Plan{Mode: in.Mode, AsOf: in.AsOf.UTC(), Day: b.day, Messages: []Message{}, Digests: []Digest{},
		Actions: []Action{}, Owed: []Action{}, Guards: []Guard{}, Undeliverable: []Undeliverable{}, AddressProblems: []Undeliverable{}, Resolve: []string{},
		Relaxed: []Relaxed{}}

	findings := slices.Clone(in.Findings)
	report.SortFindings(findings)
	var items []Item // non-exempt findings of ok accounts
	current := map[string]bool{}
	for _, f := range findings {
		if _, ok := b.ok[f.Account]; !ok {
			continue
		}
		current[f.ID] = true
		b.see(&f)
		if f.Exempt {
			p.Exempt++
			continue
		}
		p.Findings++
		items = append(items, b.item(f))
	}

	p.Actions, p.Guards = b.actions(items)
	for _, g := range p.Guards {
		current[GuardFinding(g.Account)] = true
	}
	for _, a := range p.Actions {
		if a.ID != "" {
			b.own[a.ID] = true
		}
	}
	p.Owed = b.earlier(p.Actions)
	items = b.withOutcomes(items, append(slices.Clone(p.Actions), done(p.Owed)...))
	p.Messages, p.NotDue = b.messages(items, append(done(p.Actions), p.Owed...))
	p.Undeliverable, p.AddressProblems = b.undeliverable(items)
	p.Resolve = b.resolve(current)
	p.Relaxed = b.relaxed(findings)
	p.Digests = b.digests(items, p)
	return p
}

type builder struct {
	in      Input
	cfg     *config.Config
	day     string
	notices map[state.NoticeKey]*state.Notice
	ok      map[string]report.Account
	// owed maps an action ID to the audiences its outcome is owed to; own
	// are the IDs of the actions this run carried out.
	owed map[string][]string
	own  map[string]bool
	// rotations are the open rotations by their old key (rotationKey),
	// rotationByID by the rotation's ID.
	rotations    map[string]*openRotation
	rotationByID map[string]*openRotation
	// seenKeys are the access keys with a finding (exempt ones included),
	// by rotationKey; exemptUsers the users (account/user) with an exempt
	// finding: no retiring delete is built from the records for either.
	seenKeys, exemptUsers map[string]bool
}

func (b *builder) enforced(account string) bool {
	return b.actionReason(account) == ""
}

// actionReason is "" when enforcement is on for account, else why not.
func (b *builder) actionReason(account string) string {
	switch {
	case b.in.Offline:
		return ReasonOffline
	case !b.in.Apply:
		return ReasonNotApplying
	case !slices.Contains(b.cfg.Enforce.AllowedAccounts, account):
		return fmt.Sprintf(reasonNotAllowedFmt, account)
	}
	return ""
}

func (b *builder) alias(f *policy.Finding) string {
	if f.AccountAlias != "" {
		return f.AccountAlias
	}
	return b.ok[f.Account].Alias
}

// ConsoleURL is the sign-in URL of an account: notify.console_url with
// {account} and {alias} replaced, or the account's own sign-in page.
func ConsoleURL(cfg *config.Config, account, alias string) string {
	if cfg != nil && cfg.Notify.ConsoleURL != "" {
		return strings.NewReplacer("{account}", account, "{alias}", cmp.Or(alias, account)).Replace(cfg.Notify.ConsoleURL)
	}
	return "https://" + cmp.Or(alias, account) + ".signin.aws.amazon.com/console"
}

func (b *builder) item(f policy.Finding) Item {
	f.AccountAlias = b.alias(&f)
	enf := b.enforced(f.Account) && f.Credential != policy.CredentialRoot && b.protection(f.Account, f.User, f.Credential, f.KeyID) == ""
	it := Item{Finding: f, Title: b.title(&f), ConsoleURL: ConsoleURL(b.cfg, f.Account, f.AccountAlias), Enforced: enf}
	it.Next = b.next(&f, enf)
	it.Fix = fix(&f, it.ConsoleURL)
	return it
}

// status is an item's cadence status for audience.
func (b *builder) status(it *Item, audience string) (state.Status, string) {
	n := b.notices[state.NoticeKey{Finding: it.ID, Audience: audience}]
	last := ""
	if n != nil && n.ClosedDay == "" {
		last = n.LastDay
	}
	return state.Due(n, it.StageAt, b.day, b.cfg.Notify.Users.RemindEvery), last
}

// actionNotice is the notice that tells audience what an action did to
// it's credential: told once (its ID is new), closed by the next run.
func actionNotice(it *Item, audience string) Notice {
	return Notice{Key: state.NoticeKey{Finding: ActionFinding(it.ActionID), Audience: audience}, Account: it.Account,
		User: it.User, KeyID: it.KeyID, Rule: it.Rule, Stage: it.StageAt, Status: state.StatusNew}
}

func notice(it *Item, audience string, st state.Status) Notice {
	return Notice{Key: state.NoticeKey{Finding: it.ID, Audience: audience}, Account: it.Account, User: it.User,
		KeyID: it.KeyID, Rule: it.Rule, Stage: it.StageAt, Status: st}
}

// messages groups items by owner address: one message per address with
// at least one due item; a change owed to an owner (of owed, this run's or
// an earlier one's) is told even when its finding is gone.
func (b *builder) messages(items []Item, owed []Action) ([]Message, int) {
	byAddr := map[string][]Item{}
	for _, it := range items {
		if it.Severity == config.SeverityInfo {
			continue // informational: in the reports and the digest, never mailed to an owner
		}
		for _, to := range it.Recipients {
			byAddr[to] = append(byAddr[to], it)
		}
	}
	b.withOwed(byAddr, owed)
	out := []Message{}
	notDue := 0
	for _, to := range slices.Sorted(maps.Keys(byAddr)) {
		m := Message{To: to, Reminder: true}
		for _, it := range byAddr[to] {
			if !it.owedOnly {
				it.Status, it.LastTold = b.status(&it, to)
			}
			if it.Status != state.StatusNotDue && !it.owedOnly {
				m.Notices = append(m.Notices, notice(&it, to, it.Status))
				if it.Status != state.StatusReminder {
					m.Reminder = false
				}
			}
			if it.ActionID != "" && b.actionNoticeDue(it.ActionID, to) {
				// What keywarden did to the credential is news.
				m.Notices = append(m.Notices, actionNotice(&it, to))
				it.Status, m.Reminder = state.StatusNew, false
			}
			m.Items = append(m.Items, it)
		}
		if len(m.Notices) == 0 {
			notDue++
			continue
		}
		out = append(out, m)
	}
	return out, notDue
}

// undeliverable lists users with findings but no address (root and the
// account aside: their findings are for the admins by design), and users
// mailed at one address whose other addresses were skipped.
func (b *builder) undeliverable(items []Item) (none, problems []Undeliverable) {
	none, problems = []Undeliverable{}, []Undeliverable{}
	type at struct {
		mailed bool
		i      int
	}
	idx := map[[2]string]at{}
	for _, it := range items {
		if it.Credential == policy.CredentialRoot || it.User == "<root_account>" || it.User == policy.AccountUser ||
			it.Severity == config.SeverityInfo || len(it.Recipients) > 0 && len(it.RecipientProblems) == 0 {
			continue // root's and the account's are the admins'; an informational finding is never mailed
		}
		k := [2]string{it.Account, it.User}
		if x, ok := idx[k]; ok {
			if x.mailed {
				problems[x.i].Findings++
			} else {
				none[x.i].Findings++
			}
			continue
		}
		u := Undeliverable{Account: it.Account, User: it.User, Findings: 1, Problems: it.RecipientProblems}
		if len(it.Recipients) > 0 {
			u.Reason = "mailed at " + strings.Join(it.Recipients, ", ") + ", but " + problemList(it.RecipientProblems)
			idx[k] = at{true, len(problems)}
			problems = append(problems, u)
			continue
		}
		u.Reason = b.noAddressReason(it.RecipientProblems)
		idx[k] = at{false, len(none)}
		none = append(none, u)
	}
	return none, problems
}

// problemList is "not mailed: tag "Email": "…" is not an email address; …".
func problemList(probs []policy.RecipientProblem) string {
	parts := make([]string, len(probs))
	for i, p := range probs {
		parts[i] = p.String()
	}
	return "not mailed: " + strings.Join(parts, "; ")
}

func (b *builder) noAddressReason(probs []policy.RecipientProblem) string {
	if len(probs) > 0 {
		return problemList(probs)
	}
	u := b.cfg.Notify.Users
	var why []string
	if len(u.EmailTags) > 0 {
		why = append(why, fmt.Sprintf("no tag of %s holds an address", strings.Join(u.EmailTags, ", ")))
	}
	if u.UsernameIsEmail == nil || *u.UsernameIsEmail {
		why = append(why, "the user name is not an address")
	} else {
		why = append(why, "username_is_email is off")
	}
	return "no address: " + strings.Join(why, " and ")
}

// resolve lists findings with open notices in planned accounts that are no
// longer found, and accounts scanned fine again after an error.
func (b *builder) resolve(current map[string]bool) []string {
	// An owed notice stays open until it is told: a finding with one is
	// not resolved, since resolving closes every audience of a finding.
	owed := map[string]bool{}
	for _, n := range b.in.Notices {
		if n.Owed() {
			owed[n.Finding] = true
		}
	}
	seen := map[string]bool{}
	out := []string{}
	for _, n := range b.in.Notices {
		if n.ClosedDay != "" || seen[n.Finding] || owed[n.Finding] {
			continue
		}
		if _, ok := b.ok[n.Account]; !ok {
			continue // not scanned (or failed) this run: nothing is known
		}
		if current[n.Finding] {
			continue
		}
		seen[n.Finding] = true
		out = append(out, n.Finding)
	}
	slices.Sort(out)
	return out
}

// Targets lists the digest targets the config sets up.
func Targets(cfg *config.Config) []string {
	a := cfg.Notify.Admins
	var t []string
	if len(a.Emails) > 0 {
		t = append(t, TargetEmail)
	}
	if a.SNSTopicARN != "" {
		t = append(t, TargetSNS)
	}
	if a.SlackWebhookEnv != "" || a.SlackWebhookSSM != "" {
		t = append(t, TargetSlack)
	}
	if a.WebhookURLEnv != "" || a.WebhookURLSSM != "" {
		t = append(t, TargetWebhook)
	}
	if len(t) == 0 {
		t = append(t, TargetOutbox)
	}
	return t
}

func (b *builder) digests(items []Item, p *Plan) []Digest {
	var accounts []AccountSummary
	accIdx := map[string]int{}
	failed := []report.Account{}
	for _, a := range slices.SortedFunc(slices.Values(b.in.Accounts), func(x, y report.Account) int { return cmp.Compare(x.ID, y.ID) }) {
		accIdx[a.ID] = len(accounts)
		accounts = append(accounts, AccountSummary{ID: a.ID, Alias: a.Alias, Status: cmp.Or(a.Status, report.StatusOK), Error: a.Error,
			Users: a.Users, AccessKeys: a.AccessKeys, Counts: []Count{}, ConsoleURL: ConsoleURL(b.cfg, a.ID, a.Alias)})
		if _, ok := b.ok[a.ID]; !ok {
			failed = append(failed, a)
		}
	}
	for _, f := range b.in.Findings {
		i, ok := accIdx[f.Account]
		if !ok || accounts[i].Status != report.StatusOK {
			continue
		}
		if f.Exempt {
			accounts[i].Exempt++
			continue
		}
		accounts[i].Findings++
		c := &accounts[i].Counts
		j := slices.IndexFunc(*c, func(x Count) bool { return x.Rule == f.Rule && x.Stage == f.StageAt && x.Action == f.Action })
		if j < 0 {
			*c = append(*c, Count{Rule: f.Rule, Stage: f.StageAt, Action: f.Action})
			j = len(*c) - 1
		}
		(*c)[j].Count++
	}
	for i := range accounts {
		slices.SortFunc(accounts[i].Counts, func(x, y Count) int {
			return cmp.Or(cmp.Compare(x.Rule, y.Rule), cmp.Compare(x.Stage, y.Stage), cmp.Compare(x.Action, y.Action))
		})
	}

	always := b.cfg.Notify.Admins.SendWhen == config.SendWhenAlways
	out := []Digest{}
	for _, target := range Targets(b.cfg) {
		aud := DigestAudience(target)
		d := Digest{Target: target, Mode: b.in.Mode, Day: b.day, AsOf: b.in.AsOf.UTC(), Accounts: accounts,
			Exempt: p.Exempt, Undeliverable: p.Undeliverable, AddressProblems: p.AddressProblems, Actions: slices.Clone(p.Actions), Guards: p.Guards, Relaxed: p.Relaxed, Messages: len(p.Messages),
			Compliant: len(items) == 0 && len(failed) == 0, Findings: make([]Item, len(items)), Notices: []Notice{},
			MaxItems: cmp.Or(b.cfg.Notify.Admins.MaxItems, config.DefaultDigestMaxItems), Rotations: b.rotationLines()}
		if target == TargetEmail || target == TargetOutbox {
			d.To = slices.Clone(b.cfg.Notify.Admins.Emails)
		}
		for i, it := range items {
			it.Status, it.LastTold = b.status(&it, aud)
			if it.Status != state.StatusNotDue {
				d.Notices = append(d.Notices, notice(&it, aud, it.Status))
			}
			d.Findings[i] = it
		}
		for _, a := range p.Owed {
			if b.isOwed(a.ID, aud) {
				d.Actions = append(d.Actions, a) // an earlier run's outcome, never told here
			}
		}
		for _, a := range d.Actions {
			if (a.Status == ActionDone || a.Status == ActionFailed) && a.ID != "" && !a.Unsettled && b.actionNoticeDue(a.ID, aud) {
				d.Notices = append(d.Notices, Notice{Key: state.NoticeKey{Finding: ActionFinding(a.ID), Audience: aud}, Account: a.Account,
					User: a.User, KeyID: a.KeyID, Rule: a.Rule, Stage: a.StageAt, Status: state.StatusNew})
			}
		}
		for _, g := range p.Guards {
			key := state.NoticeKey{Finding: GuardFinding(g.Account), Audience: aud}
			if st := state.Due(b.notices[key], 0, b.day, b.cfg.Notify.Users.RemindEvery); st != state.StatusNotDue {
				d.Notices = append(d.Notices, Notice{Key: key, Account: g.Account, Rule: GuardRule, Status: st})
			}
		}
		for _, a := range failed {
			key := state.NoticeKey{Finding: "account:" + a.ID, Audience: aud}
			if st := state.Due(b.notices[key], 0, b.day, b.cfg.Notify.Users.RemindEvery); st != state.StatusNotDue {
				d.Notices = append(d.Notices, Notice{Key: key, Account: a.ID, Rule: AccountErrorRule, Status: st})
			}
		}
		if len(d.Notices) > 0 || always {
			out = append(out, d)
		}
	}
	return out
}
