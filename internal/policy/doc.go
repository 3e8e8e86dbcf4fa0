// Package policy is the pure evaluation of an inventory.Snapshot against a
// config.Config:
//
//	Evaluate(snapshot, cfg, now) []Finding
//
// with the class matching, exemptions and recipients it uses. Nothing here
// reads a clock, a file or the network, and the package never imports the
// AWS SDK. Loading and validating the configuration is package config's job.
package policy
