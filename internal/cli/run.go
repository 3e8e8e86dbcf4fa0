package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/termtable"
)

// RunOptions are the parsed flags of `keywarden run`: scan's, plus the
// mode and the state.
type RunOptions struct {
	ScanOptions
	State  string
	DryRun bool
	Apply  bool
	// ForceAsOf makes a run that acts act at --as-of, however far it is
	// from the wall clock.
	ForceAsOf bool
}

const runModesHelp = `Modes:
  keywarden run --dry-run  print the plan (every message with its recipients, every
                           action); send nothing, change nothing, record nothing
  keywarden run            send the notifications and record them; remediation is
                           only listed ("would disable")
  keywarden run --apply    also remediate, in enforce.allowed_accounts only: disable
                           keys past their disable stage, delete keys inactive for
                           enforce.grace_after_disable days, remove passwords where a
                           rule says remove_password; each credential is re-checked
                           first, every action recorded (keywarden history) and a
                           disable can be undone (keywarden undo ID).
                           enforce.mode: apply in the config does the same without
                           the flag
  keywarden run --apply --dry-run
                           the apply preview: what --apply would do now — the
                           allowed accounts, the guards, the window and each
                           credential's re-check (reads only) — sending,
                           changing and recording nothing. --dry-run always wins

The clock: a run that acts (--apply, or enforce.mode: apply) acts on the wall
clock. It takes --as-of only within 24 hours of it (what is evaluated moves;
the grace period, the window and the re-checks still count from the wall
clock); further off it is refused (exit 2) unless --force-as-of is given, which
acts at --as-of and is recorded in the run and every audit record. An account
whose own data contradicts the clock (its credential report generated, or a
key used, more than a day after it; or a report older than IAM keeps) is left
unchanged, as by a guard (exit 5).`

