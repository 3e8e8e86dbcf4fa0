package run

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
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

// NotePreview is said by a dry run of a run that acts (--apply --dry-run,
// or --dry-run with enforce.mode: apply): the apply preview.
const NotePreview = "apply preview: the allowed accounts, the guards, the window and the re-checks are evaluated as a run " +
	"that acts would now; the actions it would take are listed as planned. Nothing is sent, changed or recorded"

// RunOptions configure one `keywarden run`.
type RunOptions struct {
	Scan ScanOptions
	// DryRun prints the plan and sends, changes and records nothing: the
	// state, the IAM clients and the channels below are replaced by
	// ones that do not (dry.go).
	DryRun bool
	// Apply asks for remediation (--apply); enforce.mode: apply asks too.
	Apply bool
	// ForceAsOf makes a run that acts act at Scan.AsOf, however far it is
	// from the wall clock (Scan.Now): the grace period, the window and the
	// re-checks count from it, and it is recorded in the run and every
	// audit record (--force-as-of). Without it a run that acts acts on the
	// wall clock, and is refused when Scan.AsOf is more than MaxAsOfSkew
	// from it (clock.go).
	ForceAsOf bool
	// StateURL overrides the config's state.url.
	StateURL string
	// Store, when set, is used instead of opening StateURL (tests).
	Store state.Store
	// Channels, when set, are used instead of those the config names;
	// a dry run ignores them (its channels only have names).
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
	// Targets, when set, returns an account's Secrets Manager and SSM
	// clients for rotations (tests); by default built like Clients.
	Targets func(ctx context.Context, account string) (remediate.Targets, error)
}

// Result is what a run planned and did. Its JSON form is the
// keywarden.run/v1 output.
type Result struct {
	Schema      string    `json:"schema"`
	RunID       string    `json:"run_id"`
	Mode        plan.Mode `json:"mode"`
	GeneratedAt time.Time `json:"generated_at"`
	AsOf        time.Time `json:"as_of"`
	// ForcedAsOf is the --as-of the run acted at (--force-as-of) instead of
	// the wall clock; absent when it did not.
	ForcedAsOf time.Time `json:"forced_as_of,omitzero"`
	// Stopped is why the emergency stop (enforce.stop_parameter, holding
	// stop) kept the run from acting; absent when it did not.
	Stopped    string           `json:"stopped,omitempty"`
	State      string           `json:"state"`
	Notes      []string         `json:"notes"`
	Accounts   []report.Account `json:"accounts"`
	Summary    report.Summary   `json:"summary"`
	Plan       *plan.Plan       `json:"plan"`
	Deliveries []Delivery       `json:"deliveries"`
	// Interrupted says that a signal stopped the run, and what it left for
	// the next run ("interrupted by SIGINT: …"); absent when none did.
	Interrupted string `json:"interrupted,omitempty"`
	// ActionsDone, ActionsSkipped and ActionsFailed count what
	// remediation did (or, in a dry run with enforcement on, would do).
	ActionsDone    int `json:"actions_done"`
	ActionsSkipped int `json:"actions_skipped"`
	ActionsFailed  int `json:"actions_failed"`
	// ActionsNotStarted counts the planned actions a stopped run did not
	// start (left planned, without an ID: the next run carries them out).
	ActionsNotStarted int `json:"actions_not_started,omitempty"`
	// Resolved counts notices closed because their finding is gone.
	Resolved int `json:"resolved"`
	// Sent and Failed count deliveries.
	Sent   int `json:"sent"`
	Failed int `json:"failed"`
	// NotSent counts the deliveries a stopped run did not start.
	NotSent int `json:"not_sent,omitempty"`

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

// DeliveryNotSent: the run was stopped (a signal) before the message was
// sent; nothing was claimed, the next run sends it.
const DeliveryNotSent = "not_sent"

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

	// Message is the owner message delivered (Kind user), Digest the
	// admin digest (Kind digest): the plan's own, for the text output.
	Message *plan.Message `json:"-"`
	Digest  *plan.Digest  `json:"-"`
}

