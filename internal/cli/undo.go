package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
)

// UndoOptions are the parsed flags and arguments of `keywarden undo`.
type UndoOptions struct {
	IDs []string
	// Run undoes every action of that run (--run).
	Run        string
	ConfigFile string
	State      string
	Format     string
	Region     string
	Profile    string
}

// NewCmdUndo builds `keywarden undo`. runF replaces the behaviour in tests.
func NewCmdUndo(f *Factory, runF func(context.Context, *UndoOptions) error) *cobra.Command {
	o := &UndoOptions{}
	cmd := &cobra.Command{
		Use:   "undo ACTION_ID... | undo --run RUN_ID",
		Short: "Re-enable access keys that keywarden disabled",
		Long: `Undo re-enables the access keys that the recorded actions (see keywarden history)
disabled, or, with --run, every key one run disabled. Each key is re-checked
first: a key that is gone or already active is left alone. Every undo is recorded
like any action. Undo acts only in enforce.allowed_accounts, and
enforce.stop_parameter does not stop it.

Deleted keys and removed console passwords cannot be undone; undo says so, for
each such action, and what to do instead. The next keywarden run disables a re-enabled key again if it
is still past its limit: rotate it, or add an exemption first.

The credentials (AWS_PROFILE, --profile…) must be for the action's account.`,
		Example: `  keywarden history --status done
  keywarden undo 20261201-1a2b3c4d.3
  keywarden undo 20261201-1a2b3c4d.3 20261201-1a2b3c4d.4 --state sqlite:///var/lib/keywarden/state.db
  keywarden history --runs
  keywarden undo --run 20261201-1a2b3c4d`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.Run == "" && len(args) == 0:
				return usageError(errors.New("give the IDs of the actions to undo, or --run RUN_ID (see keywarden history)"))
			case o.Run != "" && len(args) > 0:
				return usageError(errors.New("give action IDs or --run RUN_ID, not both"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.IDs = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return undoRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Run, "run", "", "undo every action of this run (its ID: keywarden history --runs)")
	fl.StringVar(&o.ConfigFile, "config", "", "config file whose state.url and enforce.audit_file to use (default: ./keywarden.yaml if present)")
	fl.StringVar(&o.State, "state", "", "state: sqlite://PATH or dynamodb://TABLE (default: state.url, else "+state.DefaultURL+")")
	fl.StringVar(&o.Format, "format", "", "output format: table or json (default: table on a terminal, json otherwise)")
	fl.StringVar(&o.Region, "region", "", "AWS region for API calls (default: the SDK's, else "+awsapi.DefaultRegion+")")
	fl.StringVar(&o.Profile, "profile", "", "AWS shared config profile (default: the SDK's, AWS_PROFILE)")
	return cmd
}

func undoRun(ctx context.Context, f *Factory, o *UndoOptions) error {
	format, err := tableOrJSON(f, o.Format, "")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(f, o.ConfigFile)
	if err != nil {
		return err
	}
	store, _, err := openStateFor(ctx, f, cfg, o.State, false, awsapi.Options{Region: o.Region, Profile: o.Profile})
	if err != nil {
		return err
	}
	defer store.Close()
	recs, undoErr := run.Undo(ctx, run.UndoOptions{
		IDs:    o.IDs,
		Run:    o.Run,
		Store:  store,
		Config: cfg,
		LoadAWSConfig: func(ctx context.Context) (aws.Config, error) {
			return f.loadAWSConfig(ctx, awsapi.Options{Region: o.Region, Profile: o.Profile})
		},
		AuditFile: cfg.Enforce.AuditFile,
		Now:       f.Now().UTC(),
		Logger:    f.Logger(),
	})
	if err := writeUndo(f.Out, format, nonNil(recs)); err != nil {
		return err
	}
	for _, r := range recs {
		if r.Status == state.ActionDone {
			fmt.Fprintf(f.ErrOut, "keywarden: note: %s\n", run.NoteUndoAgain)
			break
		}
	}
	if undoErr != nil {
		return fmt.Errorf("undo:\n%w", undoErr)
	}
	return nil
}

func writeUndo(w io.Writer, format string, recs []state.Action) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	}
	for _, r := range recs {
		verb := map[state.ActionStatus]string{state.ActionDone: "re-enabled", state.ActionSkipped: "left alone", state.ActionFailed: "FAILED"}[r.Status]
		if _, err := fmt.Fprintf(w, "%s %s of %s in %s (undo of %s, recorded as %s): %s\n", verb, r.KeyID, clean(r.User), r.Account,
			r.UndoOf, r.ID, clean(r.Reason)); err != nil {
			return err
		}
	}
	return nil
}
