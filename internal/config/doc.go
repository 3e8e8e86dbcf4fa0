// Package config is keywarden's versioned configuration file (version: 1):
// the Config types and their constants, the built-in defaults (Default),
// strict loading (Load, Parse) with errors that name FILE:LINE and the key,
// validation (Config.Validate), the JSON Schema (JSONSchema) and the
// commented starter file (InitYAML).
//
// The bounds, patterns and enums of single keys are written once, in the
// constraints table (constraints.go): Validate checks them and JSONSchema
// publishes them. Checks that relate several keys (stages that ascend, a
// role ARN in its account, keys that exclude each other) are code, in
// validate.go.
//
// The package reads a file only in Load, never reads a clock or the
// network, and never imports the AWS SDK. Evaluating an inventory against a
// Config is package policy's job.
package config
