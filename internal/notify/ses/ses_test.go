package ses_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/notify/ses"
	"github.com/keywarden/keywarden/internal/testenv"
)

type fakeSES struct {
	in  []*sesv2.SendEmailInput
	err error
}

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.in = append(f.in, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("m-1")}, nil
}

func msg() *notify.Message {
	return &notify.Message{Kind: notify.KindUser, ID: "r.u1", From: "Security <security@example.com>", To: []string{"alice@example.com"},
		Subject: "keys", Text: "plain", HTML: "<p>html</p>", Date: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
}

func TestSendRawMultipart(t *testing.T) {
	f := &fakeSES{}
	if err := ses.New(f, "keywarden-mail").Send(context.Background(), msg()); err != nil {
		t.Fatal(err)
	}
	if len(f.in) != 1 {
		t.Fatalf("SendEmail called %d times; want 1", len(f.in))
	}
	in := f.in[0]
	if aws.ToString(in.FromEmailAddress) != "Security <security@example.com>" || aws.ToString(in.ConfigurationSetName) != "keywarden-mail" ||
		strings.Join(in.Destination.ToAddresses, ",") != "alice@example.com" || in.Content.Simple != nil || in.Content.Raw == nil {
		t.Fatalf("SendEmail input: from %q, configuration set %q, to %v, raw %v", aws.ToString(in.FromEmailAddress),
			aws.ToString(in.ConfigurationSetName), in.Destination.ToAddresses, in.Content.Raw != nil)
	}
	m := testenv.ParseMail(t, string(in.Content.Raw.Data))
	if m.Text != "plain" || m.HTML != "<p>html</p>" || m.Subject != "keys" {
		t.Errorf("raw message: subject %q, text %q, HTML %q", m.Subject, m.Text, m.HTML)
	}
	// A digest's CSV goes in the raw message.
	f.in = nil
	withCSV := msg()
	withCSV.Attachments = []notify.Attachment{{Name: "keywarden-digest-2026-11-23.csv", Type: "text/csv; charset=utf-8", Data: []byte("kind,user\nfinding,alice\n")}}
	if err := ses.New(f, "").Send(context.Background(), withCSV); err != nil {
		t.Fatal(err)
	}
	if m := testenv.ParseMail(t, string(f.in[0].Content.Raw.Data)); m.Text != "plain" ||
		string(m.Attachments["keywarden-digest-2026-11-23.csv"]) != "kind,user\nfinding,alice\n" {
		t.Errorf("raw message with a CSV: parts %v, text %q, attachments %q", m.Parts, m.Text, m.Attachments)
	}
	f.in = nil
	if err := ses.New(f, "").Send(context.Background(), msg()); err != nil || f.in[0].ConfigurationSetName != nil {
		t.Errorf("without a configuration set: %v, %v; want none passed", err, f.in[0].ConfigurationSetName)
	}
}

func TestSendRejected(t *testing.T) {
	f := &fakeSES{err: &types.MessageRejected{Message: aws.String("Email address is not verified.")}}
	err := ses.New(f, "").Send(context.Background(), msg())
	var rej *types.MessageRejected
	if !errors.As(err, &rej) || !strings.Contains(err.Error(), "ses: send user to alice@example.com") {
		t.Errorf("Send() = %v; want a wrapped MessageRejected naming the recipient", err)
	}
	if err := ses.New(f, "").Send(context.Background(), &notify.Message{ID: "x", From: "a@example.com", Text: "x"}); err == nil {
		t.Error("Send() without recipients = nil error")
	}
}