// Run is `keywarden run`: scan, plan, remediate (with --apply or
// enforce.mode: apply), deliver and record. It returns an error only when
// the run could not be made (the templates, the scan, the state); failed
// deliveries and actions are in Result.Err.
//
// When ctx ends (a signal: OnSignals) the run stops starting new work —
// no account scan, no action, no message — but finishes what is under
// way (the action in flight: its write, re-check and records; a message
// being sent), releases its claims and records itself as interrupted
// (Result.Interrupted), under a context that outlives ctx by at most
// StopGrace. RunOptions.WorkDeadline stops the scan and the actions the
// same way, and leaves the messages to be sent.
func Run(ctx context.Context, o RunOptions) (*Result, error) {
	r, err := newRunner(o)
	if err != nil {
		return nil, err
	}
	keep, release := outliving(ctx, StopGrace)
	defer release()
	r.halt, r.work = ctx, ctx
	if !o.WorkDeadline.IsZero() {
		var cancel context.CancelFunc
		r.work, cancel = context.WithDeadlineCause(ctx, o.WorkDeadline, ErrWorkDeadline)
		defer cancel()
	}
	if err := r.scan(r.work); err != nil {
		if InterruptedBy(ctx) != nil {
			r.recordScanStopped(keep)
		}
		return nil, err
	}
	if err := r.connect(keep); err != nil {
		return nil, err
	}
	defer r.disconnect()
	if err := r.plan(keep); err != nil {
		return nil, err
	}
	if r.apply {
		r.remediate(keep)
	}
	r.deliver(keep)
	r.record(keep)
	r.res.Err = errors.Join(r.errs...)
	return r.res, nil
}

// runner is one run: what its stages share.
type runner struct {
	o       RunOptions
	cfg     *config.Config
	log     *slog.Logger
	clock   func() time.Time
	started time.Time
	id      string
	mode    plan.Mode
	// apply: remediation was asked for, and there are accounts to act in.
	apply   bool
	offline bool
	// halt ends when the run is to start no new work (a signal); work
	// also at RunOptions.WorkDeadline, for the scan and the actions. The
	// stages themselves run under a context that outlives both (Run).
	halt, work context.Context
	// actAt is when the run acts (remediate, the window): the wall clock,
	// or the forced --as-of (forced, else zero); a dry run at an --as-of
	// far from the wall clock acts at it, as a forced run would.
	actAt, forced time.Time
	tpls          *notify.Templates

	// Set by scan.
	accounts *accountSet
	// Set by connect: where the run's changes go (a dry run's go nowhere).
	store     state.Store
	stateErrs *stateErrors
	clients   func(ctx context.Context, account string) (remediate.IAM, error)
	targets   func(ctx context.Context, account string) (remediate.Targets, error)
	channels  *Channels
	// auditFile opens enforce.audit_file to append the action records.
	auditFile func(path string) (write func(state.Action) error, closeFn func() error, err error)
	// reconcile: remediation first finishes what killed runs left
	// unfinished.
	reconcile bool
	// outcomes are the carried-out actions as the run reports them.
	outcomes func([]plan.Action) []plan.Action
	closers  []func() error

	// Set by plan (Executed by remediate); the plan is res.Plan.
	in plan.Input

	res  *Result
	errs []error
}

// newRunner reads the options: the config (default: built in), the
// clock, the run ID, the mode; and loads the templates, rendered against
// sample data, so that a broken one stops the run before anything is
// scanned, sent or changed.
func newRunner(o RunOptions) (*runner, error) {
	r := &runner{o: o, cfg: o.Scan.Config, log: o.Scan.Logger, clock: o.Clock, id: o.RunID,
		halt: context.Background(), work: context.Background()} // Run sets them
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.cfg == nil {
		r.cfg = config.Default()
		r.o.Scan.Config = r.cfg
	}
	if r.clock == nil {
		now := o.Scan.Now
		r.clock = func() time.Time { return now }
	}
	r.started = r.clock()
	if r.id == "" {
		r.id = newRunID(o.Scan.AsOf)
	}
	r.apply = o.Apply || r.cfg.Enforce.Mode == config.ModeApply
	r.mode = plan.ModeNotify
	switch {
	case o.DryRun:
		r.mode = plan.ModeDryRun
	case r.apply:
		r.mode = plan.ModeApply
	}
	r.res = &Result{Schema: RunSchema, RunID: r.id, Mode: r.mode, GeneratedAt: o.Scan.Now.UTC(), AsOf: o.Scan.AsOf.UTC(),
		Notes: []string{}, Deliveries: []Delivery{}}
	r.offline = o.Scan.CredentialReport != ""
	if r.apply && r.offline {
		r.apply = false
		r.res.Notes = append(r.res.Notes, NoteOffline)
		r.log.Warn(NoteOffline)
	}
	if err := r.setClock(); err != nil {
		return nil, err
	}
	if r.apply && o.DryRun {
		r.res.Notes = append(r.res.Notes, NotePreview)
	}
	tpls, err := notify.LoadTemplates(r.cfg.Notify.Templates, o.TemplateDir)
	if err == nil {
		err = tpls.Check()
	}
	if err != nil {
		return nil, err
	}
	r.tpls = tpls
	return r, nil
}

