package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/termtable"
)

// HistoryOptions are the parsed flags of `keywarden history`.
type HistoryOptions struct {
	ConfigFile string
	State      string
	Format     string
	Output     string
	Accounts   []string
	User       string
	KeyID      string
	Status     string
	Run        string
	Since      string
	Limit      int
	Notices    bool
	Runs       bool
	Region     string
	Profile    string
}

// NewCmdHistory builds `keywarden history`. runF replaces the behaviour in
// tests.
func NewCmdHistory(f *Factory, runF func(context.Context, *HistoryOptions) error) *cobra.Command {
	o := &HistoryOptions{}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show the recorded actions (and, with --notices or --runs, notifications and runs)",
		Long: `History reads keywarden's state (--state, else state.url of --config, else
sqlite://keywarden.db) and prints the recorded actions, most recent first: every
disable, delete, password removal and undo, planned, done, skipped (with the
reason) or failed. It changes nothing.

--format json prints a list of records, each with at least id, account, user,
key_id, action, status (planned, done, skipped or failed), reason and at.
--notices lists the open notices instead (what was told to whom, and when, for
findings not yet resolved), --runs the runs.`,
		Example: `  keywarden history
  keywarden history --account 123456789012 --status done --since 2026-11-01
  keywarden history --format json | jq '.[] | select(.action == "disable")'
  keywarden history --notices --user alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return historyRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.ConfigFile, "config", "", "config file whose state.url to read (default: ./keywarden.yaml if present)")
	fl.StringVar(&o.State, "state", "", "state to read: sqlite://PATH or dynamodb://TABLE (default: state.url, else "+state.DefaultURL+")")
	fl.StringVar(&o.Region, "region", "", "AWS region of a DynamoDB state (default: the SDK's)")
	fl.StringVar(&o.Profile, "profile", "", "AWS shared config profile for a DynamoDB state (default: the SDK's, AWS_PROFILE)")
	fl.StringVar(&o.Format, "format", "", "output format: table or json (default: table on a terminal, json otherwise)")
	fl.StringVarP(&o.Output, "output", "o", "", "write to this file instead of stdout")
	fl.StringSliceVar(&o.Accounts, "account", nil, "only this account ID (repeatable)")
	fl.StringVar(&o.User, "user", "", "only this IAM user")
	fl.StringVar(&o.KeyID, "key-id", "", "only this access key ID")
	fl.StringVar(&o.Status, "status", "", "only actions with this status: planned, done, skipped or failed")
	fl.StringVar(&o.Run, "run", "", "only actions of this run ID")
	fl.StringVar(&o.Since, "since", "", "only records from this time on (RFC 3339, or YYYY-MM-DD)")
	fl.IntVar(&o.Limit, "limit", 0, "at most this many records, the most recent (0: all)")
	fl.BoolVar(&o.Notices, "notices", false, "list the open notices (who was told what, and when) instead of actions")
	fl.BoolVar(&o.Runs, "runs", false, "list the runs instead of actions")
	return cmd
}

func historyRun(ctx context.Context, f *Factory, o *HistoryOptions) error {
	if o.Notices && o.Runs {
		return usageError(fmt.Errorf("--notices and --runs: pick one"))
	}
	var since time.Time
	if o.Since != "" {
		t, err := parseTimeFlag("--since", o.Since, time.Time{})
		if err != nil {
			return usageError(err)
		}
		since = t
	}
	switch st := state.ActionStatus(o.Status); st {
	case "", state.ActionPlanned, state.ActionDone, state.ActionSkipped, state.ActionFailed:
	default:
		return usageError(fmt.Errorf("--status %q: want planned, done, skipped or failed", o.Status))
	}
	if o.Limit < 0 {
		return usageError(fmt.Errorf("--limit %d: want 0 or more", o.Limit))
	}
	format, err := tableOrJSON(f, o.Format, o.Output)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(f, o.ConfigFile)
	if err != nil {
		return err
	}
	store, url, err := openStateFor(ctx, f, cfg, o.State, true, awsapi.Options{Region: o.Region, Profile: o.Profile})
	if err != nil {
		return err
	}
	defer store.Close()
	f.Logger().Debug("reading history", "state", url)

	var records any
	var table func(w io.Writer, width int) error
	switch {
	case o.Runs:
		runs, err := store.Runs(ctx, o.Limit)
		if err != nil {
			return err
		}
		records, table = nonNil(runs), func(w io.Writer, width int) error { return runsTable(w, runs, width) }
	case o.Notices:
		ns, err := store.Notices(ctx, o.Accounts)
		if err != nil {
			return err
		}
		var kept []state.Notice
		for _, n := range ns {
			if (o.User == "" || n.User == o.User) && (o.KeyID == "" || n.KeyID == o.KeyID) && (since.IsZero() || !n.UpdatedAt.Before(since)) {
				kept = append(kept, n)
			}
		}
		if o.Limit > 0 && len(kept) > o.Limit {
			kept = kept[:o.Limit]
		}
		records, table = nonNil(kept), func(w io.Writer, width int) error { return noticesTable(w, kept, width) }
	default:
		as, err := store.Actions(ctx, state.ActionFilter{Accounts: o.Accounts, User: o.User, KeyID: o.KeyID,
			Status: state.ActionStatus(o.Status), Run: o.Run, Since: since, Limit: o.Limit})
		if err != nil {
			return err
		}
		records, table = nonNil(as), func(w io.Writer, width int) error { return actionsTable(w, as, width) }
	}
	return writeTableOrJSON(f, format, o.Output, records, table)
}

// writeTableOrJSON writes v as indented JSON, or table, to --output (a
// file: whole lines) or stdout (fitted to its width).
func writeTableOrJSON(f *Factory, format, output string, v any, table func(w io.Writer, width int) error) error {
	write := func(w io.Writer, width int) error {
		if format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		return table(w, width)
	}
	if output == "" {
		return write(f.Out, f.outputWidth())
	}
	return writeFileAtomic(output, func(w io.Writer) error { return write(w, 0) })
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// tableOrJSON resolves --format for commands that write a table or JSON.
func tableOrJSON(f *Factory, format, output string) (string, error) {
	switch strings.ToLower(format) {
	case "table", "json":
		return strings.ToLower(format), nil
	case "":
		if output == "" && f.IsTerminal(f.Out) {
			return "table", nil
		}
		if strings.HasSuffix(strings.ToLower(output), ".txt") {
			return "table", nil
		}
		return "json", nil
	}
	return "", usageError(fmt.Errorf("--format %q: want table or json", format))
}

// openStateFor opens the state named by --state, else cfg's state.url,
// else the default; a DynamoDB state with the AWS settings aws. It says on
// stderr which state it reads ("state: sqlite://keywarden.db"). History
// and undo read what runs recorded, so they never create a state: a
// SQLite file that does not exist is said to be missing, and then read as
// empty (readOnly: history) or an error (undo, which writes: nothing to
// undo). An
// empty or damaged file stays the store's own error.
func openStateFor(ctx context.Context, f *Factory, cfg *config.Config, stateURL string, readOnly bool, aws awsapi.Options) (state.Store, string, error) {
	if err := checkStateFlag(stateURL); err != nil {
		return nil, "", err
	}
	url := cmp.Or(stateURL, cfg.State.URL, state.DefaultURL)
	if u, err := state.ParseURL(url); err == nil && u.Scheme == state.SchemeSQLite {
		if _, err := os.Stat(u.Path); errors.Is(err, os.ErrNotExist) {
			missing := fmt.Sprintf("%s does not exist: no run has recorded anything there; check that --state (or state.url in the config) names the state keywarden run uses", u.Path)
			if !readOnly {
				return nil, url, fmt.Errorf("state %s: %s", url, missing)
			}
			fmt.Fprintf(f.ErrOut, "state: %s is missing: %s\n", url, missing)
			return memstore.New(), url, nil
		}
	}
	fmt.Fprintf(f.ErrOut, "state: %s\n", url)
	s, err := run.OpenStateWith(ctx, url, readOnly, func(ctx context.Context) (awssdk.Config, error) { return f.loadAWSConfig(ctx, aws) })
	return s, url, err
}

// checkStateFlag checks --state (state.ParseURL); empty is fine.
func checkStateFlag(s string) error {
	if s == "" {
		return nil
	}
	if _, err := state.ParseURL(s); err != nil {
		return usageError(fmt.Errorf("--state %q: %w", s, err))
	}
	return nil
}

func actionsTable(w io.Writer, as []state.Action, width int) error {
	rows := make([][]string, len(as))
	for i, a := range as {
		reason := clean(a.Reason)
		if !a.ForcedAsOf.IsZero() {
			reason = "[acted at the forced as-of " + a.ForcedAsOf.Format(time.RFC3339) + "] " + reason
		}
		rows[i] = []string{a.At.Format(time.RFC3339), a.ID, a.Account, clean(a.User), cmp.Or(a.KeyID, a.Credential), a.Kind,
			string(a.Status), cmp.Or(a.Before, "-") + "→" + cmp.Or(a.After, "-"), reason}
	}
	return writeTable(w, actionColumns, rows, "(no actions recorded)", width)
}

func noticesTable(w io.Writer, ns []state.Notice, width int) error {
	rows := make([][]string, len(ns))
	for i, n := range ns {
		rows[i] = []string{cmp.Or(n.LastDay, "(claimed)"), clean(n.Audience), n.Account, clean(n.User), n.KeyID, n.Rule,
			fmt.Sprint(n.Stage), fmt.Sprint(n.Count), n.FirstDay, clean(n.Finding)}
	}
	// FINDING is the finding's ID: two notices of one user, key and rule
	// (a key's two slots, an account that failed) differ by it.
	return writeTable(w, noticeColumns, rows, "(no open notices)", width)
}

func runsTable(w io.Writer, rs []state.Run, width int) error {
	rows := make([][]string, len(rs))
	for i, r := range rs {
		asOf := r.AsOf.Format(time.RFC3339)
		if !r.ForcedAsOf.IsZero() {
			asOf += " (forced)"
		}
		rows[i] = []string{r.StartedAt.Format(time.RFC3339), r.ID, r.Mode, asOf, fmt.Sprint(r.Accounts),
			fmt.Sprint(r.Findings), fmt.Sprint(r.Sent), fmt.Sprint(r.Failed), clean(r.Error)}
	}
	return writeTable(w, runColumns, rows, "(no runs recorded)", width)
}

// The history tables' columns: names and reasons wrap; the IDs and the
// least read columns are left out first when a terminal is too narrow.
var (
	actionColumns = []termtable.Column{{Header: "AT"}, {Header: "ID", Drop: 1}, {Header: "ACCOUNT"}, {Header: "USER", Wrap: true},
		{Header: "KEY", Wrap: true}, {Header: "ACTION"}, {Header: "STATUS"}, {Header: "BEFORE→AFTER", Drop: 2}, {Header: "REASON", Prose: true}}
	noticeColumns = []termtable.Column{{Header: "LAST TOLD"}, {Header: "TO", Wrap: true}, {Header: "ACCOUNT"}, {Header: "USER", Wrap: true},
		{Header: "KEY", Wrap: true}, {Header: "RULE", Wrap: true}, {Header: "STAGE", Drop: 2}, {Header: "TIMES", Drop: 3}, {Header: "FIRST TOLD", Drop: 1},
		{Header: "FINDING", Wrap: true}}
	runColumns = []termtable.Column{{Header: "STARTED"}, {Header: "RUN", Wrap: true}, {Header: "MODE"}, {Header: "AS OF"},
		{Header: "ACCOUNTS", Drop: 1}, {Header: "FINDINGS"}, {Header: "SENT"}, {Header: "FAILED"}, {Header: "ERROR", Prose: true}}
)

// writeTable writes a table fitted to width (termtable; 0: lines whole):
// the header, the rows (cells already made safe for a terminal), or empty
// when there are none.
func writeTable(w io.Writer, cols []termtable.Column, rows [][]string, empty string, width int) error {
	if len(rows) == 0 {
		if err := termtable.Write(w, cols, nil, 0); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w, empty)
		return err
	}
	return termtable.Write(w, cols, rows, width)
}
