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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/config"
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
}

func newAccountSet(o ScanOptions) *accountSet {
	return &accountSet{scan: o, configs: map[string]aws.Config{}, clients: map[string]remediate.IAM{}, activeKeys: map[string]int{}}
}

// options are the scan's options, with hooks that fill the set (and still
// call the caller's own hooks).
func (s *accountSet) options() ScanOptions {
	o := s.scan
	onAccount, onSnapshots := o.OnAccount, o.OnSnapshots
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
			n := 0
			for _, u := range snap.Users {
				for _, k := range u.AccessKeys {
					if k.Active {
						n++
					}
				}
			}
			s.activeKeys[snap.AccountID] = n
		}
		s.mu.Unlock()
		if onSnapshots != nil {
			onSnapshots(snaps)
		}
	}
	return o
}

// self lists, by account, the access key keywarden signs its calls with
// there: never acted on.
func (s *accountSet) self(ctx context.Context, log *slog.Logger) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for id, cfg := range s.configs {
		if cfg.Credentials == nil {
			continue
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			log.Warn("cannot tell which access key keywarden runs with", "account", id, "error", err)
			continue
		}
		out[id] = []string{creds.AccessKeyID}
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

// remediateAll reconciles what killed runs left unfinished in the scanned
// accounts, then carries out the plan's actions (in a dry run: decides
// them, changes and records nothing). It returns every action with its
// outcome, and the failures.
func remediateAll(ctx context.Context, o RunOptions, cfg *config.Config, accounts *accountSet, store state.Store, rep *report.Report,
	p *plan.Plan, runID string, clock func() time.Time, log *slog.Logger) ([]plan.Action, []error) {
	var errs []error
	clients := o.Clients
	if clients == nil {
		clients = accounts.client
	}
	e := &remediate.Executor{Clients: clients, Audit: store, DryRun: o.DryRun, RunID: runID, AsOf: o.Scan.AsOf, Now: clock,
		Grace: cfg.Enforce.GraceAfterDisable, Lease: o.Lease, Logger: log}
	if path := cfg.Enforce.AuditFile; path != "" && !o.DryRun {
		write, closeFn, err := openAuditFile(path)
		if err != nil {
			return nil, []error{fmt.Errorf("%w; nothing was changed", err)}
		}
		defer closeFn()
		e.OnRecord = func(a state.Action) {
			if err := write(a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Unfinished actions are reconciled where keywarden may act: it reads
	// and records nothing about credentials elsewhere.
	var ok []string
	for _, a := range rep.Accounts {
		if a.Status == report.StatusOK && slices.Contains(cfg.Enforce.AllowedAccounts, a.ID) {
			ok = append(ok, a.ID)
		}
	}
	var reconciled []plan.Action
	if len(ok) > 0 { // no accounts would be every account to the filter
		var err error
		if reconciled, err = e.Reconcile(ctx, ok); err != nil {
			errs = append(errs, err)
		}
	}
	executed := append(e.Execute(ctx, p.Actions), reconciled...)
	for _, a := range executed {
		if a.Status == plan.ActionFailed {
			errs = append(errs, fmt.Errorf("%s %s of %s in account %s (action %s): %s",
				strings.ReplaceAll(a.Kind, "_", " "), a.Title, a.User, a.Account, a.ID, a.Reason))
		}
	}
	return executed, errs
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
