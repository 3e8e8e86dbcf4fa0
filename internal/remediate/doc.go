// Package remediate carries out a plan's actions — disable an access key,
// a signing certificate or a service-specific credential, delete it,
// remove a console password — and undoes disables. The three key-like
// kinds share one table of calls (kinds.go): read, set status, delete.
//
// Every action is recorded as planned before it is made (the record is
// the in-flight lock: two runs never act on one credential at once), then
// the credential is re-read (ListAccessKeys and GetAccessKeyLastUsed,
// ListSigningCertificates, ListServiceSpecificCredentials, or the login
// profile) because the credential report can be hours old, and the
// action is skipped, with its reason, when the key is gone, rotated,
// already in the target state, or (for unused rules) used since. An
// active key at its delete stage is disabled first; an inactive key is
// deleted only once it has been inactive for enforce.grace_after_disable
// days, counted from keywarden's own record of disabling it or from the
// first run that saw it inactive. A run killed between acting and
// recording leaves a planned record that the next run reconciles from the
// credential's state, so no action is made twice and no record is lost.
// A write that answers an error is not taken at its word either: the
// credential is re-read (on a context of its own, bounded) and the action
// recorded done when the change is there, failed when it is not, and left
// planned for the next run to re-read when the re-read fails too.
//
// The executor has no dry mode. A dry run (internal/run) hands it IAM
// clients whose writes change nothing and an Audit that records nothing,
// and reports the actions it made against them as planned.
package remediate
