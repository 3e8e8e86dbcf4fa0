package run

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/state"
)

// RunSchema identifies `keywarden run`'s JSON output.
const RunSchema = "keywarden.run/v1"

// ErrWorkDeadline is the cause of a scan or remediation cut short by
// RunOptions.WorkDeadline.
var ErrWorkDeadline = errors.New("not reached before the run's deadline")

// NoteOffline is said when remediation was asked for on an offline
// credential report: there is no account to act in.
const NoteOffline = "an offline credential report cannot be remediated: actions are listed only, nothing is changed"

// RunOptions configure one `keywarden run`.
type RunOptions struct {
	Scan ScanOptions
	// DryRun prints the plan and sends, changes and records nothing.
	DryRun bool
	// Apply asks for remediation (--apply); enforce.mode: apply asks too.
	Apply bool
	// StateURL overrides the config's state.url.
	StateURL string
	// Store, when set, is used instead of opening StateURL (tests).
	Store state.Store
	// Channels, when set, are used instead of those the config names.
	Channels *Channels
	// Getenv reads secrets named by environment variable.
	Getenv func(string) string
	// TemplateDir is where relative template paths start (the config
	// file's directory).
	TemplateDir string
	// Clock is the wall clock for claims and the run record (default:
	// Scan.Now, fixed).
	Clock func() time.Time
	// Lease is how long a claim holds a notice (default state.DefaultLease).
	Lease time.Duration
	// RunID identifies the run (default: random).
	RunID string
	// WorkDeadline, when set, is when scanning and remediation stop (what
	// is not reached is reported as failed accounts, or actions left for
	// the next run), so that the rest of ctx's time is left to record the
	// run and tell what it did: the Lambda handler's margin.
	WorkDeadline time.Time
	// Clients, when set, returns an account's IAM client for remediation
	// (tests); by default the client is built from the configuration that
	// scanned the account.
	Clients func(ctx context.Context, account string) (remediate.IAM, error)
}

// Result is what a run planned and did. Its JSON form is the
// keywarden.run/v1 output.
type Result struct {
	Schema      string           `json:"schema"`
	RunID       string           `json:"run_id"`
	Mode        plan.Mode        `json:"mode"`
	GeneratedAt time.Time        `json:"generated_at"`
	AsOf        time.Time        `json:"as_of"`
	State       string           `json:"state"`
	Notes       []string         `json:"notes"`
	Accounts    []report.Account `json:"accounts"`
	Summary     report.Summary   `json:"summary"`
	Plan        *plan.Plan       `json:"plan"`
	Deliveries  []Delivery       `json:"deliveries"`
	// ActionsDone, ActionsSkipped and ActionsFailed count what
	// remediation did (or, in a dry run with enforcement on, would do).
	ActionsDone    int `json:"actions_done"`
	ActionsSkipped int `json:"actions_skipped"`
	ActionsFailed  int `json:"actions_failed"`
	// Resolved counts notices closed because their finding is gone.
	Resolved int `json:"resolved"`
	// Sent and Failed count deliveries.
	Sent   int `json:"sent"`
	Failed int `json:"failed"`

	// Report is the scan's report (not part of the run JSON: `scan` has it).
	Report *report.Report `json:"-"`
	// Err joins every delivery and action failure (nil when there was none).
	Err error `json:"-"`
}

// Delivery statuses.
const (
	DeliveryPlanned = "planned" // dry run: would be sent
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"  // not recorded; the next run tries again
	DeliverySkipped = "skipped" // another run holds one of its notices
)

