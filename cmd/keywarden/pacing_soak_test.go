//go:build soak

package main

import (
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestSoakThrottledScanWithinThreeTimes: an account of 1,000 users, half
// of them flagged (500 key lookups), scanned fault-free and then with 30%
// of every IAM call throttled at random: identical findings, and the
// throttled scan takes at most 3× the fault-free one (the goal; a
// scan this size is long enough for the ratio to hold on a loaded
// machine).
func TestSoakThrottledScanWithinThreeTimes(t *testing.T) {
	clean, throttled, cleanTook, throttledTook, attempts := throttledScan(t, 1000)
	if string(clean) != string(throttled) {
		t.Errorf("findings differ under 30%% throttling")
	}
	ratio := throttledTook.Seconds() / cleanTook.Seconds()
	t.Logf("fault-free %s, 30%% throttled %s (%.2f×, %d IAM attempts)", cleanTook, throttledTook, ratio, attempts)
	if ratio > 3 {
		t.Errorf("30%% throttling made the scan %.2f× slower (%s against %s); want at most 3×", ratio, throttledTook, cleanTook)
	}
}

// TestSoakHungCallDefaultTimeouts: with the default timeouts (no
// KEYWARDEN_AWS_ATTEMPT_TIMEOUT), one call that never answers —
// iam:GetAccountAuthorizationDetails in one member account, a large call:
// 30 s an attempt, 3 attempts — keeps the organization's scan at most
// 2 minutes in all: that account failed, naming the call and its timeout,
// the others complete, exit 4.
func TestSoakHungCallDefaultTimeouts(t *testing.T) {
	e := newOrgE2E(t)
	p := e.m.NewProxy(t)
	hung := e.members[1]
	p.Inject(testenv.Fault{Match: testenv.InAccount(hung, "iam:GetAccountAuthorizationDetails"), Hang: true})
	dir := e.configDir(t, e.members[3])

	start := time.Now()
	r := keywarden(t, p.Env(e.m), dir, "scan", "--format", "json")
	took := time.Since(start)
	checkOneFailed(t, e, r, hung, "GetAccountAuthorizationDetails did not answer within "+awsapi.LargeAttemptTimeout.String())
	t.Logf("the scan returned after %s", took)
	if min := time.Duration(awsapi.MaxTimedOutAttempts) * awsapi.LargeAttemptTimeout; took < min || took > 2*time.Minute {
		t.Errorf("the scan took %s; want at least %s (the attempts' timeouts) and at most 2 minutes", took, min)
	}
}
