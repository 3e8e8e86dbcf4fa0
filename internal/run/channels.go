package run

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/notify/outbox"
	"github.com/keywarden/keywarden/internal/notify/ses"
	"github.com/keywarden/keywarden/internal/notify/slack"
	"github.com/keywarden/keywarden/internal/notify/smtp"
	"github.com/keywarden/keywarden/internal/notify/sns"
	"github.com/keywarden/keywarden/internal/notify/webhook"
	"github.com/keywarden/keywarden/internal/plan"
)

// Channels are a run's channels: one for owner mail (notify.users.via) and
// one per digest target.
type Channels struct {
	User   notify.Channel
	Digest map[string]notify.Channel
}

// Close closes the channels that hold a connection.
func (c *Channels) Close() error {
	seen := map[notify.Channel]bool{}
	var err error
	for _, ch := range append([]notify.Channel{c.User}, mapValues(c.Digest)...) {
		if ch == nil || seen[ch] {
			continue
		}
		seen[ch] = true
		if cl, ok := ch.(io.Closer); ok {
			if e := cl.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	return err
}

// errNoAWS is returned when a channel needs AWS and the run has no way to
// load an SDK configuration.
var errNoAWS = errors.New("no AWS configuration available for this channel")

// failingSSM stands in for SSM when the SDK configuration failed to load.
type failingSSM struct{ err error }

func (f failingSSM) GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	return nil, f.err
}

func mapValues(m map[string]notify.Channel) []notify.Channel {
	var out []notify.Channel
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// ChannelDeps are what BuildChannels needs from outside.
type ChannelDeps struct {
	// AWS loads the SDK configuration (SES, SNS, SSM); called at most once,
	// and only when a channel needs AWS.
	AWS    func(ctx context.Context) (aws.Config, error)
	Getenv func(string) string
}

// BuildChannels sets up the channels cfg names. A channel that cannot be
// set up (a missing secret, no AWS configuration) becomes a
// notify.Failing, so the others still deliver and the failure is reported
// with every message it should have carried.
func BuildChannels(ctx context.Context, cfg *config.Config, deps ChannelDeps) *Channels {
	n := cfg.Notify
	var (
		once   sync.Once
		awsCfg aws.Config
		awsErr error
	)
	loadAWS := func() (aws.Config, error) {
		once.Do(func() {
			if deps.AWS == nil {
				awsErr = errNoAWS
				return
			}
			awsCfg, awsErr = deps.AWS(ctx)
		})
		return awsCfg, awsErr
	}
	secrets := &notify.Secrets{Getenv: deps.Getenv}
	if n.SMTP.PasswordSSM != "" || n.Admins.SlackWebhookSSM != "" || n.Admins.WebhookURLSSM != "" {
		if c, err := loadAWS(); err != nil {
			secrets.SSM = failingSSM{err}
		} else {
			secrets.SSM = ssm.NewFromConfig(c)
		}
	}

	var mail notify.Channel
	switch n.Users.Via {
	case "ses":
		if c, err := loadAWS(); err != nil {
			mail = &notify.Failing{ChannelName: "ses", Err: err}
		} else {
			mail = ses.New(sesv2.NewFromConfig(c, func(o *sesv2.Options) {
				if n.SES.Region != "" {
					o.Region = n.SES.Region
				}
			}), n.SES.ConfigurationSet)
		}
	case "smtp":
		o := smtp.Options{Host: n.SMTP.Host, Port: n.SMTP.Port, Username: n.SMTP.Username,
			StartTLS: n.SMTP.StartTLS == nil || *n.SMTP.StartTLS}
		mail = smtp.New(o)
		if n.SMTP.Username != "" {
			pw, err := secrets.Get(ctx, n.SMTP.PasswordEnv, n.SMTP.PasswordSSM, "the SMTP password")
			if err != nil {
				mail = &notify.Failing{ChannelName: "smtp", Err: err}
			} else {
				o.Password = pw
				mail = smtp.New(o)
			}
		}
	default:
		mail = outbox.New(n.Outbox.Dir)
	}
	mail = notify.Breaker(notify.Throttle(mail, n.RatePerSecond), notify.BreakAfter)

	chs := &Channels{User: mail, Digest: map[string]notify.Channel{}}
	for _, t := range plan.Targets(cfg) {
		switch t {
		case plan.TargetEmail:
			chs.Digest[t] = mail
		case plan.TargetOutbox:
			if n.Users.Via == "outbox" || n.Users.Via == "" {
				chs.Digest[t] = mail
			} else {
				chs.Digest[t] = outbox.New(n.Outbox.Dir)
			}
		case plan.TargetSNS:
			if c, err := loadAWS(); err != nil {
				chs.Digest[t] = &notify.Failing{ChannelName: "sns", Err: err}
			} else {
				chs.Digest[t] = sns.New(awssns.NewFromConfig(c), n.Admins.SNSTopicARN)
			}
		case plan.TargetSlack:
			if url, err := secrets.GetURL(ctx, n.Admins.SlackWebhookEnv, n.Admins.SlackWebhookSSM, "the Slack webhook URL"); err != nil {
				chs.Digest[t] = &notify.Failing{ChannelName: "slack", Err: err}
			} else {
				chs.Digest[t] = slack.New(url, nil)
			}
		case plan.TargetWebhook:
			if url, err := secrets.GetURL(ctx, n.Admins.WebhookURLEnv, n.Admins.WebhookURLSSM, "the webhook URL"); err != nil {
				chs.Digest[t] = &notify.Failing{ChannelName: "webhook", Err: err}
			} else {
				chs.Digest[t] = webhook.New(url, nil)
			}
		}
	}
	return chs
}
