package notify

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type recordChannel struct{ sent []string }

func (r *recordChannel) Name() string { return "record" }
func (r *recordChannel) Send(_ context.Context, m *Message) error {
	r.sent = append(r.sent, m.ID)
	return nil
}

// TestThrottleWaitsBetweenSends records the waits instead of sleeping.
func TestThrottleWaitsBetweenSends(t *testing.T) {
	rec := &recordChannel{}
	if Throttle(rec, 0) != Channel(rec) {
		t.Error("Throttle(ch, 0) wraps ch; want ch itself")
	}
	ch := Throttle(rec, 4).(*throttled)
	var waits []time.Duration
	ch.wait = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	for _, id := range []string{"a", "b", "c"} {
		if err := ch.Send(context.Background(), &Message{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]time.Duration{250 * time.Millisecond, 250 * time.Millisecond}, waits); diff != "" {
		t.Errorf("waits at 4/s (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, rec.sent); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if ch.Name() != "record" {
		t.Errorf("Name() = %q; want the wrapped channel's", ch.Name())
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep(cancelled, 1h) = %v; want context.Canceled", err)
	}
	ch := &throttled{ch: &recordChannel{}, interval: time.Hour, wait: sleep, started: true}
	if err := ch.Send(ctx, &Message{ID: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Send(cancelled) = %v; want context.Canceled", err)
	}
}

type closingChannel struct {
	recordChannel
	closed int
}

func (c *closingChannel) Close() error { c.closed++; return nil }

// TestThrottleCloses: a paced channel that holds a connection (SMTP) is
// still closed at the end of a run (a regression: the wrapper hid Close).
func TestThrottleCloses(t *testing.T) {
	inner := &closingChannel{}
	ch := Throttle(inner, 2)
	c, ok := ch.(io.Closer)
	if !ok {
		t.Fatal("a throttled channel is not an io.Closer")
	}
	if err := c.Close(); err != nil || inner.closed != 1 {
		t.Errorf("Close() = %v, inner closed %d times; want nil, 1", err, inner.closed)
	}
	if err := Throttle(&recordChannel{}, 2).(io.Closer).Close(); err != nil {
		t.Errorf("Close() of a throttled channel without a connection = %v; want nil", err)
	}
}
