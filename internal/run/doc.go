// Package run is the one pipeline that the CLI (and, later, the Lambda
// handler) calls: accounts → inventory → policy.Evaluate → key-ID
// resolution → report.
package run
