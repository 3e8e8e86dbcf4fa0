// Command keywarden keeps AWS IAM passwords and access keys from going stale.
// Started by the AWS Lambda runtime, it serves the scheduled-run handler.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/keywarden/keywarden/internal/cli"
	"github.com/keywarden/keywarden/internal/lambda"
)

func main() {
	if lambda.Detect() {
		lambda.Main()
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.NewFactory(), os.Args[1:])
	stop()
	os.Exit(code)
}
