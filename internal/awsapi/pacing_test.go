package awsapi_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestAttemptTimeoutRetriesAHungAttempt: the first ListUsers never
// answers; its attempt is cancelled at the per-attempt timeout and the
// retry gets moto's answer.
func TestAttemptTimeoutRetriesAHungAttempt(t *testing.T) {
	t.Setenv(awsapi.AttemptTimeoutEnv, "500ms")
	m := testenv.Moto(t)
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:ListUsers"), Times: 1, Hang: true})
	cfg := awsapi.WithRetries(p.Config(t, m), 0)

	start := time.Now()
	if _, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
		t.Fatalf("ListUsers after one hung attempt: %v", err)
	}
	if n := p.Count("iam:ListUsers"); n != 2 {
		t.Errorf("the proxy saw %d ListUsers attempts; want 2 (one hung, one answered)", n)
	}
	// 500 ms for the hung attempt, then a retry after at most 50 ms;
	// generous slack for a loaded machine.
	if d := time.Since(start); d < 500*time.Millisecond || d > 10*time.Second {
		t.Errorf("ListUsers took %s; want the 500 ms timeout, then the retry", d)
	}
}

// TestAttemptTimeoutFailsTheCall: a call that never answers is tried
// MaxTimedOutAttempts times (fewer than accounts.max_attempts allows) and
// fails with an AttemptTimeoutError naming the operation and the timeout,
// within about MaxTimedOutAttempts × the timeout.
func TestAttemptTimeoutFailsTheCall(t *testing.T) {
	t.Setenv(awsapi.AttemptTimeoutEnv, "400ms")
	m := testenv.Moto(t)
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:GetAccountAuthorizationDetails"), Hang: true})
	cfg := awsapi.WithRetries(p.Config(t, m), 8)

	start := time.Now()
	_, err := iam.NewFromConfig(cfg).GetAccountAuthorizationDetails(context.Background(), &iam.GetAccountAuthorizationDetailsInput{})
	d := time.Since(start)
	var te *awsapi.AttemptTimeoutError
	if !errors.As(err, &te) || !awsapi.IsAttemptTimeout(err) {
		t.Fatalf("err = %v; want an AttemptTimeoutError", err)
	}
	if te.Service != "IAM" || te.Operation != "GetAccountAuthorizationDetails" || te.Limit != 400*time.Millisecond || te.TimedOut != awsapi.MaxTimedOutAttempts {
		t.Errorf("error = %+v; want IAM GetAccountAuthorizationDetails, 400ms, %d timed out", te, awsapi.MaxTimedOutAttempts)
	}
	for _, s := range []string{"GetAccountAuthorizationDetails", "did not answer within 400ms"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q does not say %q", err, s)
		}
	}
	if n := p.Count("iam:GetAccountAuthorizationDetails"); n != awsapi.MaxTimedOutAttempts {
		t.Errorf("the proxy saw %d attempts; want %d", n, awsapi.MaxTimedOutAttempts)
	}
	if min := awsapi.MaxTimedOutAttempts * 400 * time.Millisecond; d < min || d > min+10*time.Second {
		t.Errorf("the call failed after %s; want about %s (attempts × timeout, plus backoff)", d, min)
	}
}

// TestAttemptTimeoutCallerDeadline: when the caller's context ends, the
// call ends with the caller's error, not an attempt timeout.
func TestAttemptTimeoutCallerDeadline(t *testing.T) {
	t.Setenv(awsapi.AttemptTimeoutEnv, "5s")
	m := testenv.Moto(t)
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:ListUsers"), Hang: true})
	cfg := awsapi.WithRetries(p.Config(t, m), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
	if err == nil || awsapi.IsAttemptTimeout(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v; want the caller's deadline", err)
	}
	if n := p.Count("iam:ListUsers"); n != 1 {
		t.Errorf("%d attempts; want 1 (the caller gave up)", n)
	}
}

// TestAttemptTimeoutsBySize: the calls whose answer can be megabytes get
// the long timeout, every other call the short one; the default budget of
// one call that never answers stays under 2 minutes.
func TestAttemptTimeoutsBySize(t *testing.T) {
	for _, tt := range []struct {
		service, op string
		want        time.Duration
	}{
		{"IAM", "GetCredentialReport", awsapi.LargeAttemptTimeout},
		{"IAM", "GetAccountAuthorizationDetails", awsapi.LargeAttemptTimeout},
		{"S3", "GetObject", awsapi.LargeAttemptTimeout},
		{"IAM", "ListAccessKeys", awsapi.DefaultAttemptTimeout},
		{"STS", "AssumeRole", awsapi.DefaultAttemptTimeout},
		{"SESv2", "SendEmail", awsapi.DefaultAttemptTimeout},
		{"DynamoDB", "TransactWriteItems", awsapi.DefaultAttemptTimeout},
	} {
		if got := awsapi.AttemptTimeout(tt.service, tt.op); got != tt.want {
			t.Errorf("AttemptTimeout(%s, %s) = %s; want %s", tt.service, tt.op, got, tt.want)
		}
	}
	// Backoff between timed-out attempts: 50 ms × 2^i with full jitter.
	worst := time.Duration(awsapi.MaxTimedOutAttempts)*awsapi.LargeAttemptTimeout + 50*time.Millisecond + 100*time.Millisecond
	if worst > 2*time.Minute {
		t.Errorf("a hung large call can hold a scan %s; want at most 2 minutes", worst)
	}
}

// TestAttemptTimeoutLetsAStreamedBodyBeRead: s3:GetObject's body is read
// after the call returns; the attempt's deadline must not cut it.
func TestAttemptTimeoutLetsAStreamedBodyBeRead(t *testing.T) {
	t.Setenv(awsapi.AttemptTimeoutEnv, "5s")
	m := testenv.Moto(t)
	cfg := awsapi.WithRetries(m.Config(t), 0)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pacing-body")}); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("keywarden ", 100000)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pacing-body"), Key: aws.String("k"), Body: strings.NewReader(want)}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pacing-body"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	if err != nil || string(got) != want {
		t.Fatalf("read the body: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	if err := out.Body.Close(); err != nil {
		t.Error(err)
	}
}

