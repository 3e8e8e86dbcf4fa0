// Package report is keywarden's one report model and its renderers: table
// (TTY-aware), JSON (keywarden.report/v1), CSV and Markdown. It never imports
// the AWS SDK.
package report
