package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
)

// The environment variables the function reads its config from: exactly
// one of them.
const (
	EnvConfig    = "KEYWARDEN_CONFIG"     // the YAML itself
	EnvConfigSSM = "KEYWARDEN_CONFIG_SSM" // an SSM parameter name
	EnvConfigS3  = "KEYWARDEN_CONFIG_S3"  // s3://BUCKET/KEY
)

// DefaultMargin is how long before the function's deadline the run is
// stopped, so that it can still record what it did and answer.
const DefaultMargin = 20 * time.Second

// Event is the invocation payload: an EventBridge Scheduler target input
// (or the "detail" of an EventBridge event) with optional overrides.
type Event struct {
	// DryRun prints the plan only. Apply remediates (as --apply), and is
	// taken only when the config says enforce.mode: apply: an event asks
	// for less than the config allows, never more. Neither: the config's
	// enforce.mode decides. Both: the apply preview (as --apply
	// --dry-run): what apply would do now, with nothing sent, changed or
	// recorded, whatever enforce.mode says.
	DryRun bool `json:"dry_run"`
	Apply  bool `json:"apply"`
	// AsOf evaluates at another time (RFC 3339 or YYYY-MM-DD), in a dry
	// run only: the event never moves the clock of a run that records what
	// it told or did, let alone of one that acts.
	AsOf string `json:"as_of"`
	// Accounts limits the run to these account IDs.
	Accounts []string `json:"accounts"`
}

// Summary is what the function returns.
type Summary struct {
	Schema   string           `json:"schema"`
	RunID    string           `json:"run_id"`
	Mode     string           `json:"mode"`
	AsOf     time.Time        `json:"as_of"`
	Accounts []report.Account `json:"accounts"`
	Findings int              `json:"findings"`
	Sent     int              `json:"sent"`
	Failed   int              `json:"failed"`
	// ActionsDone, ActionsSkipped and ActionsFailed count remediation.
	ActionsDone    int `json:"actions_done"`
	ActionsSkipped int `json:"actions_skipped"`
	ActionsFailed  int `json:"actions_failed"`
	// Guards are the accounts a guard left unchanged.
	Guards []string `json:"guards"`
	// Stopped is why the emergency stop kept the run from acting (absent:
	// it did not).
	Stopped string `json:"stopped,omitempty"`
	// Interrupted says that a signal (the runtime's SIGTERM) stopped the
	// run, and what it left for the next one (absent: none did).
	Interrupted string `json:"interrupted,omitempty"`
	// NotReached lists what the deadline cut short: accounts not scanned,
	// actions not started, messages not sent (all tried again on the next
	// run).
	NotReached []string `json:"not_reached"`
	Notes      []string `json:"notes"`
}

// ErrAsOf refuses an event with as_of but without dry_run: a run that
// records what it told or did runs on the function's clock, always. A run
// that acts would act early; a notify run would record reminders as sent
// on a day of the caller's choosing and silence owners until then.
var ErrAsOf = errors.New(`event: as_of is taken only with "dry_run": true: a run that sends, acts or records runs on the function's clock; ` +
	`nothing was done. Leave as_of out, or add "dry_run": true to see what keywarden would do at that time`)

// ErrApply refuses an event that asks a run to act when the config does
// not (enforce.mode is not apply): whoever may invoke the function may ask
// a run to do less than its config allows, never more.
var ErrApply = errors.New(`event: apply is taken only when the config says enforce.mode: apply (an event may ask a run to do less ` +
	`than its config allows, never more); nothing was done. Set enforce.mode: apply in the config to let runs act, ` +
	`or add "dry_run": true to see what apply would do`)

// SummarySchema identifies the function's answer.
const SummarySchema = "keywarden.lambda/v1"

// Deps are what the handler needs from outside.
type Deps struct {
	Getenv        func(string) string
	LoadAWSConfig func(ctx context.Context) (aws.Config, error)
	Now           func() time.Time
	Logs          io.Writer
	// Margin is DefaultMargin when zero.
	Margin time.Duration
	// Stop, when set, ends at the runtime's SIGTERM (run.OnSignals): the
	// invocation's run starts no new work, finishes and records what is
	// under way, and records itself as interrupted.
	Stop context.Context
}

// Handler runs keywarden once per invocation. The config is loaded by
// the first invocation that succeeds in loading it, and kept for the
// container's life; an invocation that fails to load it (SSM throttled, S3
// unreachable) fails, and the next one tries again.
type Handler struct {
	deps Deps
	log  *slog.Logger

	mu  sync.Mutex // held while the config is loaded
	cfg *config.Config
}

