// Package securityhub keeps AWS Security Hub's keywarden findings of one
// account in step with a scan: it imports the current findings with
// BatchImportFindings (in batches of 100; stable IDs, so a re-import updates
// and never duplicates) and resolves the ones that disappeared (RecordState
// ARCHIVED, Workflow.Status RESOLVED).
package securityhub
