// Package cli holds keywarden's cobra commands. Each command has an Options
// struct, a NewCmdX(f, runF) constructor that parses flags into it, and an
// xRun(ctx, opts) function with the behaviour, so both are tested apart.
// Exit codes are decided in one place: exit.go.
package cli