// New returns a handler; logs are JSON lines (log/slog) on deps.Logs.
func New(deps Deps) *Handler {
	if deps.Margin == 0 {
		deps.Margin = DefaultMargin
	}
	return &Handler{deps: deps, log: slog.New(slog.NewJSONHandler(deps.Logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
}

// Invoke handles one invocation.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (*Summary, error) {
	ev, err := parseEvent(payload)
	if err != nil {
		return nil, err
	}
	now := h.deps.Now().UTC()
	asOf := now
	if ev.AsOf != "" {
		if asOf, err = run.ParseTime(ev.AsOf); err != nil {
			return nil, fmt.Errorf("event: as_of %w", err)
		}
	}
	// Refused before anything is read, the config included: whatever it
	// says, the event cannot move the clock of a run that records.
	if ev.AsOf != "" && !ev.DryRun {
		return nil, ErrAsOf
	}
	cfg, err := h.config(ctx)
	if err != nil {
		return nil, err
	}
	// The event may ask for less than the config allows, never more.
	if ev.Apply && !ev.DryRun && cfg.Enforce.Mode != config.ModeApply {
		return nil, ErrApply
	}
	// Stop working (scanning, remediating) a margin before the function's
	// deadline — the margin, or a fifth of the time left when that is less
	// — and the whole run a quarter of the margin before it, so that it can
	// record what it did, tell it, and answer.
	runCtx, work := ctx, time.Time{}
	if dl, ok := ctx.Deadline(); ok {
		margin := min(h.deps.Margin, time.Until(dl)/5)
		work = dl.Add(-margin)
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, dl.Add(-margin/4))
		defer cancel()
	}
	// The runtime's SIGTERM stops the run as a signal stops the CLI's.
	if h.deps.Stop != nil {
		var cancel context.CancelCauseFunc
		runCtx, cancel = context.WithCancelCause(runCtx)
		defer cancel(nil)
		defer context.AfterFunc(h.deps.Stop, func() { cancel(context.Cause(h.deps.Stop)) })()
	}
	h.log.Info("keywarden run starting", "as_of", asOf, "dry_run", ev.DryRun, "apply", ev.Apply, "accounts", ev.Accounts)
	res, err := run.Run(runCtx, run.RunOptions{
		Scan: run.ScanOptions{Config: cfg, AsOf: asOf, Now: now, Accounts: ev.Accounts,
			LoadAWSConfig: h.deps.LoadAWSConfig, Logger: h.log},
		DryRun:       ev.DryRun,
		Apply:        ev.Apply,
		Getenv:       h.deps.Getenv,
		WorkDeadline: work,
		Clock:        func() time.Time { return h.deps.Now().UTC() },
	})
	if err != nil {
		h.log.Error("keywarden run failed", "error", err)
		return nil, err
	}
	s := summarize(res, !work.IsZero() && !time.Now().Before(work))
	h.log.Info("keywarden run finished", "run_id", s.RunID, "mode", s.Mode, "findings", s.Findings, "sent", s.Sent,
		"failed", s.Failed, "actions_done", s.ActionsDone, "not_reached", len(s.NotReached))
	if res.Err != nil {
		h.log.Error("some notifications or actions failed; they are tried again on the next run", "error", res.Err)
	}
	if res.Interrupted != "" {
		h.log.Warn("keywarden run interrupted", "reason", res.Interrupted)
	}
	return s, nil
}

func summarize(res *run.Result, deadline bool) *Summary {
	s := &Summary{Schema: SummarySchema, RunID: res.RunID, Mode: string(res.Mode), AsOf: res.AsOf, Accounts: res.Accounts,
		Findings: res.Summary.Findings, Sent: res.Sent, Failed: res.Failed, ActionsDone: res.ActionsDone,
		ActionsSkipped: res.ActionsSkipped, ActionsFailed: res.ActionsFailed, Guards: []string{}, Stopped: res.Stopped,
		Interrupted: res.Interrupted, NotReached: []string{}, Notes: res.Notes}
	for _, g := range res.Plan.Guards {
		s.Guards = append(s.Guards, g.Account)
	}
	if deadline {
		for _, a := range res.Accounts {
			if a.Status != report.StatusOK {
				s.NotReached = append(s.NotReached, "account "+a.ID+": "+a.Error)
			}
		}
		for _, a := range res.Plan.Actions {
			if a.Status == plan.ActionPlanned && a.ID == "" { // not started
				s.NotReached = append(s.NotReached, "action: "+a.Line()+": "+a.Reason)
			}
		}
		for _, d := range res.Deliveries {
			if d.Status == run.DeliveryFailed || d.Status == run.DeliveryNotSent {
				s.NotReached = append(s.NotReached, fmt.Sprintf("%s message to %s: %s", d.Kind, strings.Join(d.To, ", "), d.Error))
			}
		}
	}
	return s
}

// parseEvent reads the payload: the overrides themselves, or an EventBridge
// event whose detail holds them. An empty payload is an empty event.
func parseEvent(payload json.RawMessage) (Event, error) {
	var ev Event
	if len(bytes.TrimSpace(payload)) == 0 || string(bytes.TrimSpace(payload)) == "null" {
		return ev, nil
	}
	var envelope struct {
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(payload, &envelope); err == nil && envelope.DetailType != "" {
		payload = envelope.Detail
		if len(payload) == 0 || string(payload) == "{}" {
			return ev, nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return ev, fmt.Errorf("event: %w (want {\"dry_run\", \"apply\", \"as_of\", \"accounts\"}, all optional)", err)
	}
	return ev, nil
}

// config is the container's config: the one kept, else loaded now (and
// kept only when it loaded).
func (h *Handler) config(ctx context.Context) (*config.Config, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cfg == nil {
		cfg, err := h.loadConfig(ctx)
		if err != nil {
			return nil, err
		}
		h.cfg = cfg
	}
	return h.cfg, nil
}

// loadConfig reads the config from the one environment variable set.
func (h *Handler) loadConfig(ctx context.Context) (*config.Config, error) {
	inline, param, uri := h.deps.Getenv(EnvConfig), h.deps.Getenv(EnvConfigSSM), h.deps.Getenv(EnvConfigS3)
	set := 0
	for _, v := range []string{inline, param, uri} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("set exactly one of %s (the YAML), %s (an SSM parameter name) or %s (s3://BUCKET/KEY); %d are set",
			EnvConfig, EnvConfigSSM, EnvConfigS3, set)
	}
	var src, name string
	var data []byte
	switch {
	case inline != "":
		src, name, data = "inline", EnvConfig, []byte(inline)
	case param != "":
		cfg, err := h.deps.LoadAWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param), WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("read the config from SSM parameter %s (%s): %w", param, EnvConfigSSM, err)
		}
		src, name, data = "ssm", "ssm:"+param, []byte(aws.ToString(out.Parameter.Value))
	default:
		bucket, key, err := awsapi.ParseS3URL(uri)
		if err != nil {
			return nil, fmt.Errorf("%s %w", EnvConfigS3, err)
		}
		cfg, err := h.deps.LoadAWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		out, err := s3.NewFromConfig(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, fmt.Errorf("read the config from %s (%s): %w", uri, EnvConfigS3, err)
		}
		defer out.Body.Close()
		if data, err = config.ReadLimited(out.Body); err != nil { // config.Parse refuses more than config.MaxFileSize
			return nil, fmt.Errorf("read the config from %s: %w", uri, err)
		}
		src, name = "s3", uri
	}
	cfg, err := config.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if u, err := state.ParseURL(cfg.State.URL); err == nil && u.Scheme == state.SchemeSQLite {
		h.log.Warn("state.url is a SQLite file: in Lambda it is lost with the container; use dynamodb://TABLE", "state", cfg.State.URL)
	}
	h.log.Info("config loaded", "source", src, "name", name)
	return cfg, nil
}

// Detect reports whether the process was started by the Lambda runtime.
func Detect() bool { return os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" }

// Main serves the handler to the Lambda runtime; it does not return.
// stop ends at the runtime's SIGTERM (Deps.Stop).
func Main(stop context.Context) {
	h := New(Deps{Getenv: os.Getenv, LoadAWSConfig: LoadAWSConfig, Now: time.Now, Logs: os.Stderr, Stop: stop})
	awslambda.Start(h.Invoke)
}

// LoadAWSConfig is the function's SDK configuration: the execution role's
// credentials, the function's region, standard retries, per-attempt timeouts.
func LoadAWSConfig(ctx context.Context) (aws.Config, error) {
	return awsapi.LoadConfig(ctx, awsapi.Options{})
}