// Delivery is one message of the run, sent or not.
type Delivery struct {
	Kind    notify.Kind `json:"kind"`
	Target  string      `json:"target,omitempty"`
	Channel string      `json:"channel"`
	To      []string    `json:"to"`
	Subject string      `json:"subject"`
	// Notices counts the notices the message is sent for.
	Notices int    `json:"notices"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
}

// Run is `keywarden run`: scan, plan, notify (unless dry run) and record.
// It returns an error only when the run could not be made (the scan, the
// state, the templates); failed deliveries are in Result.Err.
func Run(ctx context.Context, o RunOptions) (*Result, error) {
	log := o.Scan.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := o.Scan.Config
	if cfg == nil {
		cfg = config.Default()
		o.Scan.Config = cfg
	}
	clock := o.Clock
	if clock == nil {
		now := o.Scan.Now
		clock = func() time.Time { return now }
	}
	started := clock()
	runID := o.RunID
	if runID == "" {
		runID = newRunID(o.Scan.AsOf)
	}
	apply := o.Apply || cfg.Enforce.Mode == config.ModeApply
	mode := plan.ModeNotify
	switch {
	case o.DryRun:
		mode = plan.ModeDryRun
	case apply:
		mode = plan.ModeApply
	}
	res := &Result{Schema: RunSchema, RunID: runID, Mode: mode, GeneratedAt: o.Scan.Now.UTC(), AsOf: o.Scan.AsOf.UTC(),
		Notes: []string{}, Deliveries: []Delivery{}}
	offline := o.Scan.CredentialReport != ""
	if apply && offline {
		apply = false
		res.Notes = append(res.Notes, NoteOffline)
		log.Warn(NoteOffline)
	}

	// Templates first, rendered against sample data: a broken one stops
	// the run before anything is scanned, sent or changed.
	tpls, err := notify.LoadTemplates(cfg.Notify.Templates, o.TemplateDir)
	if err == nil {
		err = tpls.Check()
	}
	if err != nil {
		return nil, err
	}

	workCtx := ctx
	if !o.WorkDeadline.IsZero() {
		var cancel context.CancelFunc
		workCtx, cancel = context.WithDeadlineCause(ctx, o.WorkDeadline, ErrWorkDeadline)
		defer cancel()
	}
	accounts := newAccountSet(o.Scan)
	rep, err := Scan(workCtx, accounts.options())
	if err != nil {
		return nil, err
	}
	res.Report, res.Accounts, res.Summary = rep, rep.Accounts, rep.Summary

	url := cmp.Or(o.StateURL, cfg.State.URL, state.DefaultURL)
	res.State = url
	store := o.Store
	if store == nil {
		store, err = OpenStateWith(ctx, url, o.DryRun, o.Scan.LoadAWSConfig)
		if err != nil {
			return nil, err
		}
		defer store.Close()
	}
	if o.DryRun {
		store = dryStore{store}
	}
	ids := make([]string, len(rep.Accounts))
	for i, a := range rep.Accounts {
		ids[i] = a.ID
	}
	notices, err := store.Notices(ctx, ids)
	if err != nil {
		return nil, err
	}
	in := plan.Input{Config: cfg, AsOf: o.Scan.AsOf, Accounts: rep.Accounts, Findings: rep.Findings,
		Notices: notices, Mode: mode, Apply: apply, Offline: offline, ActiveKeys: accounts.activeKeys, Self: accounts.self(ctx, log)}
	p := plan.Build(in)
	var actionErrs []error
	if apply {
		in.Executed, actionErrs = remediateAll(workCtx, o, cfg, accounts, store, rep, p, runID, clock, log)
		p = plan.Build(in)
		for _, a := range p.Actions {
			switch {
			case a.Status == plan.ActionDone, a.Status == plan.ActionPlanned && a.ID != "":
				res.ActionsDone++ // planned once carried out: what a dry run would do
			case a.Status == plan.ActionSkipped:
				res.ActionsSkipped++
			case a.Status == plan.ActionFailed:
				res.ActionsFailed++
			}
		}
	}
	res.Plan = p
	for _, g := range p.Guards {
		log.Warn("a guard stopped every change in the account; the admins are told", "account", g.Account, "reason", g.Reason)
	}
	for _, u := range p.Undeliverable {
		log.Warn("owner cannot be mailed; the admins are told", "account", u.Account, "user", u.User, "reason", u.Reason)
	}
	for _, a := range rep.Accounts {
		if a.Status != report.StatusOK {
			log.Warn("account not scanned: nothing is planned for it", "account", a.ID, "error", a.Error)
		}
	}

	d := &deliverer{store: store, tpls: tpls, plan: p, from: fromAddress(cfg), runID: runID, clock: clock,
		lease: o.Lease, remindEvery: cfg.Notify.Users.RemindEvery, log: log, errs: actionErrs}
	chs := o.Channels
	switch {
	case o.DryRun:
		chs = plannedChannels(cfg)
	case chs == nil:
		chs = BuildChannels(ctx, cfg, ChannelDeps{AWS: o.Scan.LoadAWSConfig, Getenv: o.Getenv})
		defer chs.Close()
	}
	d.deliverAll(ctx, chs, res)

	n, err := store.Resolve(ctx, p.Resolve, p.Day, clock())
	if err != nil {
		d.errs = append(d.errs, err)
	}
	res.Resolved = n
	run := state.Run{ID: runID, Mode: string(mode), AsOf: o.Scan.AsOf, StartedAt: started, FinishedAt: clock(),
		Accounts: len(rep.Accounts), Findings: rep.Summary.Findings, Sent: res.Sent, Failed: res.Failed}
	if len(d.errs) > 0 {
		run.Error = errors.Join(d.errs...).Error()
	}
	if err := store.RecordRun(ctx, run); err != nil {
		d.errs = append(d.errs, err)
	}
	res.Err = errors.Join(d.errs...)
	return res, nil
}

// fromAddress is notify.from, or a local placeholder (the outbox needs a
// sender; ses and smtp require notify.from).
func fromAddress(cfg *config.Config) string {
	return cmp.Or(cfg.Notify.From, "keywarden <keywarden@localhost>")
}

// newRunID is the as-of day and 8 random hex digits.
func newRunID(asOf time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return asOf.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:])
}

// deliverer sends a plan's messages: claim every notice, send, then record
// (or release, so the next run retries).
type deliverer struct {
	store       state.Store
	tpls        *notify.Templates
	plan        *plan.Plan
	from        string
	runID       string
	clock       func() time.Time
	lease       time.Duration
	remindEvery int
	log         *slog.Logger
	errs        []error
}

func (d *deliverer) deliverAll(ctx context.Context, chs *Channels, res *Result) {
	for i := range d.plan.Messages {
		m := &d.plan.Messages[i]
		msg, err := d.tpls.User(m, d.plan, d.from, fmt.Sprintf("%s.u%d", d.runID, i+1), d.clock())
		dl := Delivery{Kind: notify.KindUser, Channel: channelName(chs.User), To: []string{m.To}, Notices: len(m.Notices)}
		d.deliver(ctx, chs.User, msg, err, m.Notices, &dl)
		res.add(dl)
	}
	for i := range d.plan.Digests {
		dg := &d.plan.Digests[i]
		ch := chs.Digest[dg.Target]
		msg, err := d.tpls.Digest(dg, d.from, fmt.Sprintf("%s.d%d", d.runID, i+1), d.clock())
		dl := Delivery{Kind: notify.KindDigest, Target: dg.Target, Channel: channelName(ch), To: dg.To, Notices: len(dg.Notices)}
		d.deliver(ctx, ch, msg, err, dg.Notices, &dl)
		res.add(dl)
	}
}

func channelName(ch notify.Channel) string {
	if ch == nil {
		return ""
	}
	return ch.Name()
}

func (r *Result) add(dl Delivery) {
	switch dl.Status {
	case DeliverySent:
		r.Sent++
	case DeliveryFailed:
		r.Failed++
	}
	r.Deliveries = append(r.Deliveries, dl)
}

// deliver claims notices, sends msg through ch and records the outcome in
// dl and in the store.
func (d *deliverer) deliver(ctx context.Context, ch notify.Channel, msg *notify.Message, renderErr error, notices []plan.Notice, dl *Delivery) {
	fail := func(err error) {
		dl.Status, dl.Error = DeliveryFailed, err.Error()
		d.errs = append(d.errs, err)
		d.log.Error("notification failed; it will be retried on the next run", "kind", dl.Kind, "channel", dl.Channel,
			"to", dl.To, "error", err)
	}
	if msg != nil {
		dl.Subject = msg.Subject
	}
	if renderErr != nil {
		fail(renderErr)
		return
	}
	if ch == nil {
		fail(fmt.Errorf("no channel for %s %s", dl.Kind, dl.Target))
		return
	}
	// Claim every notice; if another run holds one, it is telling this
	// audience now: leave the message to it.
	var claimed []state.NoticeKey
	release := func() {
		for _, k := range claimed {
			if err := d.store.Release(ctx, k, d.runID); err != nil {
				d.errs = append(d.errs, err)
			}
		}
	}
	for _, n := range notices {
		ok, err := d.store.Claim(ctx, state.Claim{Key: n.Key, Account: n.Account, User: n.User, KeyID: n.KeyID, Rule: n.Rule,
			Stage: n.Stage, Day: d.plan.Day, RemindEvery: d.remindEvery, Run: d.runID, Now: d.clock(), Lease: d.lease})
		if err != nil {
			release()
			fail(err)
			return
		}
		if !ok {
			release()
			dl.Status = DeliverySkipped
			dl.Error = fmt.Sprintf("notice %v is held by another run, or was told since this plan was made", n.Key)
			d.log.Info("notification skipped", "kind", dl.Kind, "to", dl.To, "why", dl.Error)
			return
		}
		claimed = append(claimed, n.Key)
	}
	if err := ch.Send(ctx, msg); err != nil {
		release()
		if errors.Is(err, errPlanned) {
			dl.Status = DeliveryPlanned
			return
		}
		fail(err)
		return
	}
	dl.Status = DeliverySent
	d.log.Info("notification sent", "kind", dl.Kind, "channel", dl.Channel, "to", dl.To, "notices", len(notices))
	for _, k := range claimed {
		if err := d.store.Sent(ctx, k, d.runID, d.plan.Day, d.clock()); err != nil {
			d.errs = append(d.errs, fmt.Errorf("sent, but not recorded (it may be sent again): %w", err))
		}
	}
}
