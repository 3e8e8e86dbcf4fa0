// Command keywarden keeps AWS IAM passwords and access keys from going stale.
// Started by the AWS Lambda runtime, it serves the scheduled-run handler.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/keywarden/keywarden/internal/cli"
	"github.com/keywarden/keywarden/internal/lambda"
	"github.com/keywarden/keywarden/internal/run"
)

func main() {
	// The first SIGINT or SIGTERM ends ctx: a run starts no new work,
	// finishes and records what is under way, and exits 6. The second
	// stops the process at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx := run.OnSignals(context.Background(), sigs, func(sig os.Signal) {
		fmt.Fprintf(os.Stderr, "keywarden: %s again: stopped at once; what was under way is left as a killed run leaves it\n", run.SignalName(sig))
		os.Exit(run.SignalExitCode(sig))
	})
	if lambda.Detect() {
		lambda.Main(ctx)
		return
	}
	context.AfterFunc(ctx, func() {
		if intr := run.InterruptedBy(ctx); intr != nil {
			fmt.Fprintf(os.Stderr, "keywarden: %v: no new work is started; finishing what is under way (at most %s); send it again to stop at once\n",
				intr, run.StopGrace)
		}
	})
	os.Exit(cli.Main(ctx, cli.NewFactory(), os.Args[1:]))
}
