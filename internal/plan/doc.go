// Package plan decides what a run tells whom and what it would change:
// from the scan's findings, the notices already delivered (state) and the
// config, it builds one message per owner address (listing every
// credential of theirs), an admin digest per digest channel, the actions
// the policy calls for, and the notices to close.
//
// Build is pure: no clock (the run's as-of time is an input), no I/O, no
// AWS SDK. Whether a message is due follows state.Due; the run then claims
// each due notice before it delivers, so the plan is what a dry run prints
// and what a real run attempts.
package plan
