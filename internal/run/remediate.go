package run

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/state"
)

// accountSet keeps, for each account a scan read, what remediation needs:
// the AWS configuration that read it and its count of active keys.
type accountSet struct {
	scan ScanOptions

	mu         sync.Mutex
	configs    map[string]aws.Config
	clients    map[string]remediate.IAM
	activeKeys map[string]int
	// activeOther counts active signing certificates and service-specific
	// credentials (max_fraction counts them with the keys).
	activeOther map[string]int
	clocks      map[string]accountClock
	// base is the caller's configuration, as the scan loaded it (nil
	// before, or for an offline report).
	base *aws.Config
}

func newAccountSet(o ScanOptions) *accountSet {
	return &accountSet{scan: o, configs: map[string]aws.Config{}, clients: map[string]remediate.IAM{}, activeKeys: map[string]int{}, activeOther: map[string]int{},
		clocks: map[string]accountClock{}}
}

// options are the scan's options, with hooks that fill the set (and still
// call the caller's own hooks).
func (s *accountSet) options() ScanOptions {
	o := s.scan
	onAccount, onSnapshots := o.OnAccount, o.OnSnapshots
	if load := o.LoadAWSConfig; load != nil {
		o.LoadAWSConfig = func(ctx context.Context) (aws.Config, error) {
			cfg, err := load(ctx)
			if err == nil {
				s.mu.Lock()
				s.base = &cfg
				s.mu.Unlock()
			}
			return cfg, err
		}
	}
	o.OnAccount = func(id string, cfg aws.Config) {
		s.mu.Lock()
		s.configs[id] = cfg
		s.mu.Unlock()
		if onAccount != nil {
			onAccount(id, cfg)
		}
	}
	o.OnSnapshots = func(snaps []*inventory.Snapshot) {
		s.mu.Lock()
		for _, snap := range snaps {
			n, other := 0, 0
			for _, u := range snap.Users {
				for _, k := range u.AccessKeys {
					if k.Active {
						n++
					}
				}
				for _, c := range u.SigningCerts {
					if c.Active {
						other++
					}
				}
				for _, c := range u.ServiceCredentials {
					if c.Status == inventory.StatusActive {
						other++
					}
				}
			}
			s.activeKeys[snap.AccountID] = n
			s.activeOther[snap.AccountID] = other
			s.clocks[snap.AccountID] = clockOf(snap)
		}
		s.mu.Unlock()
		if onSnapshots != nil {
			onSnapshots(snaps)
		}
	}
	return o
}

// self lists, by account, the access key keywarden signs its calls with
// there, and the caller's own (which signs the AssumeRole into a member
// account, and may be a user's key in it): never acted on.
func (s *accountSet) self(ctx context.Context, log *slog.Logger) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	caller := s.callerKey(ctx, log)
	out := map[string][]string{}
	for id, cfg := range s.configs {
		if caller != "" {
			out[id] = append(out[id], caller)
		}
		if cfg.Credentials == nil {
			continue
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			log.Warn("cannot tell which access key keywarden runs with", "account", id, "error", err)
			continue
		}
		out[id] = append(out[id], creds.AccessKeyID)
	}
	return out
}

// client is the IAM client of a scanned account.
func (s *accountSet) client(_ context.Context, account string) (remediate.IAM, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[account]; ok {
		return c, nil
	}
	cfg, ok := s.configs[account]
	if !ok {
		return nil, fmt.Errorf("account %s was not scanned in this run: nothing is changed there", account)
	}
	c := iam.NewFromConfig(cfg)
	s.clients[account] = c
	return c, nil
}

// targets are the Secrets Manager and SSM clients of a scanned account,
// from the configuration that scanned it: where rotations write.
func (s *accountSet) targets(_ context.Context, account string) (remediate.Targets, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, ok := s.configs[account]
	if !ok {
		return remediate.Targets{}, fmt.Errorf("account %s was not scanned in this run: nothing is written there", account)
	}
	return remediate.Targets{Secrets: secretsmanager.NewFromConfig(cfg), Params: ssm.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg)}, nil
}

