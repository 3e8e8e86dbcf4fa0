//go:build soak

package main

import (
	"net/http"
	"testing"

	"github.com/keywarden/keywarden/internal/testenv"
)

// TestSoakChannelsFailThenRecover: the faults channelCases leaves out,
// among them the endpoints that never answer, which each cost a
// delivery notify.SendTimeout (30 s) or the webhook client's 30 s.
func TestSoakChannelsFailThenRecover(t *testing.T) {
	for _, c := range []channelCase{
		sesCase("5xx", testenv.Fault{Code: "InternalFailure", Status: 500}, 1),
		sesCase("503", testenv.Fault{Code: "ServiceUnavailable", Status: 503}, 1),
		sesCase("throttled-all-run", testenv.Fault{Code: "TooManyRequestsException", Status: 429}, 1),
		sesCase("drop", testenv.Fault{Drop: true}, 1),
		sesCase("error-after-send", testenv.Fault{AfterForward: true, Code: "InternalFailure", Status: 500}, 2),
		sesCase("hang", testenv.Fault{Hang: true}, 1),
		withOwners(sesCase("hang-six-owners", testenv.Fault{Hang: true}, 1), 6, 3),
		snsCase("throttled-then-accepted", testenv.Fault{Code: "Throttled", Status: 400, Times: 2}, 1),
		snsCase("drop", testenv.Fault{Drop: true}, 1),
		snsCase("drop-after-publish", testenv.Fault{AfterForward: true, Drop: true}, 2),
		snsCase("hang", testenv.Fault{Hang: true}, 1),
		smtpCase("554-refused", testenv.SMTPFault{Code: 554}, 1),
		smtpCase("hang", testenv.SMTPFault{Hang: true}, 1),
		withOwners(smtpCase("hang-six-owners", testenv.SMTPFault{Hang: true}, 1), 6, 3),
		hookCase("slack/429", true, http.StatusTooManyRequests, false),
		hookCase("slack/hang", true, 0, true),
		hookCase("webhook/500", false, http.StatusInternalServerError, false),
		hookCase("webhook/hang", false, 0, true),
	} {
		t.Run(c.name, func(t *testing.T) { checkChannelCase(t, c) })
	}
}

// withOwners is c with n owners, the channel down after downAfter
// slow failures.
func withOwners(c channelCase, n, downAfter int) channelCase {
	c.owners, c.downAfter = n, downAfter
	return c
}
