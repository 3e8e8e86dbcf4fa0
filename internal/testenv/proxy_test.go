package testenv

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// TestProxyRecordsOperations: query-protocol (IAM, STS) and REST (SES v2)
// operations are named, with the signing key and the form parameters.
func TestProxyRecordsOperations(t *testing.T) {
	m := Moto(t)
	p := m.NewProxy(t)
	ctx := context.Background()
	cfg := p.Config(t, m)
	client := iam.NewFromConfig(cfg)
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	ses := sesv2.NewFromConfig(cfg)
	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("example.com")}); err != nil {
		t.Fatal(err)
	}
	_, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: aws.String("a@example.com"),
		Destination: &sestypes.Destination{ToAddresses: []string{"b@example.com"}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{Subject: &sestypes.Content{Data: aws.String("s")},
			Body: &sestypes.Body{Text: &sestypes.Content{Data: aws.String("b")}}}}})
	if err != nil {
		t.Fatal(err)
	}

	var names []string
	for _, op := range p.Ops() {
		names = append(names, op.Name())
		if op.AccessKeyID != TestCredential {
			t.Errorf("%s signed by %q; want %q", op.Name(), op.AccessKeyID, TestCredential)
		}
	}
	want := []string{"iam:CreateUser", "iam:ListAccessKeys", "sts:GetCallerIdentity", "ses:CreateEmailIdentity", "ses:SendEmail"}
	if !slices.Equal(names, want) {
		t.Errorf("operations = %v; want %v", names, want)
	}
	if got := p.Ops()[1].Params.Get("UserName"); got != "alice" {
		t.Errorf("ListAccessKeys UserName param = %q; want alice", got)
	}
	if p.Count("iam:ListAccessKeys") != 1 {
		t.Errorf("Count(iam:ListAccessKeys) = %d; want 1", p.Count("iam:ListAccessKeys"))
	}
}

// TestProxyInjectsFaults: an AccessDenied answer reaches the SDK with its
// code; a Throttling fault limited to two answers is retried through by the
// SDK; the request never reaches moto while the fault answers.
func TestProxyInjectsFaults(t *testing.T) {
	m := Moto(t)
	p := m.NewProxy(t)
	ctx := context.Background()
	client := iam.NewFromConfig(p.Config(t, m))

	p.Inject(Fault{Match: IsOp("iam:CreateUser"), Times: 1, Code: "AccessDenied", Status: http.StatusForbidden,
		Message: "User is not authorized to perform: iam:CreateUser"})
	_, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("denied")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("CreateUser through an AccessDenied fault: err = %v; want code AccessDenied", err)
	}
	if _, err := iam.NewFromConfig(m.Config(t)).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("denied")}); err == nil {
		t.Error("the denied CreateUser reached moto")
	}

	p.Inject(Fault{Match: IsOp("iam:ListUsers"), Times: 2, Code: "Throttling", Message: "Rate exceeded"})
	if _, err := client.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("ListUsers after two throttled attempts (3 allowed): %v", err)
	}
	if n := p.Count("iam:ListUsers"); n != 3 {
		t.Errorf("ListUsers attempts = %d; want 3 (two throttled, one through)", n)
	}
}

// TestProxyHooks: Before changes moto ahead of the request it matched;
// After runs once moto has answered, before the client gets the answer.
func TestProxyHooks(t *testing.T) {
	m := Moto(t)
	p := m.NewProxy(t)
	ctx := context.Background()
	direct := iam.NewFromConfig(m.Config(t))
	var order []string
	p.Inject(Fault{Match: IsOp("iam:ListUsers"), Times: 1,
		Before: func(Op) {
			order = append(order, "before")
			if _, err := direct.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("late")}); err != nil {
				t.Error(err)
			}
		},
		After: func(Op) { order = append(order, "after") }})
	out, err := iam.NewFromConfig(p.Config(t, m)).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	order = append(order, "answered")
	if len(out.Users) != 1 || aws.ToString(out.Users[0].UserName) != "late" {
		t.Errorf("ListUsers = %v; want the user Before created", out.Users)
	}
	if !slices.Equal(order, []string{"before", "after", "answered"}) {
		t.Errorf("order = %v; want before, after, answered", order)
	}
}

// TestProxyTellsAccounts: requests signed with keys from an AssumeRole
// through the proxy are attributed to the role's account, and a fault can
// target one account's operation.
func TestProxyTellsAccounts(t *testing.T) {
	m := Moto(t)
	p := m.NewProxy(t)
	ctx := context.Background()
	const member = "222222222222"
	out, err := sts.NewFromConfig(p.Config(t, m)).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + member + ":role/Audit"), RoleSessionName: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.Config(t, m)
	c := out.Credentials
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	p.Inject(Fault{Match: InAccount(member, "iam:ListUsers"), Code: "AccessDenied", Status: http.StatusForbidden})

	if _, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{}); err == nil {
		t.Error("ListUsers in the member account went through; want the injected AccessDenied")
	}
	if _, err := iam.NewFromConfig(p.Config(t, m)).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("ListUsers in %s: %v; want the fault to spare other accounts", AccountID, err)
	}
	var got []string
	for _, op := range p.Ops() {
		got = append(got, op.Name()+"@"+op.Account)
	}
	want := []string{"sts:AssumeRole@" + AccountID, "iam:ListUsers@" + member, "iam:ListUsers@" + AccountID}
	if !slices.Equal(got, want) {
		t.Errorf("operations = %v; want %v", got, want)
	}
	if p.CountIn(member) != 1 {
		t.Errorf("CountIn(%s) = %d; want 1", member, p.CountIn(member))
	}
}

