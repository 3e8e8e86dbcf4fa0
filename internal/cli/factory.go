package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/term"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/securityhub"
)

// Factory holds what commands need from the outside world, so tests can
// replace any of it.
type Factory struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// IsTerminal reports whether w is an interactive terminal.
	IsTerminal func(w io.Writer) bool
	// TerminalWidth returns w's width in columns (0 when unknown).
	TerminalWidth func(w io.Writer) int
	// Now is the wall clock; only the CLI reads it.
	Now func() time.Time
	// LoadAWSConfig loads the caller's SDK configuration.
	LoadAWSConfig func(ctx context.Context, o awsapi.Options) (aws.Config, error)
	// Getenv reads the environment.
	Getenv func(string) string
	// SecurityHubClients builds the clients `scan --security-hub` calls
	// (STS, to identify the caller, and Security Hub) from the caller's
	// SDK configuration.
	SecurityHubClients func(cfg aws.Config) (callerIdentifier, securityhub.API)

	logger     *slog.Logger
	statusOnce sync.Once
	statusW    *statusWriter
}

// NewFactory returns the production factory over the process's streams.
func NewFactory() *Factory {
	return &Factory{
		In:                 os.Stdin,
		Out:                os.Stdout,
		ErrOut:             os.Stderr,
		IsTerminal:         isTerminal,
		TerminalWidth:      terminalWidth,
		Now:                time.Now,
		LoadAWSConfig:      awsapi.LoadConfig,
		Getenv:             os.Getenv,
		SecurityHubClients: newSecurityHubClients,
	}
}

// Logger is the command's logger (stderr); set by the root command's flags.
func (f *Factory) Logger() *slog.Logger {
	if f.logger == nil {
		return slog.New(slog.NewTextHandler(f.status(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return f.logger
}

func fd(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	return int(f.Fd()), true
}

func isTerminal(w io.Writer) bool {
	n, ok := fd(w)
	return ok && term.IsTerminal(n)
}

func terminalWidth(w io.Writer) int {
	n, ok := fd(w)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(n)
	if err != nil {
		return 0
	}
	return width
}

// outputWidth is the width tables on stdout fit: $COLUMNS when it is a
// number (set it to see a terminal's table in a pipe or a test), else the
// terminal's width, else 0 — a file or a pipe, where lines are whole.
func (f *Factory) outputWidth() int {
	if n, err := strconv.Atoi(f.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f.IsTerminal(f.Out) {
		return f.TerminalWidth(f.Out)
	}
	return 0
}
