package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/run"
)

// DefaultConfigFile is read when --config is not given and it exists.
const DefaultConfigFile = "keywarden.yaml"

// ScanOptions are the parsed flags of `keywarden scan`.
type ScanOptions struct {
	Source
	// Format and Output are run's --format and -o (one each).
	Format string
	Output string
	// Formats and Outputs are scan's --format and -o, each repeatable
	// (planOutputs).
	Formats []string
	Outputs []string
	FailOn  string
	// Severity (--severity) keeps only the findings at or above it in the
	// output; --fail-on still counts them all.
	Severity string
	// SecurityHub posts the findings to AWS Security Hub after the report
	// is written (see securityhub.go).
	SecurityHub bool
	// Quiet suppresses the progress bar (drawn only when stderr is a
	// terminal anyway) and the log lines below error (the root command
	// sets the level).
	Quiet bool
}

// NewCmdScan builds `keywarden scan`. runF replaces the behaviour in tests.
func NewCmdScan(f *Factory, runF func(context.Context, *ScanOptions) error) *cobra.Command {
	o := &ScanOptions{}
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Evaluate an account's IAM credentials against the policy (read-only)",
		Long: `Scan reads the caller's AWS account, the accounts listed in accounts.list, or
every ACTIVE account of the AWS Organization (accounts.organization) — or, with
--credential-report, a downloaded IAM credential report, with no AWS call at
all — and prints every credential that breaks the policy. It changes nothing.
Accounts are scanned accounts.parallel at a time; one that fails is reported
with status error and the others complete (exit 4). On a terminal a progress
bar on stderr shows the accounts and users done (not with --quiet).

The AWS endpoint, region and credentials come from the SDK's standard settings
(AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).

` + exitCodesHelp,
		Example: `  keywarden scan
  keywarden scan --credential-report examples/credential-report.csv --as-of 2026-11-23
  keywarden scan --format json --output report.json --fail-on high
  keywarden scan -o report.html -o report.json        # one scan, two formats
  keywarden scan -o reports/                          # html, json and csv, timestamped
  keywarden scan --severity high                      # only high and critical findings`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return scanRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	o.addFlags(fl, sourceHelp{asOf: "evaluate as if it were this time", report: "evaluate this", account: "limit the scan to this"})
	fl.StringSliceVar(&o.Formats, "format", nil, "output format: "+strings.Join(report.Formats(), ", ")+" (default: table on a terminal, json otherwise; from -o's extension; repeatable for -o DIR/, default there "+strings.Join(DefaultDirFormats, ", ")+")")
	fl.StringArrayVarP(&o.Outputs, "output", "o", nil, "write the report to this file instead of stdout (format from its extension); repeatable; DIR/ writes each --format there, named keywarden-scan-TIMESTAMP.EXT")
	addReportingFlags(fl, o)
	fl.BoolVar(&o.SecurityHub, "security-hub", false, "also import the findings into AWS Security Hub (caller's account and region) and resolve the ones that disappeared")
	return cmd
}

// addReportingFlags adds scan's flags that run shares: --fail-on and
// --quiet (and, for scan alone, --security-hub).
func addReportingFlags(fl *pflag.FlagSet, o *ScanOptions) {
	fl.StringVar(&o.FailOn, "fail-on", "", "exit 3 when a non-exempt finding is at or above this severity: info, low, medium, high or critical")
	fl.BoolVarP(&o.Quiet, "quiet", "q", false, "data and errors only: no progress bar, no log lines below error (unless --log-level is given)")
	fl.StringVar(&o.Severity, "severity", "", "show only findings at or above this severity: info, low, medium, high or critical (--fail-on still counts every finding)")
}