// scan reads the accounts (run.Scan), keeping what remediation needs of
// each.
func (r *runner) scan(ctx context.Context) error {
	r.accounts = newAccountSet(r.o.Scan)
	rep, err := Scan(ctx, r.accounts.options())
	if err != nil {
		return err
	}
	r.res.Report, r.res.Accounts, r.res.Summary = rep, rep.Accounts, rep.Summary
	return nil
}

// connect sets up where the run's changes go: the state, the IAM clients
// of the scanned accounts, the channels. This is where a dry run is made
// (dry.go): its state records nothing, its clients change nothing, its
// channels only have names.
func (r *runner) connect(ctx context.Context) error {
	url := cmp.Or(r.o.StateURL, r.cfg.State.URL, state.DefaultURL)
	r.res.State = url
	r.store = r.o.Store
	if r.store == nil {
		s, err := OpenStateWith(ctx, url, r.o.DryRun, r.o.Scan.LoadAWSConfig)
		if err != nil {
			return err
		}
		r.store = s
		r.closers = append(r.closers, s.Close)
	}
	r.stateErrs = &stateErrors{Store: r.store} // its errors named in the headline
	r.store = r.stateErrs
	r.clients = r.o.Clients
	if r.clients == nil {
		r.clients = r.accounts.client
	}
	r.targets = r.o.Targets
	if r.targets == nil {
		r.targets = r.accounts.targets
	}
	if r.o.DryRun {
		r.store = dryStore{r.store}
		r.clients = dryClients(r.clients)
		r.targets = dryTargets(r.targets)
		r.channels = plannedChannels(r.cfg)
		r.auditFile = dryAuditFile
		r.reconcile = false // left to the next real run
		r.outcomes = wouldDo
		return nil
	}
	r.auditFile, r.reconcile, r.outcomes = openAuditFile, true, asCarriedOut
	r.channels = r.o.Channels
	if r.channels == nil {
		r.channels = BuildChannels(ctx, r.cfg, ChannelDeps{AWS: r.o.Scan.LoadAWSConfig, Getenv: r.o.Getenv})
		r.closers = append(r.closers, r.channels.Close)
	}
	return nil
}

// disconnect closes what connect opened, the last first.
func (r *runner) disconnect() {
	for _, c := range slices.Backward(r.closers) {
		_ = c()
	}
}

// plan builds the plan from the scan and the open notices, and says what
// it could not plan for.
func (r *runner) plan(ctx context.Context) error {
	rep := r.res.Report
	notices, owed, err := r.notices(ctx)
	if err != nil {
		return err
	}
	rotations, err := r.rotations(ctx)
	if err != nil {
		return err
	}
	r.in = plan.Input{Config: r.cfg, AsOf: r.o.Scan.AsOf, Accounts: rep.Accounts, Findings: rep.Findings, Notices: notices, OwedActions: owed,
		Rotations: rotations, NewKeyUse: r.newKeyUse(ctx, rotations), OldKeys: r.oldKeys(ctx, rotations),
		Mode: r.mode, Apply: r.apply, Offline: r.offline, ActiveKeys: r.accounts.activeKeys, ActiveOther: r.accounts.activeOther, Self: r.accounts.self(ctx, r.log),
		ActAt: r.actAt, ClockProblems: r.clockProblems(),
		SourceKeys: r.accounts.sourceKeys(ctx, r.log)}
	r.res.Plan = plan.Build(r.in)
	for _, a := range rep.Accounts {
		if a.Status != report.StatusOK {
			r.log.Warn("account not scanned: nothing is planned for it", "account", a.ID, "error", a.Error)
		}
	}
	return nil
}

// record closes the notices of findings that are gone and records the
// run (a dry run's state records neither).
func (r *runner) record(ctx context.Context) {
	p := r.res.Plan
	n, err := r.store.Resolve(ctx, p.Resolve, p.Day, r.clock())
	if err != nil {
		r.errs = append(r.errs, err)
	}
	r.res.Resolved = n
	rep := r.res.Report
	run := state.Run{ID: r.id, Mode: string(r.mode), AsOf: r.o.Scan.AsOf, StartedAt: r.started, FinishedAt: r.clock(),
		Accounts: len(rep.Accounts), Findings: rep.Summary.Findings, Sent: r.res.Sent, Failed: r.res.Failed, ForcedAsOf: r.forced}
	r.res.Interrupted = r.interrupted()
	errs := r.errs
	if r.res.Interrupted != "" {
		errs = append([]error{errors.New(r.res.Interrupted)}, errs...)
	}
	if len(errs) > 0 {
		run.Error = errors.Join(errs...).Error()
	}
	if err := r.store.RecordRun(ctx, run); err != nil {
		r.errs = append(r.errs, err)
	}
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
