// Package policy is keywarden's versioned configuration (version: 1) and the
// pure evaluation of an inventory.Snapshot against it:
//
//	Evaluate(snapshot, config, now) []Finding
//
// Nothing here reads a clock, a file (except Load) or the network, and the
// package never imports the AWS SDK.
package policy
