package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/run"
)

// DefaultForecastDays is how far `keywarden forecast` looks ahead.
const DefaultForecastDays = 30

// maxForecastDays bounds --days (ten years).
const maxForecastDays = 3660

// ForecastOptions are the parsed flags of `keywarden forecast`.
type ForecastOptions struct {
	Source
	Format string
	Output string
	Days   int
	// Severity (--severity) keeps only the stage changes at or above it.
	Severity string
}

// NewCmdForecast builds `keywarden forecast`. runF replaces the behaviour
// in tests.
func NewCmdForecast(f *Factory, runF func(context.Context, *ForecastOptions) error) *cobra.Command {
	o := &ForecastOptions{}
	cmd := &cobra.Command{
		Use:   "forecast",
		Short: "List the dates credentials will reach each coming stage (read-only)",
		Long: `Forecast reads the account like scan does (or a downloaded credential report
with --credential-report) and lists, for every credential, the dates within
--days on which it will reach a new stage of the policy: the same evaluation
as scan, stepped through time. It changes nothing.

--format ics writes an iCalendar file (one all-day event per stage change,
stable UIDs) that a calendar can import or subscribe to.`,
		Example: `  keywarden forecast --days 14
  keywarden forecast --credential-report examples/credential-report.csv --as-of 2026-11-23 --days 60
  keywarden forecast --format ics --output keywarden.ics`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return forecastRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	o.addFlags(fl, sourceHelp{asOf: "forecast from this time", report: "forecast from this", account: "limit to this"})
	fl.StringVar(&o.Format, "format", "", "output format: "+strings.Join(forecast.Formats(), ", ")+" (default: table on a terminal, json otherwise; from --output's extension)")
	fl.StringVarP(&o.Output, "output", "o", "", "write the forecast to this file instead of stdout")
	fl.IntVar(&o.Days, "days", DefaultForecastDays, "how many days ahead to look")
	fl.StringVar(&o.Severity, "severity", "", "show only stage changes at or above this severity: info, low, medium, high or critical")
	return cmd
}

func forecastRun(ctx context.Context, f *Factory, o *ForecastOptions) error {
	src, err := o.resolve(f)
	if err != nil {
		return err
	}
	if o.Days < 1 || o.Days > maxForecastDays {
		return usageError(fmt.Errorf("--days %d: want 1 to %d", o.Days, maxForecastDays))
	}
	format, err := forecastFormat(f, o.Format, o.Output)
	if err != nil {
		return usageError(err)
	}
	minSeverity, err := parseSeverity(o.Severity)
	if err != nil {
		return err
	}
	var snaps []*inventory.Snapshot
	so := o.scanOptions(f, src)
	so.OnSnapshots = func(s []*inventory.Snapshot) { snaps = append(snaps, s...) }
	rep, err := run.Scan(ctx, so)
	if err != nil {
		return err
	}
	// Every outcome counts (exitFor picks the code): a failed write does
	// not hide that accounts failed.
	outcomes := accountsFailed(rep, "their credentials are not in the forecast")
	fc := forecastAtOrAbove(forecast.New(snaps, src.cfg, src.now, src.asOf, o.Days), minSeverity)
	if o.Output == "" {
		err = forecast.Render(f.Out, fc, format, f.outputWidth())
	} else {
		err = writeFileAtomic(o.Output, func(w io.Writer) error { return forecast.Render(w, fc, format, 0) })
	}
	if err != nil {
		return errors.Join(append(outcomes, err)...)
	}
	f.Logger().Info("forecast finished", "accounts", len(rep.Accounts), "days", o.Days, "stage_changes", len(fc.Events))
	return errors.Join(outcomes...)
}

// forecastFormat picks the format: the flag; else from the output file's
// extension (.ics, .txt; anything else JSON); else table on a terminal and
// JSON otherwise.
func forecastFormat(f *Factory, format, output string) (string, error) {
	if format != "" {
		format = strings.ToLower(format)
		if !slices.Contains(forecast.Formats(), format) {
			return "", fmt.Errorf("--format %q: want one of %s", format, strings.Join(forecast.Formats(), ", "))
		}
		return format, nil
	}
	if output != "" {
		switch strings.ToLower(filepath.Ext(output)) {
		case ".ics", ".ical", ".ifb":
			return forecast.FormatICS, nil
		case ".txt":
			return forecast.FormatTable, nil
		}
		return forecast.FormatJSON, nil
	}
	if f.IsTerminal(f.Out) {
		return forecast.FormatTable, nil
	}
	return forecast.FormatJSON, nil
}
