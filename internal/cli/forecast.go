package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/keywarden/keywarden/internal/awsapi"
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
	ConfigFile       string
	Format           string
	Output           string
	AsOf             string
	CredentialReport string
	Accounts         []string
	Region           string
	Profile          string
	Days             int
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
	fl.StringVar(&o.ConfigFile, "config", "", "config file (default: ./keywarden.yaml if present, else built-in defaults)")
	fl.StringVar(&o.Format, "format", "", "output format: "+strings.Join(forecast.Formats(), ", ")+" (default: table on a terminal, json otherwise; from --output's extension)")
	fl.StringVarP(&o.Output, "output", "o", "", "write the forecast to this file instead of stdout")
	fl.StringVar(&o.AsOf, "as-of", "", "forecast from this time (RFC 3339, or YYYY-MM-DD for midnight UTC)")
	fl.StringVar(&o.CredentialReport, "credential-report", "", "forecast from this downloaded credential report (CSV) offline, without AWS calls")
	fl.StringSliceVar(&o.Accounts, "account", nil, "limit to this account ID (repeatable)")
	fl.StringVar(&o.Region, "region", "", "AWS region for API calls (default: the SDK's, else "+awsapi.DefaultRegion+")")
	fl.StringVar(&o.Profile, "profile", "", "AWS shared config profile (default: the SDK's, AWS_PROFILE)")
	fl.IntVar(&o.Days, "days", DefaultForecastDays, "how many days ahead to look")
	return cmd
}

func forecastRun(ctx context.Context, f *Factory, o *ForecastOptions) error {
	log := f.Logger()
	cfg, err := loadConfig(f, o.ConfigFile)
	if err != nil {
		return err
	}
	now := f.Now().UTC()
	asOf, err := parseAsOf(o.AsOf, now)
	if err != nil {
		return usageError(err)
	}
	if o.Days < 1 || o.Days > maxForecastDays {
		return usageError(fmt.Errorf("--days %d: want 1 to %d", o.Days, maxForecastDays))
	}
	format, err := forecastFormat(f, o.Format, o.Output)
	if err != nil {
		return usageError(err)
	}
	for _, id := range o.Accounts {
		if !isAccountID(id) {
			return usageError(fmt.Errorf("--account %q: an AWS account ID is 12 digits", id))
		}
	}

	var snaps []*inventory.Snapshot
	rep, err := run.Scan(ctx, run.ScanOptions{
		Config:           cfg,
		AsOf:             asOf,
		Now:              now,
		CredentialReport: o.CredentialReport,
		Accounts:         o.Accounts,
		LoadAWSConfig: func(ctx context.Context) (aws.Config, error) {
			return f.LoadAWSConfig(ctx, awsapi.Options{Region: o.Region, Profile: o.Profile})
		},
		Logger:      log,
		OnSnapshots: func(s []*inventory.Snapshot) { snaps = append(snaps, s...) },
	})
	if err != nil {
		return err
	}
	fc := forecast.New(snaps, cfg, now, asOf, o.Days)
	write := func(w io.Writer) error { return forecast.Render(w, fc, format) }
	if o.Output == "" {
		err = write(f.Out)
	} else {
		err = writeFileAtomic(o.Output, write)
	}
	if err != nil {
		return err
	}
	log.Info("forecast finished", "accounts", len(rep.Accounts), "days", o.Days, "stage_changes", len(fc.Events))
	if n := rep.FailedAccounts(); n > 0 {
		return &exitError{code: ExitAccountsFailed, err: fmt.Errorf("%d of %d accounts could not be scanned; their credentials are not in the forecast", n, len(rep.Accounts))}
	}
	return nil
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