func scanRun(ctx context.Context, f *Factory, o *ScanOptions) error {
	log := f.Logger()
	src, err := o.resolve(f)
	if err != nil {
		return err
	}
	failOn, err := parseFailOn(o.FailOn)
	if err != nil {
		return err
	}
	minSeverity, err := parseSeverity(o.Severity)
	if err != nil {
		return err
	}
	outputs, err := planOutputs(f, o.Formats, o.Outputs, f.Now())
	if err != nil {
		return usageError(err)
	}
	so := o.scanOptions(f, src)
	so.Progress = newProgress(f, o.Quiet)
	rep, err := run.Scan(ctx, so)
	if err != nil {
		return err
	}
	// Every outcome counts (exitFor picks the code): a failed write or
	// Security Hub sync does not hide that accounts failed.
	outcomes := accountsFailed(rep, "see the report's accounts[].error")
	renderOpts := report.Options{}
	if slices.ContainsFunc(outputs, func(out reportOutput) bool { return out.format == report.FormatASFF }) {
		renderOpts.Region = asffRegion(ctx, f, o)
	}
	shown := reportAtOrAbove(rep, minSeverity)
	var writeErrs []error
	for _, out := range outputs {
		if err := writeReport(f, shown, out.format, out.path, renderOpts); err != nil {
			writeErrs = append(writeErrs, err)
		} else if len(outputs) > 1 {
			log.Info("report written", "file", out.path, "format", out.format)
		}
	}
	if len(writeErrs) > 0 {
		return errors.Join(append(outcomes, writeErrs...)...)
	}
	if o.SecurityHub {
		if err := postSecurityHub(ctx, f, o, rep); err != nil {
			outcomes = append(outcomes, err)
		}
	}
	log.Info("scan finished", "accounts", len(rep.Accounts), "findings", rep.Summary.Findings, "exempt", rep.Summary.Exempt)
	if err := findingsAtOrAbove(rep, failOn, o.FailOn); err != nil {
		outcomes = append(outcomes, err)
	}
	return errors.Join(outcomes...)
}

// findingsAtOrAbove is exit 3 when --fail-on (rank failOn, as given in
// flag) is set and reached.
func findingsAtOrAbove(rep *report.Report, failOn int, flag string) error {
	if failOn > 0 && rep.MaxSeverity() >= failOn {
		return &exitError{code: ExitFindings, err: fmt.Errorf("findings at or above %s severity", strings.ToLower(flag))}
	}
	return nil
}

// configFileUsed is the config file loadConfig reads: --config, else
// ./keywarden.yaml when it exists, else "" (the built-in defaults).
func configFileUsed(path string) string {
	if path == "" {
		if _, err := os.Stat(DefaultConfigFile); err == nil {
			return DefaultConfigFile
		}
	}
	return path
}

// loadConfig reads the config named by --config, else ./keywarden.yaml when
// it exists, else the built-in defaults. An invalid config is a usage error.
func loadConfig(f *Factory, path string) (*config.Config, error) {
	log := f.Logger()
	path = configFileUsed(path)
	if path == "" {
		log.Debug("no config file; using built-in defaults")
		return config.Default(), nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, usageError(fmt.Errorf("config file: %w", err))
		}
		return nil, usageError(err)
	}
	log.Debug("config loaded", "file", path)
	return cfg, nil
}

// parseTimeFlag reads a time flag (run.ParseTime); empty means def.
func parseTimeFlag(flag, s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	t, err := run.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %w", flag, err)
	}
	return t, nil
}

// resolveFormat picks the output format: the flag; else from the output
// file's extension; else table on a terminal and json otherwise.
func resolveFormat(f *Factory, format, output string) (string, error) {
	if format != "" {
		format = strings.ToLower(format)
		if !slices.Contains(report.Formats(), format) {
			return "", fmt.Errorf("--format %q: want one of %s", format, strings.Join(report.Formats(), ", "))
		}
		return format, nil
	}
	if output != "" {
		switch strings.ToLower(filepath.Ext(output)) {
		case ".csv":
			return report.FormatCSV, nil
		case ".md", ".markdown":
			return report.FormatMarkdown, nil
		case ".txt":
			return report.FormatTable, nil
		case ".html", ".htm":
			return report.FormatHTML, nil
		}
		return report.FormatJSON, nil
	}
	if f.IsTerminal(f.Out) {
		return report.FormatTable, nil
	}
	return report.FormatJSON, nil
}

// writeReport renders to stdout, or atomically to a file (written beside it
// and renamed, so a failed run never leaves half a report), with render
// options (the ASFF region); the terminal width and color are filled in here.
func writeReport(f *Factory, rep *report.Report, format, output string, opts report.Options) error {
	if output == "" {
		opts.Width = f.outputWidth()
		opts.Color = f.IsTerminal(f.Out) && f.Getenv("NO_COLOR") == ""
		return report.Render(f.Out, rep, format, opts)
	}
	return writeFileAtomic(output, func(w io.Writer) error { return report.Render(w, rep, format, opts) })
}

// writeFileAtomic writes path through a temporary file beside it, renamed
// over it once complete. The file is created 0666 less the umask, as any
// command's output: the user's umask decides who may read a report.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := createBeside(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// createBeside creates a new temporary file in path's directory, named
// .BASE.RANDOM, with mode 0666 less the umask (os.CreateTemp makes 0600).
func createBeside(path string) (*os.File, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	for range 100 {
		name := filepath.Join(dir, "."+base+"."+rand.Text()[:10])
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no free temporary name beside %s", path)
}