// TestProxyRecordsConnection: requests one client sends one after the
// other come on one connection, and the proxy records the same Conn for
// them; another client's request comes on another.
func TestProxyRecordsConnection(t *testing.T) {
	m := Moto(t)
	p := m.NewProxy(t)
	ctx := context.Background()
	client := sts.NewFromConfig(p.Config(t, m))
	for range 2 {
		if _, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sts.NewFromConfig(p.Config(t, m)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	ops := p.Ops()
	if len(ops) != 3 || ops[0].Conn == "" || ops[1].Conn != ops[0].Conn || ops[2].Conn == ops[0].Conn {
		var conns []string
		for _, op := range ops {
			conns = append(conns, op.Conn)
		}
		t.Errorf("connections = %q; want the first two alike (one client, kept alive), the third another", conns)
	}
}

// TestProxyFailsAfterForward: the write reaches moto (the user exists)
// and the client gets the injected error instead of moto's answer.
func TestProxyFailsAfterForward(t *testing.T) {
	m := Moto(t)
	p := m.NewProxy(t)
	ctx := context.Background()
	client := iam.NewFromConfig(p.Config(t, m), func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	p.Inject(Fault{Match: IsOp("iam:CreateUser"), Times: 1, AfterForward: true, Code: "ServiceUnavailable", Status: http.StatusServiceUnavailable})
	_, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("after-forward")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ServiceUnavailable" {
		t.Fatalf("CreateUser error = %v; want the injected ServiceUnavailable", err)
	}
	if _, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("after-forward")}); err != nil {
		t.Errorf("the user was not created behind the error: %v", err)
	}
	p.Inject(Fault{Match: IsOp("iam:CreateUser"), Times: 1, AfterForward: true, Drop: true})
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("after-forward-drop")}); err == nil {
		t.Fatal("CreateUser over a dropped connection succeeded")
	}
	if _, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("after-forward-drop")}); err != nil {
		t.Errorf("the user was not created behind the dropped answer: %v", err)
	}
}

// TestProxyHangs: a hung call answers nothing until the client gives up.
func TestProxyHangs(t *testing.T) {
	m := Moto(t)
	p := m.NewProxy(t)
	p.Inject(Fault{Match: IsOp("iam:ListUsers"), Hang: true})
	client := iam.NewFromConfig(p.Config(t, m), func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.ListUsers(ctx, &iam.ListUsersInput{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ListUsers error = %v; want the client's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the hung call returned after %s", d)
	}
}

// TestProxyFaultChance: a fault with a chance answers about that share of
// the matching requests, the same ones for the same seed.
func TestProxyFaultChance(t *testing.T) {
	draw := func(seed uint64) []bool {
		f := &Fault{Chance: 0.3, Seed: seed}
		out := make([]bool, 1000)
		for i := range out {
			out[i] = f.applies()
		}
		return out
	}
	a, b := draw(7), draw(7)
	if !slices.Equal(a, b) {
		t.Error("the same seed drew different requests")
	}
	n := 0
	for _, x := range a {
		if x {
			n++
		}
	}
	if n < 250 || n > 350 {
		t.Errorf("%d of 1000 requests faulted; want about 300", n)
	}
}

// TestSeedToleratesItsOwnRetry: a create whose answer is lost after it
// took effect is retried by the SDK into EntityAlreadyExists; the seed
// takes that for its own create, and the user has its login profile.
func TestSeedToleratesItsOwnRetry(t *testing.T) {
	m := Moto(t)
	p := m.NewProxy(t)
	p.Inject(Fault{Match: IsOp("iam:CreateLoginProfile"), Times: 1, AfterForward: true, Drop: true})
	p.Inject(Fault{Match: IsOp("iam:CreateUser"), Times: 1, AfterForward: true, Drop: true})
	cfg := p.Config(t, m)
	m.SeedInto(t, cfg, []SeedUser{{Name: "retried", PasswordAgeDays: 10, PasswordLastUsedDaysAgo: -1}})
	if p.Count("iam:CreateLoginProfile") != 2 || p.Count("iam:CreateUser") != 2 {
		t.Fatalf("CreateUser %d, CreateLoginProfile %d calls; want each retried once", p.Count("iam:CreateUser"), p.Count("iam:CreateLoginProfile"))
	}
	if _, err := iam.NewFromConfig(m.Config(t)).GetLoginProfile(context.Background(), &iam.GetLoginProfileInput{UserName: aws.String("retried")}); err != nil {
		t.Errorf("the seeded user has no login profile: %v", err)
	}
}