// TestPacerPacesEveryAttempt: the account's token bucket is taken by every
// attempt, retries included, and holds the rate once the burst is spent.
func TestPacerPacesEveryAttempt(t *testing.T) {
	m := testenv.Moto(t)
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:ListUsers"), Times: 2, Code: "Throttling", Message: "Rate exceeded"})
	pacer := awsapi.NewPacer(1000, 1000)
	cfg := pacer.Pace(awsapi.WithRetries(p.Config(t, m), 0))
	if _, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := pacer.Taken(); n != 3 || p.Count("iam:ListUsers") != 3 {
		t.Errorf("%d tokens taken for %d attempts; want 3 and 3", n, p.Count("iam:ListUsers"))
	}

	// 10 a second, burst 5: 25 tokens take at least 2 s.
	slow := awsapi.NewPacer(10, 5)
	start := time.Now()
	for range 25 {
		if err := slow.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 1900*time.Millisecond {
		t.Errorf("25 tokens at 10/s with a burst of 5 took %s; want at least 2 s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := slow.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a done context with an empty bucket = %v; want context.Canceled", err)
	}
}

// TestThrottlingDoesNotSlowLaterCalls: after a burst of throttling, later
// calls go at full speed (the adaptive mode paced the client to about
// 2 calls a second for the rest of the run).
func TestThrottlingDoesNotSlowLaterCalls(t *testing.T) {
	m := testenv.Moto(t)
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:ListAccountAliases"), Times: 5, Code: "Throttling", Message: "Rate exceeded"})
	client := iam.NewFromConfig(awsapi.WithRetries(p.Config(t, m), 8))
	ctx := context.Background()
	for range 5 {
		if _, err := client.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for range 60 {
		if _, err := client.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	// Fault-free, 60 calls to moto take well under a second; at the
	// adaptive mode's 1.5–2 a second they took 30 s or more.
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("60 calls after the throttling took %s; want no lasting slowdown", d)
	}
}

// TestLoadConfigClientsTimeOut: the clients of a configuration from
// LoadConfig — every client keywarden builds outside a scan: the state
// store's, the channels', Security Hub's — get the per-attempt timeouts
// too, and an unusable KEYWARDEN_AWS_ATTEMPT_TIMEOUT is refused.
func TestLoadConfigClientsTimeOut(t *testing.T) {
	m := testenv.Moto(t)
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{Match: testenv.IsOp("sts:GetCallerIdentity"), Hang: true})
	for _, kv := range p.Env(m) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv(awsapi.AttemptTimeoutEnv, "300ms")
	cfg, err := awsapi.LoadConfig(context.Background(), awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if !awsapi.IsAttemptTimeout(err) {
		t.Errorf("GetCallerIdentity that never answers = %v; want an attempt timeout", err)
	}
	if n := p.Count("sts:GetCallerIdentity"); n != awsapi.MaxTimedOutAttempts {
		t.Errorf("%d attempts; want %d", n, awsapi.MaxTimedOutAttempts)
	}

	t.Setenv(awsapi.AttemptTimeoutEnv, "soon")
	if _, err := awsapi.LoadConfig(context.Background(), awsapi.Options{}); err == nil || !strings.Contains(err.Error(), awsapi.AttemptTimeoutEnv) {
		t.Errorf("LoadConfig with %s=soon: %v; want an error naming the variable", awsapi.AttemptTimeoutEnv, err)
	}
}
