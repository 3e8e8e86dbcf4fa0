package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// Main runs keywarden with args (without the program name) and returns the
// process exit code (exitFor).
func Main(ctx context.Context, f *Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(f.In)
	root.SetOut(f.Out)
	root.SetErr(f.ErrOut)
	err := interrupted(ctx, root.ExecuteContext(ctx))
	if err != nil {
		for _, e := range errorLines(err) {
			fmt.Fprintf(f.ErrOut, "keywarden: %v\n", e)
		}
	}
	return exitFor(err)
}

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	var logLevel, logFormat string
	var verbose bool
	root := &cobra.Command{
		Use:   "keywarden",
		Short: "Keep AWS IAM passwords and access keys from going stale",
		Long: `keywarden scans an AWS account's IAM users (or a downloaded credential report),
evaluates every console password and access key against a versioned policy,
and reports what is stale, unused, expiring or unprotected. keywarden run tells
the owners and admins, and with --apply disables and later deletes what stayed
stale (dry-run by default; keywarden history shows what was done, keywarden undo
re-enables a disabled key).

Data goes to stdout; logs and progress go to stderr.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          subcommand,
		RunE:          help,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if verbose {
				logLevel = "debug"
			}
			// --quiet: data and errors only, unless a level was asked for.
			if q := cmd.Flags().Lookup("quiet"); q != nil && q.Value.String() == "true" &&
				!cmd.Flags().Changed("log-level") && !verbose {
				logLevel = "error"
			}
			l, err := newLogger(f, logLevel, logFormat)
			if err != nil {
				return usageError(err)
			}
			f.logger = l
			return nil
		},
	}
	// --version prints what keywarden version does.
	root.Version = Version
	root.SetVersionTemplate(versionLine() + "\n")
	// Defined here, cobra's own would take -v (--verbose's).
	root.Flags().Bool("version", false, "print keywarden's version (as keywarden version does)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format on stderr: text or json")
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "debug logging (same as --log-level debug)")

	root.AddCommand(NewCmdScan(f, nil))
	root.AddCommand(NewCmdRun(f, nil))
	root.AddCommand(NewCmdForecast(f, nil))
	root.AddCommand(NewCmdHistory(f, nil))
	root.AddCommand(NewCmdUndo(f, nil))
	root.AddCommand(NewCmdIAMPolicy(f, nil))
	root.AddCommand(NewCmdRules(f))
	root.AddCommand(NewCmdConfig(f))
	root.AddCommand(NewCmdVersion(f))
	root.SetHelpTemplate(root.HelpTemplate())
	// A group (keywarden, keywarden config) runs only to refuse an unknown
	// subcommand or print its help: its usage shows the subcommands, not
	// a command line of its own.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	// Every argument check, cobra's own commands' too, fails with a
	// usage error; flag errors do through the flag error func.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Args = helpTopic
		}
	}
	var typed func(*cobra.Command)
	typed = func(c *cobra.Command) {
		if c.Args != nil {
			c.Args = usageArgs(c.Args)
		}
		for _, sub := range c.Commands() {
			typed(sub)
		}
	}
	typed(root)
	return root
}

// helpTopic is the argument check of keywarden help: the arguments name a
// command.
func helpTopic(cmd *cobra.Command, args []string) error {
	if _, rest, err := cmd.Root().Find(args); err != nil || len(rest) > 0 {
		return fmt.Errorf("unknown help topic %q: see keywarden help", strings.Join(args, " "))
	}
	return nil
}

// help is the behaviour of a group command run without a subcommand.
func help(cmd *cobra.Command, _ []string) error { return cmd.Help() }

func newLogger(f *Factory, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(f.status(), o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(f.status(), o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
