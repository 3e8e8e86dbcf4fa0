package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// BreakAfter is how many messages in a row a channel may fail slowly (a
// timeout, throttling through every retry) before the rest of the run's
// messages on it fail at once (Breaker).
const BreakAfter = 3

// ErrChannelDown marks a message not tried because its channel failed
// slowly BreakAfter times in a row in this run.
var ErrChannelDown = errors.New("not tried: the channel is down")

// Breaker returns ch failing every message at once, with ErrChannelDown,
// after after consecutive slow failures (Slow): a hung or throttling
// endpoint costs the run a few bounded sends, not one per message (at 30 s
// each, a thousand owners would hold the run for over eight hours). A
// success resets the count. The messages not tried are not recorded, so
// the next run sends them. after <= 0 returns ch unchanged.
func Breaker(ch Channel, after int) Channel {
	if after <= 0 {
		return ch
	}
	return &breaker{ch: ch, after: after}
}

type breaker struct {
	ch    Channel
	after int

	mu   sync.Mutex
	slow int
	last error
}

func (b *breaker) Name() string { return b.ch.Name() }

// Unwrap returns the guarded channel.
func (b *breaker) Unwrap() Channel { return b.ch }

// Close closes the guarded channel when it holds a connection (SMTP).
func (b *breaker) Close() error {
	if c, ok := b.ch.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (b *breaker) Send(ctx context.Context, m *Message) error {
	b.mu.Lock()
	if b.slow >= b.after {
		last := b.last
		b.mu.Unlock()
		return fmt.Errorf("%s: %w: %d messages in a row failed slowly in this run (the last: %v); the next run tries again",
			b.ch.Name(), ErrChannelDown, b.after, last)
	}
	b.mu.Unlock()
	err := b.ch.Send(ctx, m)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		b.slow = 0
	case Slow(err) && ctx.Err() == nil:
		b.slow++
		b.last = err
	default:
		b.slow = 0
	}
	return err
}

// Slow reports whether err is a failure that took a send's whole bound:
// a timeout, or throttling through every retry.
func Slow(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// A timeout: the network's, or an attempt's (awsapi.AttemptTimeoutError,
	// which a hung SES or SNS call ends with).
	var to interface{ Timeout() bool }
	if errors.As(err, &to) && to.Timeout() {
		return true
	}
	return unsentCodes.IsErrorThrottle(err).Bool()
}
