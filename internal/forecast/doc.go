// Package forecast tells, for every credential, when it will reach each
// coming stage of the policy: it is policy.Evaluate stepped through time.
// It is pure: no clock, no I/O, no AWS SDK.
package forecast