// NewCmdRun builds `keywarden run`. runF replaces the behaviour in tests.
func NewCmdRun(f *Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	o := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Scan, then tell owners and admins what is stale, once per reminder period",
		Long: `Run is the scheduled job: it scans (like keywarden scan), decides who must hear
what, tells them through the configured channels, and records what it told whom,
so nobody is told the same thing twice before notify.users.remind_every days
have passed, and a missed run never loses an alert.

` + runModesHelp + `

State (what was told, when) is kept at --state, else state.url, else
sqlite://keywarden.db in the working directory. Owner mail goes through
notify.users.via (ses, smtp, or the local outbox directory, the default); the
admin digest through notify.admins (email, SNS, Slack, a JSON webhook; else the
outbox).

The output is the plan and what was done: a table on a terminal, JSON
(keywarden.run/v1) otherwise or with --format json. A notification that failed
is reported (exit 1) and retried on the next run; the others are still sent.

Guards: an account where the planned changes exceed enforce.max_actions_per_run,
or touch more than enforce.max_fraction of its active keys, is left unchanged and
the admins are told (exit 5). Never the root user, never the key keywarden runs
with, never an exempt credential; outside enforce.window actions wait.

` + exitCodesHelp,
		Example: `  keywarden run --dry-run
  keywarden run --apply --dry-run
  keywarden run --state sqlite:///var/lib/keywarden/state.db
  keywarden run --as-of 2026-12-01 --dry-run --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the plan; send, change and record nothing")
	fl.BoolVar(&o.Apply, "apply", false, "also remediate, in enforce.allowed_accounts only (disable, delete after the grace period, remove passwords)")
	fl.BoolVar(&o.ForceAsOf, "force-as-of", false, "let a run that acts act at --as-of even when it is more than 24 hours from the wall clock (recorded in the run and every audit record)")
	fl.StringVar(&o.State, "state", "", "where to keep state: sqlite://PATH or dynamodb://TABLE (default: state.url, else "+state.DefaultURL+")")
	o.addFlags(fl, sourceHelp{asOf: "run as if it were this time, the cadence's day too", report: "evaluate this", account: "limit the run to this"})
	fl.StringVar(&o.Format, "format", "", "output format: table or json (default: table on a terminal, json otherwise)")
	fl.StringVarP(&o.Output, "output", "o", "", "write the output to this file instead of stdout")
	addReportingFlags(fl, &o.ScanOptions)
	return cmd
}

func runRun(ctx context.Context, f *Factory, o *RunOptions) error {
	log := f.Logger()
	if o.Apply && o.CredentialReport != "" {
		return usageError(errors.New("--apply changes live accounts; it cannot be used with --credential-report (an offline report has no account to act in)"))
	}
	src, err := o.resolve(f)
	if err != nil {
		return err
	}
	cfg := src.cfg
	if o.ForceAsOf {
		switch {
		case o.AsOf == "":
			return usageError(errors.New("--force-as-of needs --as-of: it makes a run that acts act at that time"))
		case !o.Apply && cfg.Enforce.Mode != config.ModeApply:
			return usageError(errors.New("--force-as-of is for a run that acts (--apply, or enforce.mode: apply); this run only evaluates at --as-of"))
		}
	}
	format, err := resolveFormat(f, o.Format, o.Output)
	if err != nil {
		return usageError(err)
	}
	if format != report.FormatTable && format != report.FormatJSON {
		return usageError(fmt.Errorf("--format %q: keywarden run writes table or json (use keywarden scan for the other report formats)", format))
	}
	failOn, err := parseFailOn(o.FailOn)
	if err != nil {
		return err
	}
	minSeverity, err := parseSeverity(o.Severity)
	if err != nil {
		return err
	}
	if err := checkStateFlag(o.State); err != nil {
		return err
	}
	templateDir := "."
	if file := configFileUsed(o.ConfigFile); file != "" {
		templateDir = filepath.Dir(file)
		// A broken template stops the run before anything is scanned, with
		// the config line and the template's line, as config check says it.
		if err := checkTemplates(file, cfg); err != nil {
			return usageError(err)
		}
	}

	so := o.scanOptions(f, src)
	so.Progress = newProgress(f, o.Quiet)
	res, err := run.Run(ctx, run.RunOptions{
		Scan:        so,
		DryRun:      o.DryRun,
		Apply:       o.Apply,
		ForceAsOf:   o.ForceAsOf,
		StateURL:    o.State,
		Getenv:      f.Getenv,
		TemplateDir: templateDir,
		Clock:       func() time.Time { return f.Now().UTC() },
	})
	if err != nil {
		var te *notify.TemplateError
		if errors.As(err, &te) || errors.Is(err, run.ErrAsOfSkew) {
			return usageError(err)
		}
		return err
	}
	// Every outcome counts (exitFor picks the code): a failed write does
	// not hide that accounts failed.
	outcomes := accountsFailed(res.Report, "nothing was planned for them")
	shown := runAtOrAbove(res, minSeverity) // --severity: the owner messages' items shown
	write := func(w io.Writer, width int) error {
		if format == report.FormatJSON {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(shown)
		}
		return writeRunText(w, shown, width)
	}
	if o.Output == "" {
		err = write(f.Out, f.outputWidth())
	} else {
		err = writeFileAtomic(o.Output, func(w io.Writer) error { return write(w, 0) })
	}
	if err != nil {
		outcomes = append(outcomes, err)
	}
	log.Info("run finished", "mode", res.Mode, "accounts", len(res.Accounts), "findings", res.Summary.Findings,
		"sent", res.Sent, "failed", res.Failed, "resolved", res.Resolved)
	if res.Err != nil {
		outcomes = append(outcomes, fmt.Errorf("%s:\n%w", res.Headline(), res.Err))
	}
	if n := len(res.Plan.Guards); n > 0 {
		outcomes = append(outcomes, &exitError{code: ExitGuard, err: fmt.Errorf("a guard stopped every change in %d %s; the admins are told:\n%s",
			n, plural(n, "account", "accounts"), guardLines(res.Plan.Guards))})
	}
	if res.Stopped != "" {
		outcomes = append(outcomes, &exitError{code: ExitGuard, err: fmt.Errorf("the emergency stop kept this run from acting: %s", res.Stopped)})
	}
	if err := findingsAtOrAbove(res.Report, failOn, o.FailOn); err != nil {
		outcomes = append(outcomes, err)
	}
	if res.Interrupted != "" { // first: it says why the rest may have failed
		outcomes = append([]error{&exitError{code: ExitInterrupted, err: errors.New(res.Interrupted)}}, outcomes...)
	}
	return errors.Join(outcomes...)
}

// clean makes text from IAM safe for a terminal: control characters
// (escape sequences) become spaces.
func clean(s string) string { return notify.HeaderText(s) }

var modeLines = map[plan.Mode]string{
	plan.ModeDryRun: "dry run: nothing was sent, changed or recorded",
	plan.ModeNotify: "notifications sent and recorded; remediation is only listed",
	plan.ModeApply:  "apply: notifications sent and recorded; remediation where enforcement is on",
}

// writeRunText prints the run for a person: the mode, every message with
// its recipients and credentials, the digests, every action, the owners
// that cannot be mailed. With a width (a terminal), a longer line wraps at
// spaces, its continuation indented under it (wrapIndented).
func writeRunText(w io.Writer, res *run.Result, width int) error {
	p := res.Plan
	var b strings.Builder
	pf := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	pf("keywarden run · %s\n", modeLines[res.Mode])
	forced := ""
	if !res.ForcedAsOf.IsZero() {
		forced = " (forced: --force-as-of)"
	}
	pf("as of %s%s · run %s · state %s\n", res.AsOf.Format(time.RFC3339), forced, res.RunID, res.State)
	for _, n := range res.Notes {
		pf("note: %s\n", n)
	}
	failed := res.Report.FailedAccounts()
	pf("\n%d %s scanned", len(res.Accounts), plural(len(res.Accounts), "account", "accounts"))
	if failed > 0 {
		pf(" (%d failed: nothing is planned for them)", failed)
	}
	pf(" · %d %s, %d exempt\n", p.Findings, plural(p.Findings, "finding", "findings"), p.Exempt)
	for _, a := range res.Accounts {
		if a.Status != report.StatusOK {
			pf("  account %s: %s\n", a.ID, clean(a.Error))
		}
	}

	verb := map[string]string{run.DeliveryPlanned: "would send", run.DeliverySent: "sent", run.DeliveryFailed: "FAILED", run.DeliverySkipped: "skipped",
		run.DeliveryNotSent: "not sent"}
	users := 0
	for _, d := range res.Deliveries {
		if d.Kind == notify.KindUser {
			users++
		}
	}
	pf("\nOwner messages (%d):\n", users)
	if users == 0 {
		pf("  none due\n")
	}
	for _, d := range res.Deliveries {
		m := d.Message
		if d.Kind != notify.KindUser || m == nil {
			continue
		}
		pf("  %-10s %s via %s: %s\n", verb[d.Status], clean(m.To), d.Channel, clean(d.Subject))
		for _, it := range m.Items {
			pf("    - %s · %s · %s · %s (%s)", it.Account, clean(it.User), clean(it.Title), it.Rule, it.Status)
			if it.ActionStatus != "" {
				pf(" · action %s", it.ActionStatus)
			}
			pf("\n")
		}
		if d.Error != "" {
			pf("    error: %s\n", clean(d.Error))
		}
	}
	if p.NotDue > 0 {
		pf("  (%d other %s nothing due: told recently)\n", p.NotDue, plural(p.NotDue, "owner has", "owners have"))
	}

	pf("\nAdmin digest:\n")
	digests := 0
	for _, d := range res.Deliveries {
		if d.Kind != notify.KindDigest {
			continue
		}
		digests++
		to := ""
		if len(d.To) > 0 {
			to = " to " + clean(strings.Join(d.To, ", "))
		}
		pf("  %-10s %s via %s%s: %s\n", verb[d.Status], d.Target, d.Channel, to, clean(d.Subject))
		if d.Error != "" {
			pf("    error: %s\n", clean(d.Error))
		}
	}
	if digests == 0 {
		pf("  nothing new for the admins\n")
	}

	pf("\nActions (%d):\n", len(p.Actions))
	if len(p.Actions) == 0 {
		pf("  none\n")
	}
	for _, g := range p.Guards {
		pf("  GUARD: %s\n", clean(g.Reason))
	}
	// By what happened to them, as the digest lists them.
	for _, g := range (plan.Digest{Mode: res.Mode, Actions: p.Actions}).ActionGroups() {
		pf("  %s (%d)", g.Title, len(g.Actions))
		if g.Reason != "" {
			pf(": %s", clean(g.Reason))
		}
		pf("\n")
		for _, a := range g.Actions {
			pf("    - %s", clean(a.Line()))
			if g.Reason == "" && a.Reason != "" {
				pf(": %s", clean(a.Reason))
			}
			pf("\n")
		}
	}
	if len(p.Relaxed) > 0 {
		pf("\nRelaxed by a tag (%d; users who can tag themselves can escape enforcement this way; the admins are told):\n", len(p.Relaxed))
		for _, r := range p.Relaxed {
			pf("  %s · %s: %s\n", r.Account, clean(r.User), clean(r.Reason))
		}
	}
	if len(p.Undeliverable) > 0 {
		pf("\nOwners keywarden cannot mail (%d; the admins are told):\n", len(p.Undeliverable))
		for _, u := range p.Undeliverable {
			pf("  %s · %s: %s\n", u.Account, clean(u.User), clean(u.Reason))
		}
	}
	if res.Mode != plan.ModeDryRun {
		pf("\n%d sent, %d failed; %d %s closed (fixed since last told)\n", res.Sent, res.Failed, res.Resolved, plural(res.Resolved, "notice", "notices"))
	}
	if res.Interrupted != "" {
		pf("%s\n", res.Interrupted)
	}
	if res.ActionsDone+res.ActionsSkipped+res.ActionsFailed > 0 {
		what := "done"
		if res.Mode == plan.ModeDryRun {
			what = "would be done"
		}
		pf("%d %s %s, %d skipped, %d failed\n", res.ActionsDone, plural(res.ActionsDone, "action", "actions"), what, res.ActionsSkipped, res.ActionsFailed)
	}
	_, err := io.WriteString(w, wrapIndented(b.String(), width))
	return err
}

// wrapIndented wraps each line of text wider than width at spaces (names
// that do not fit break after @ . - _); a continuation line is indented
// two more than its line ("- " items, under their text). Width 0: text.
func wrapIndented(text string, width int) string {
	if width <= 0 {
		return text
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		body := strings.TrimSuffix(line, "\n")
		if utf8.RuneCountInString(body) <= width {
			b.WriteString(line)
			continue
		}
		rest := strings.TrimLeft(body, " ")
		lead := len(body) - len(rest)
		indent := strings.Repeat(" ", min(lead+2, width/2))
		pieces := termtable.WrapWords(rest, width-len(indent))
		b.WriteString(body[:lead] + strings.Join(pieces, "\n"+indent))
		b.WriteString(line[len(body):])
	}
	return b.String()
}

func guardLines(gs []plan.Guard) string {
	lines := make([]string, len(gs))
	for i, g := range gs {
		lines[i] = "  " + g.Reason
	}
	return strings.Join(lines, "\n")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
