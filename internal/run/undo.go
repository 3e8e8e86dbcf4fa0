package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/accounts"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
)

// UndoOptions configure `keywarden undo`.
type UndoOptions struct {
	IDs []string
	// Run, when set, undoes every action this run made (RunActions), after
	// IDs.
	Run   string
	Store state.Store
	// Config says how to reach other accounts (accounts.list role ARNs,
	// accounts.organization.role_name) and where keywarden may act
	// (enforce.allowed_accounts: an action elsewhere is not undone); nil:
	// the caller's account only, unchecked.
	Config *config.Config
	// LoadAWSConfig loads the caller's SDK configuration.
	LoadAWSConfig func(ctx context.Context) (aws.Config, error)
	// Clients, when set, replaces the clients built from LoadAWSConfig
	// (tests).
	Clients func(ctx context.Context, account string) (remediate.IAM, error)
	// AuditFile is enforce.audit_file ("": none).
	AuditFile string
	Now       time.Time
	Logger    *slog.Logger
}

// NoteUndoAgain is what undo says after re-enabling a key: the next run
// disables it again unless something changes.
const NoteUndoAgain = "the next keywarden run disables a re-enabled key again if it is still past its limit: rotate it, or add an exemption (with a reason and an until date) first"

// Undo re-enables the keys that the recorded actions IDs disabled. It
// returns the undo records; the error joins what could not be undone.
func Undo(ctx context.Context, o UndoOptions) ([]state.Action, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clients := o.Clients
	if clients == nil {
		var err error
		if clients, err = accountClients(ctx, o.LoadAWSConfig, o.Config); err != nil {
			return nil, err
		}
	}
	if o.Config != nil {
		// Remediation acts in allowed accounts only, and so does undo: the
		// policy keywarden iam-policy prints grants no change elsewhere.
		inAllowed := clients
		clients = func(ctx context.Context, account string) (remediate.IAM, error) {
			if !slices.Contains(o.Config.Enforce.AllowedAccounts, account) {
				return nil, fmt.Errorf("account %s is not in enforce.allowed_accounts: keywarden changes nothing there; add it to undo this action", account)
			}
			return inAllowed(ctx, account)
		}
	}
	ids := o.IDs
	if o.Run != "" {
		more, err := RunActions(ctx, o.Store, o.Run)
		if err != nil {
			return nil, err
		}
		ids = append(slices.Clone(ids), more...)
	}
	e := &remediate.Executor{Clients: clients, Audit: o.Store, RunID: "undo-" + newRunID(o.Now), AsOf: o.Now, Logger: log}
	var auditErr error
	if o.AuditFile != "" {
		w, closeFn, err := openAuditFile(o.AuditFile)
		if err != nil {
			return nil, fmt.Errorf("%w; nothing was changed", err)
		}
		defer closeFn()
		e.OnRecord = func(a state.Action) {
			if err := w(a); err != nil && auditErr == nil {
				auditErr = err
			}
		}
	}
	recs, err := e.Undo(ctx, ids)
	if auditErr != nil {
		log.Error("cannot write the audit file", "error", auditErr)
	}
	return recs, err
}

// accountClients returns IAM clients for the caller's own account and,
// through the role the config names, for the other accounts it scans.
func accountClients(ctx context.Context, load func(ctx context.Context) (aws.Config, error), cfg *config.Config) (func(context.Context, string) (remediate.IAM, error), error) {
	base, err := load(ctx)
	if err != nil {
		return nil, err
	}
	stsClient := sts.NewFromConfig(base)
	var want string
	if cfg != nil {
		want = cfg.Accounts.Partition
	}
	caller, partition, err := accounts.Caller(ctx, stsClient, want)
	var wrong *accounts.PartitionError
	switch {
	case errors.As(err, &wrong):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("check AWS credentials: %w", err)
	}
	clients := map[string]remediate.IAM{}
	return func(ctx context.Context, account string) (remediate.IAM, error) {
		if c, ok := clients[account]; ok {
			return c, nil
		}
		t := accounts.Target{ID: account}
		if account != caller {
			if cfg != nil {
				for _, l := range cfg.Accounts.List {
					if l.ID == account {
						t.RoleARN, t.ExternalID = l.RoleARN, l.ExternalID
					}
				}
				if o := cfg.Accounts.Organization; o != nil && t.RoleARN == "" {
					t.RoleARN = accounts.RoleARN(partition, account, o.RoleName)
				}
			}
			if t.RoleARN == "" {
				return nil, fmt.Errorf("the action is in account %s, but the credentials are for account %s and the config names no role for it: "+
					"run keywarden undo with credentials for %s (for example AWS_PROFILE=…), or with the config that scanned it (--config)", account, caller, account)
			}
		}
		c := accounts.Config(base, t, stsClient, cmp.Or(sessionName(cfg), accounts.DefaultSessionName))
		if err := accounts.Check(ctx, c, t); err != nil {
			return nil, err
		}
		clients[account] = iam.NewFromConfig(c)
		return clients[account], nil
	}, nil
}

func sessionName(cfg *config.Config) string {
	if cfg == nil {
		return ""
	}
	return cfg.Accounts.SessionName
}

// RunActions lists the IDs of the actions run made — done, every kind —
// oldest first: what `keywarden undo --run` undoes (a disable), or says
// cannot be undone (a delete, a removed password). Actions it decided
// against (skipped), failed or left unfinished changed nothing.
func RunActions(ctx context.Context, store state.Store, run string) ([]string, error) {
	recs, err := store.Actions(ctx, state.ActionFilter{Run: run})
	if err != nil {
		return nil, fmt.Errorf("read the actions of run %s: %w", run, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("run %s recorded no action (see keywarden history --runs)", run)
	}
	var ids []string
	for _, r := range slices.Backward(recs) {
		if r.Status == state.ActionDone {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("run %s made no change (%d recorded actions, none done), so there is nothing to undo", run, len(recs))
	}
	return ids, nil
}
