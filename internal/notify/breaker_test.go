package notify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/notify"
)

// scripted answers each Send with the next error of errs (nil: sent).
type scripted struct {
	errs  []error
	calls int
}

func (s *scripted) Name() string { return "ses" }
func (s *scripted) Send(context.Context, *notify.Message) error {
	s.calls++
	if len(s.errs) == 0 {
		return nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

func TestBreaker(t *testing.T) {
	timeout := fmt.Errorf("ses: send user: %w", context.DeadlineExceeded)
	rejected := errors.New("ses: MessageRejected")
	// A fast failure and a success each reset the count: the channel is
	// not down after 2 slow, 1 fast, 2 slow, 1 sent, 2 slow failures.
	ch := &scripted{errs: []error{timeout, timeout, rejected, timeout, timeout, nil, timeout, timeout}}
	b := notify.Breaker(ch, 3)
	for i := range 8 {
		if err := b.Send(context.Background(), &notify.Message{}); errors.Is(err, notify.ErrChannelDown) {
			t.Fatalf("send %d: %v; want the channel tried", i+1, err)
		}
	}
	// The third slow failure in a row: the rest fail at once, untried.
	if err := b.Send(context.Background(), &notify.Message{}); err != nil {
		t.Fatalf("9th send = %v; want sent", err)
	}
	ch.errs = []error{timeout, timeout, timeout}
	for range 3 {
		_ = b.Send(context.Background(), &notify.Message{})
	}
	calls := ch.calls
	err := b.Send(context.Background(), &notify.Message{})
	if !errors.Is(err, notify.ErrChannelDown) || ch.calls != calls {
		t.Errorf("after 3 timeouts in a row: %v (%d more calls); want ErrChannelDown, untried", err, ch.calls-calls)
	}
	if err == nil || !errors.Is(err, notify.ErrChannelDown) || !strings.Contains(err.Error(), "deadline exceeded") || !strings.Contains(err.Error(), "next run") {
		t.Errorf("error %q does not name the last failure and the retry", err)
	}
}
