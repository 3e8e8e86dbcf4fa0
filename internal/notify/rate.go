package notify

import (
	"context"
	"io"
	"sync"
	"time"
)

// Throttle returns ch sending at most perSecond messages a second: after
// the first message, each Send waits 1/perSecond (less the time the
// previous send took is not subtracted: a steady, conservative pace).
// perSecond <= 0 returns ch unchanged.
func Throttle(ch Channel, perSecond float64) Channel {
	if perSecond <= 0 {
		return ch
	}
	return &throttled{ch: ch, interval: time.Duration(float64(time.Second) / perSecond), wait: sleep}
}

type throttled struct {
	ch       Channel
	interval time.Duration
	wait     func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	started bool
}

func (t *throttled) Name() string { return t.ch.Name() }

// Close closes the paced channel when it holds a connection (SMTP).
func (t *throttled) Close() error {
	if c, ok := t.ch.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Unwrap returns the paced channel.
func (t *throttled) Unwrap() Channel { return t.ch }

func (t *throttled) Send(ctx context.Context, m *Message) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		if err := t.wait(ctx, t.interval); err != nil {
			return err
		}
	}
	t.started = true
	return t.ch.Send(ctx, m)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
