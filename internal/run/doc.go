// Package run is the one pipeline that the CLI and the Lambda handler
// call. Scan reads the accounts and evaluates them: accounts → inventory →
// policy.Evaluate → key-ID resolution → report. Run is `keywarden run`: a
// runner whose stages — scan, plan, remediate, deliver, record — share
// the run's config, state, clock, log, ID and result. A dry run is the
// same stages with the run's state, IAM clients and channels replaced
// where they are built (dry.go).
package run
