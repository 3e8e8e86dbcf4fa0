package sns

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/notify"
)

// SNS limits: a subject is at most 100 printable ASCII characters; a
// message at most 256 KiB.
const (
	maxSubject = 100
	maxMessage = 256 * 1024
)

// API is the part of SNS the channel uses; *sns.Client implements it.
type API interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Channel publishes to one topic.
type Channel struct {
	api   API
	topic string
}

var _ notify.Channel = (*Channel)(nil)

// New returns a channel publishing to topicARN.
func New(api API, topicARN string) *Channel { return &Channel{api: api, topic: topicARN} }

// Name implements notify.Channel.
func (c *Channel) Name() string { return "sns" }

// Send implements notify.Channel: the subject made ASCII and cut to SNS's
// limit, the text cut (at a line end) to SNS's size limit with a note.
// Bounded by notify.SendTimeout, retried only when SNS certainly did not
// take it (notify.RetryUnsent).
func (c *Channel) Send(ctx context.Context, m *notify.Message) error {
	ctx, cancel := context.WithTimeout(ctx, notify.SendTimeout)
	defer cancel()
	_, err := c.api.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(c.topic),
		Subject:  aws.String(Subject(m.Subject)),
		Message:  aws.String(Body(m.Text)),
	}, func(o *sns.Options) { o.Retryer = notify.RetryUnsent(o.Retryer) })
	if err != nil {
		return fmt.Errorf("sns: publish %s to %s: %w", m.Kind, c.topic, err)
	}
	return nil
}

// Subject makes s a valid SNS subject: printable ASCII (others become ?),
// one line, at most 100 characters.
func Subject(s string) string {
	s = notify.HeaderText(s)
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	if len(b) > maxSubject {
		b = append(b[:maxSubject-3], "..."...)
	}
	if len(b) == 0 {
		return "keywarden"
	}
	return string(b)
}

// Body cuts s to SNS's message size limit, at a line end, saying so.
func Body(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	const note = "\n[truncated: the message was longer than SNS allows; see the email or outbox digest]\n"
	cut := s[:maxMessage-len(note)]
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i]
	}
	for !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return cut + note
}
