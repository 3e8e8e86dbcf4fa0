package ses

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keywarden/keywarden/internal/notify"
)

// API is the part of SES v2 the channel uses; *sesv2.Client implements it.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Channel sends mail through SES v2.
type Channel struct {
	api              API
	configurationSet string
}

var _ notify.Channel = (*Channel)(nil)

// New returns an SES channel; configurationSet may be empty.
func New(api API, configurationSet string) *Channel {
	return &Channel{api: api, configurationSet: configurationSet}
}

// Name implements notify.Channel.
func (c *Channel) Name() string { return "ses" }

// Send implements notify.Channel. An SES rejection (MessageRejected, an
// unverified address) fails this message only. The send is bounded by
// notify.SendTimeout and retried only when SES certainly did not take it
// (notify.RetryUnsent): an answer lost after SES accepted the message
// fails the delivery, which the next run sends again, once.
func (c *Channel) Send(ctx context.Context, m *notify.Message) error {
	if len(m.To) == 0 {
		return fmt.Errorf("ses: %s message %s has no recipient", m.Kind, m.ID)
	}
	raw, err := m.MIME()
	if err != nil {
		return fmt.Errorf("ses: %w", err)
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.From),
		Destination:      &types.Destination{ToAddresses: m.To},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: raw}},
	}
	if c.configurationSet != "" {
		in.ConfigurationSetName = aws.String(c.configurationSet)
	}
	ctx, cancel := context.WithTimeout(ctx, notify.SendTimeout)
	defer cancel()
	if _, err := c.api.SendEmail(ctx, in, func(o *sesv2.Options) { o.Retryer = notify.RetryUnsent(o.Retryer) }); err != nil {
		return fmt.Errorf("ses: send %s to %s: %w", m.Kind, strings.Join(m.To, ", "), err)
	}
	return nil
}
