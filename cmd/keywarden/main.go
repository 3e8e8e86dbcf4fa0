// Command keywarden keeps AWS IAM passwords and access keys from going stale.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/keywarden/keywarden/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.NewFactory(), os.Args[1:])
	stop()
	os.Exit(code)
}
