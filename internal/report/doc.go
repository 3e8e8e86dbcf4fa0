// Package report is keywarden's one report model and its renderers: table
// (TTY-aware), JSON (keywarden.report/v1), CSV, Markdown, a self-contained
// HTML page with charts (html.go, assets/) and the AWS Security Finding
// Format (asff.go; internal/securityhub posts it). It never imports the AWS
// SDK.
package report
