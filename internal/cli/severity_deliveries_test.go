package cli

import (
	"testing"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/run"
)

// TestRunSeverityKeepsSentAndFailedDeliveries: --severity filters what is
// shown, not what was sent. A message that was sent (or failed) for
// medium findings must still be listed under `run --severity high`;
// it vanished and the text said "Owner messages (0): none due"
// while the outbox held the mails.
func TestRunSeverityKeepsSentAndFailedDeliveries(t *testing.T) {
	res := &run.Result{Deliveries: []run.Delivery{
		{Kind: notify.KindUser, To: []string{"jo@example.com"}, Status: "failed", Error: "smtp: 550 mailbox unavailable",
			Message: &plan.Message{To: "jo@example.com", Items: []plan.Item{{Finding: policy.Finding{User: "jo", Severity: "medium"}}}}},
	}}
	rank, err := parseSeverity("high")
	if err != nil {
		t.Fatal(err)
	}
	if got := runAtOrAbove(res, rank); len(got.Deliveries) != 1 {
		t.Errorf("run --severity high shows %d deliveries; want the failed delivery to jo@example.com still listed", len(got.Deliveries))
	}
}
