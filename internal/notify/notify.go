package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/plan"
)

// Kind says what a message is.
type Kind string

// Message kinds.
const (
	KindUser   Kind = "user"   // an owner message
	KindDigest Kind = "digest" // the admin digest
)

// Message is one rendered notification. Mail channels (ses, smtp, outbox)
// send From, To, Subject, Text and HTML as a MIME message; the others use
// Subject and Text (sns) or the structured Digest (slack, webhook).
type Message struct {
	Kind Kind
	// ID is unique per message; it makes the Message-ID header and the
	// outbox file name.
	ID      string
	From    string
	To      []string
	Subject string
	Text    string
	HTML    string
	// Date is the Date header (the run's wall-clock time).
	Date time.Time
	// User is the owner message this was rendered from (KindUser).
	User *plan.Message
	// Digest is the digest this was rendered from (KindDigest).
	Digest *plan.Digest
	// Attachments go with the mail channels' MIME message (the digest's
	// CSV of every entry when a section was cut to
	// notify.admins.max_items); the other channels carry the Text.
	Attachments []Attachment
}

// Attachment is a file attached to a mailed message.
type Attachment struct {
	// Name is the file name, e.g. keywarden-digest-2026-11-23.csv.
	Name string
	// Type is its media type, e.g. text/csv.
	Type string
	Data []byte
}

// Channel delivers messages. Send returns an error when the message was
// not delivered (it is then not recorded, and the next run tries again).
type Channel interface {
	// Name is the channel's name in logs and errors: ses, smtp, sns, slack,
	// webhook or outbox.
	Name() string
	Send(ctx context.Context, m *Message) error
}

// RedactURL removes the URL from err's text (net/http puts the whole URL,
// a secret for webhooks, into its errors) and keeps the rest. A parse
// error becomes a fixed text: url.Parse quotes the part it could not read
// (a malformed port, an escape), which is part of the secret. In other
// errors the URL's path, query, fragment and user info are blanked out
// wherever the underlying error repeats them; the host is kept, to tell
// a DNS or connection failure.
func RedactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if ue.Op == "parse" {
		return errors.New("the URL is not valid (it is not shown: it is a secret)")
	}
	return fmt.Errorf("%s [URL redacted]: %w", ue.Op, redacted{err: ue.Err, secrets: urlSecrets(ue.URL)})
}

// urlSecrets lists the parts of raw that may hold a secret, longest
// first: the URL itself, its user info, path, query and fragment.
func urlSecrets(raw string) []string {
	out := []string{raw}
	if u, err := url.Parse(raw); err == nil {
		if u.User != nil {
			out = append(out, u.User.String())
		}
		out = append(out, u.EscapedPath(), u.Path, u.RawQuery, u.Fragment)
	}
	var keep []string
	for _, s := range out {
		if len(s) > 1 && !slices.Contains(keep, s) {
			keep = append(keep, s)
		}
	}
	slices.SortFunc(keep, func(a, b string) int { return len(b) - len(a) })
	return keep
}

// redacted wraps an error so that errors.Is/As still see it, with the
// secrets blanked out of its text.
type redacted struct {
	err     error
	secrets []string
}

func (r redacted) Error() string {
	if r.err == nil {
		return "error"
	}
	s := r.err.Error()
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}
func (r redacted) Unwrap() error { return r.err }

// Failing is a channel that could not be set up (a missing secret, say):
// every Send fails with Err, so the other channels still deliver and the
// failure is reported with theirs.
type Failing struct {
	ChannelName string
	Err         error
}

// Name implements Channel.
func (f *Failing) Name() string { return f.ChannelName }

// Send implements Channel.
func (f *Failing) Send(context.Context, *Message) error { return f.Err }