// remediate reconciles what killed runs left unfinished in the scanned
// accounts, carries out the plan's actions, and builds the plan again with
// their outcomes, so that the messages say what was done.
func (r *runner) remediate(ctx context.Context) {
	r.in.Executed = r.carryOut(ctx)
	r.errs = append(r.errs, r.stateErrs.unreported(r.errs)...)
	r.rereadNotices(ctx)
	r.res.Plan = plan.Build(r.in)
	for _, a := range r.res.Plan.Actions {
		switch {
		case a.Status == plan.ActionDone, a.Status == plan.ActionPlanned && a.ID != "":
			r.res.ActionsDone++ // planned once carried out: what a dry run would do
		case a.Status == plan.ActionPlanned:
			r.res.ActionsNotStarted++ // the run was stopped first
		case a.Status == plan.ActionSkipped:
			r.res.ActionsSkipped++
		case a.Status == plan.ActionFailed:
			r.res.ActionsFailed++
			r.errs = append(r.errs, fmt.Errorf("%s %s of %s in account %s (action %s): %s",
				strings.ReplaceAll(a.Kind, "_", " "), a.Title, a.User, a.Account, a.ID, a.Reason))
		}
	}
}

// carryOut returns every action with its outcome (nil when none could be
// carried out), through what connect set up: a dry run carries them out
// against clients that change nothing, a state and an audit file that
// record nothing, leaves other runs' unfinished actions to the next real
// run, and reports what it would do as planned (wouldDo).
func (r *runner) carryOut(ctx context.Context) []plan.Action {
	e := &remediate.Executor{Clients: r.clients, Audit: r.store, RunID: r.id, AsOf: r.actAt, ForcedAsOf: r.forced, Now: r.clock,
		Grace: r.cfg.Enforce.GraceAfterDisable, Lease: r.o.Lease, Logger: r.log, Halt: r.work, Rotate: r.cfg.Rotate, Targets: r.targets}
	if name := r.cfg.Enforce.StopParameter; name != "" {
		e.Stop = r.stopCheck(name)
	}
	if path := r.cfg.Enforce.AuditFile; path != "" {
		write, closeFn, err := r.auditFile(path)
		if err != nil {
			err = fmt.Errorf("%w; nothing was changed", err)
			r.errs = append(r.errs, err)
			return notMade(r.res.Plan.Actions, err.Error())
		}
		defer closeFn()
		e.OnRecord = func(a state.Action) {
			if err := write(a); err != nil {
				r.errs = append(r.errs, err)
			}
		}
	}
	// Unfinished actions are reconciled where keywarden may act: it reads
	// and records nothing about credentials elsewhere; not by a run
	// stopped before it acts.
	var reconciled []plan.Action
	var ok []string
	for _, a := range r.res.Accounts {
		if a.Status == report.StatusOK && slices.Contains(r.cfg.Enforce.AllowedAccounts, a.ID) {
			ok = append(ok, a.ID)
		}
	}
	if r.reconcile && r.work.Err() == nil && len(ok) > 0 { // no accounts would be every account to the filter
		var err error
		if reconciled, err = e.Reconcile(ctx, ok, r.res.Plan.Actions); err != nil {
			r.errs = append(r.errs, err)
		}
	}
	// The plan retires the old keys of open rotations (its disable and
	// delete actions, RotationOf): remediation carries out planned
	// actions only.
	executed := e.Execute(ctx, r.res.Plan.Actions)
	executed = r.outcomes(executed)
	for _, a := range executed {
		if a.Status == plan.ActionDone {
			r.log.Info("action done", "action", a.ID, "account", a.Account, "user", a.User, "key_id", a.KeyID, "kind", a.Kind,
				"done", a.Done, "reason", a.Reason)
		}
	}
	return append(executed, reconciled...)
}

// asCarriedOut reports actions as remediation carried them out (a real
// run's outcomes).
func asCarriedOut(actions []plan.Action) []plan.Action { return actions }

// notMade is actions as a run that could not act reports them: each
// planned one failed with reason, so that no message says it is done or
// is about to be.
func notMade(actions []plan.Action, reason string) []plan.Action {
	out := slices.Clone(actions)
	for i := range out {
		if out[i].Status == plan.ActionPlanned {
			out[i].Status, out[i].Reason = plan.ActionFailed, reason
		}
	}
	return out
}

// openAuditFile opens enforce.audit_file for appending: write adds one
// record as a JSON line.
func openAuditFile(path string) (write func(state.Action) error, closeFn func() error, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open enforce.audit_file: %w", err)
	}
	enc := json.NewEncoder(f)
	return func(a state.Action) error {
		if err := enc.Encode(a); err != nil {
			return fmt.Errorf("write enforce.audit_file %s: %w", path, err)
		}
		return nil
	}, f.Close, nil
}
