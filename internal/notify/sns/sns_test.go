package sns_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/notify/sns"
)

type fakeSNS struct{ in []*awssns.PublishInput }

func (f *fakeSNS) Publish(_ context.Context, in *awssns.PublishInput, _ ...func(*awssns.Options)) (*awssns.PublishOutput, error) {
	f.in = append(f.in, in)
	return &awssns.PublishOutput{}, nil
}

func TestPublish(t *testing.T) {
	f := &fakeSNS{}
	const topic = "arn:aws:sns:us-east-1:123456789012:keywarden"
	m := &notify.Message{Kind: notify.KindDigest, Subject: "[keywarden] 2026-11-23: 4 findings — ✓", Text: "digest text"}
	if err := sns.New(f, topic).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	in := f.in[0]
	if aws.ToString(in.TopicArn) != topic || aws.ToString(in.Subject) != "[keywarden] 2026-11-23: 4 findings ? ?" || aws.ToString(in.Message) != "digest text" {
		t.Errorf("Publish(%q, %q, %q)", aws.ToString(in.TopicArn), aws.ToString(in.Subject), aws.ToString(in.Message))
	}
}

func TestSubjectAndBodyLimits(t *testing.T) {
	if got := sns.Subject(strings.Repeat("a", 150)); len(got) != 100 || !strings.HasSuffix(got, "...") {
		t.Errorf("Subject(150 chars) = %d chars %q; want 100 ending in ...", len(got), got)
	}
	if got := sns.Subject("a\nb"); got != "a b" {
		t.Errorf("Subject(a\\nb) = %q", got)
	}
	if got := sns.Subject(""); got != "keywarden" {
		t.Errorf("Subject(\"\") = %q", got)
	}
	long := strings.Repeat("line of the digest ✓\n", 20000)
	got := sns.Body(long)
	if len(got) > 256*1024 || !strings.HasSuffix(got, "see the email or outbox digest]\n") || !strings.HasPrefix(got, "line of the digest ✓\n") {
		t.Errorf("Body(%d bytes) = %d bytes ending %q", len(long), len(got), got[len(got)-60:])
	}
	if sns.Body("short") != "short" {
		t.Error("Body(short) changed it")
	}
}
