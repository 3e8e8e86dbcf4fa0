package webhook

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
)

// Schema identifies the payload's shape.
const Schema = "keywarden.webhook/v1"

// Payload is what the webhook receives.
type Payload struct {
	Schema  string    `json:"schema"`
	Kind    string    `json:"kind"`
	ID      string    `json:"id"`
	Date    time.Time `json:"date"`
	Subject string    `json:"subject"`
	// Text is the plain-text rendering (the digest_text template).
	Text string `json:"text"`
	// Digest is the structured digest (kind "digest").
	Digest *plan.Digest `json:"digest,omitempty"`
	// Message is the structured owner message (kind "user").
	Message *plan.Message `json:"message,omitempty"`
}

// Channel posts to one URL.
type Channel struct{ poster notify.Poster }

var _ notify.Channel = (*Channel)(nil)

// New returns a channel posting to url; client nil uses a client
// with a 30-second timeout.
func New(url string, client *http.Client) *Channel {
	return &Channel{poster: notify.NewPoster(url, client)}
}

// Name implements notify.Channel.
func (c *Channel) Name() string { return "webhook" }

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, m *notify.Message) error {
	p := Payload{Schema: Schema, Kind: string(m.Kind), ID: m.ID, Date: m.Date.UTC(), Subject: m.Subject, Text: m.Text,
		Digest: m.Digest, Message: m.User}
	if err := c.poster.Post(ctx, p); err != nil {
		return fmt.Errorf("webhook: post %s: %w", m.Kind, err)
	}
	return nil
}
