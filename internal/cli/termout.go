package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"

	"github.com/keywarden/keywarden/internal/awsapi"
)

// statusWriter is stderr as the log lines and the progress bar share it:
// one writer, one lock. A log line written while a bar frame is on screen
// first clears the bar's line, then draws the frame again below it, so a
// line of the terminal is always either a whole log line or a bar frame.
// Log writes are whole lines (slog writes a record at once).
type statusWriter struct {
	mu  sync.Mutex
	w   io.Writer
	bar string // the bar frame on screen, from its "\r" ("" when none)
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

func (s *statusWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Trim(s.bar, "\r ") == "" {
		return s.w.Write(p)
	}
	if _, err := io.WriteString(s.w, clearLine); err != nil {
		return 0, err
	}
	n, err := s.w.Write(p)
	if err == nil {
		_, err = io.WriteString(s.w, s.bar)
	}
	return n, err
}

// barWriter is the progress bar's side of a statusWriter: it remembers the
// frame on screen.
type barWriter struct{ s *statusWriter }

func (b barWriter) Write(p []byte) (int, error) {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.w.Write(p)
	frame := string(p[:n])
	if i := strings.LastIndexByte(frame, '\n'); i >= 0 {
		s.bar = frame[i+1:]
	} else {
		s.bar += frame
	}
	if i := strings.LastIndexByte(s.bar, '\r'); i > 0 {
		s.bar = s.bar[i:]
	}
	return n, err
}

// status is the command's stderr for logs and the progress bar.
func (f *Factory) status() *statusWriter {
	f.statusOnce.Do(func() { f.statusW = &statusWriter{w: f.ErrOut} })
	return f.statusW
}

// sdkLogger sends the AWS SDK's log lines (warnings, and with --verbose
// the retries) to the command's logger, so they share its format, its
// level (--quiet hides them) and the progress bar's stderr: the SDK's
// own default writes straight to os.Stderr, through the bar.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, "AWS SDK: "+fmt.Sprintf(format, v...))
}

// loadAWSConfig is f.LoadAWSConfig with the SDK's logging sent to the
// command's logger; with debug logging the SDK also logs its retries.
func (f *Factory) loadAWSConfig(ctx context.Context, o awsapi.Options) (aws.Config, error) {
	cfg, err := f.LoadAWSConfig(ctx, o)
	if err != nil {
		return cfg, err
	}
	log := f.Logger()
	cfg.Logger = sdkLogger{log: log}
	if log.Enabled(ctx, slog.LevelDebug) {
		cfg.ClientLogMode |= aws.LogRetries
	}
	return cfg, nil
}
