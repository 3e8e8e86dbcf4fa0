package run

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
)

// UndoOptions configure `keywarden undo`.
type UndoOptions struct {
	IDs   []string
	Store state.Store
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
		if clients, err = callerClients(ctx, o.LoadAWSConfig); err != nil {
			return nil, err
		}
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
	recs, err := e.Undo(ctx, o.IDs)
	if auditErr != nil {
		log.Error("cannot write the audit file", "error", auditErr)
	}
	return recs, err
}

// callerClients returns IAM clients for the caller's own account (the
// one its credentials are in).
func callerClients(ctx context.Context, load func(ctx context.Context) (aws.Config, error)) (func(context.Context, string) (remediate.IAM, error), error) {
	cfg, err := load(ctx)
	if err != nil {
		return nil, err
	}
	cfg = awsapi.NewCounter().Instrument(cfg)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("check AWS credentials: %w", err)
	}
	caller := aws.ToString(id.Account)
	client := iam.NewFromConfig(cfg)
	return func(_ context.Context, account string) (remediate.IAM, error) {
		if account != caller {
			return nil, fmt.Errorf("the action is in account %s, but the credentials are for account %s: run keywarden undo with credentials for %s (for example AWS_PROFILE=…)",
				account, caller, account)
		}
		return client, nil
	}, nil
}
