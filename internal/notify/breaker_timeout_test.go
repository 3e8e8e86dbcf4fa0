package notify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/notify"
)

type hungSES struct{ n int }

func (h *hungSES) Name() string { return "ses" }
func (h *hungSES) Send(ctx context.Context, m *notify.Message) error {
	h.n++
	// What sesv2.SendEmail returns when its attempt hits the per-attempt timeout
	// installed by awsapi.LoadConfig (10 s for SendEmail, under SendTimeout's 30 s).
	return fmt.Errorf("ses: send user to x@example.com: operation error SESv2: SendEmail, %w",
		&awsapi.AttemptTimeoutError{Service: "SESv2", Operation: "SendEmail", Limit: 10 * time.Second, TimedOut: 1})
}

func TestBreakerCountsAttemptTimeouts(t *testing.T) {
	h := &hungSES{}
	b := notify.Breaker(h, notify.BreakAfter)
	for i := 0; i < 10; i++ {
		_ = b.Send(context.Background(), &notify.Message{})
	}
	if h.n > notify.BreakAfter {
		t.Errorf("a hung SES was tried %d times (10 s each); the breaker should stop after %d: Slow(AttemptTimeoutError) = %v",
			h.n, notify.BreakAfter, notify.Slow(&awsapi.AttemptTimeoutError{}))
	}
}
