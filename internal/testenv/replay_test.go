package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// rawAnswer is one HTTP answer as the SDK received it.
type rawAnswer struct {
	status      int
	contentType string
	body        []byte
}

// rawClient is the SDK's HTTP client, keeping every answer it receives.
type rawClient struct {
	mu  sync.Mutex
	got []rawAnswer
}

func (c *rawClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	c.got = append(c.got, rawAnswer{resp.StatusCode, resp.Header.Get("Content-Type"), body})
	c.mu.Unlock()
	return resp, nil
}

func (c *rawClient) take() []rawAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.got = nil
	return got
}

// TestProxyRecordReplay: answers recorded from moto (query protocol,
// JSON protocol, an error answer, an AssumeRole) are replayed byte for
// byte without reaching moto, the replayed AssumeRole's keys are
// attributed to the role's account, and a request never recorded goes to
// moto and is listed as missed.
func TestProxyRecordReplay(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	// Count the requests that reach moto: the proxy's target is a
	// counting front for it.
	var motoHits atomic.Int64
	target, _ := url.Parse(m.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		motoHits.Add(1)
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	counted := *m
	counted.URL = front.URL
	p := counted.NewProxy(t)

	const member = "333333333333"
	role := "arn:aws:iam::" + member + ":role/Audit"
	memberDirect := iam.NewFromConfig(m.AssumeRoleConfig(t, role))
	if _, err := memberDirect.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(m.Config(t)).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("t"), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
	}); err != nil {
		t.Fatal(err)
	}

	raw := &rawClient{}
	// scan makes the same requests each time: AssumeRole into member,
	// then, with its keys, ListUsers and GetAccountPasswordPolicy (an
	// error: the account has none), and DescribeTable as the caller.
	scan := func() (keyID string, users []string, policyErr error) {
		t.Helper()
		cfg := p.Config(t, m)
		cfg.HTTPClient = raw
		out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("replay")})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		mcfg := cfg.Copy()
		mcfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
		mcfg.RetryMaxAttempts = 1
		list, err := iam.NewFromConfig(mcfg).ListUsers(ctx, &iam.ListUsersInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list.Users {
			users = append(users, aws.ToString(u.UserName))
		}
		_, policyErr = iam.NewFromConfig(mcfg).GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
		if _, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("t")}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(c.AccessKeyId), users, policyErr
	}
	accounts := func() []string {
		var got []string
		for _, op := range p.Ops() {
			got = append(got, op.Name()+"@"+op.Account)
		}
		return got
	}
	wantAccounts := []string{"sts:AssumeRole@" + AccountID, "iam:ListUsers@" + member, "iam:GetAccountPasswordPolicy@" + member, "dynamodb:DescribeTable@" + AccountID}

	p.Record()
	recKey, recUsers, recErr := scan()
	recorded := raw.take()
	if n := motoHits.Load(); n != 4 {
		t.Fatalf("requests that reached moto while recording = %d; want 4", n)
	}
	var noSuch *types.NoSuchEntityException
	if !errors.As(recErr, &noSuch) {
		t.Fatalf("GetAccountPasswordPolicy while recording: %v; want NoSuchEntity", recErr)
	}
	if p.Recorded() != 4 {
		t.Errorf("Recorded() = %d; want 4", p.Recorded())
	}

	// moto changes: a replayed ListUsers does not see bob.
	if _, err := memberDirect.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	// The attribution learnt from the recorded AssumeRole is forgotten:
	// the replayed one must teach it again.
	p.mu.Lock()
	clear(p.assumed)
	p.mu.Unlock()
	p.Reset()
	p.Replay()
	const delay = 30 * time.Millisecond
	p.SetDelay(delay)
	hits := motoHits.Load()
	key, users, policyErr := scan()
	replayed := raw.take()
	if n := motoHits.Load() - hits; n != 0 {
		t.Errorf("requests that reached moto while replaying = %d; want 0", n)
	}
	if key != recKey {
		t.Errorf("replayed AssumeRole key = %s; want the recorded %s", key, recKey)
	}
	if !slices.Equal(users, recUsers) || !slices.Equal(users, []string{"alice"}) {
		t.Errorf("replayed ListUsers = %v; want the recorded %v (not moto's alice and bob)", users, recUsers)
	}
	if !errors.As(policyErr, &noSuch) {
		t.Errorf("replayed GetAccountPasswordPolicy: %v; want NoSuchEntity", policyErr)
	}
	if len(replayed) != len(recorded) {
		t.Fatalf("%d answers replayed; want %d", len(replayed), len(recorded))
	}
	for i := range recorded {
		r, g := recorded[i], replayed[i]
		if g.status != r.status || g.contentType != r.contentType || !bytes.Equal(g.body, r.body) {
			t.Errorf("answer %d (%s) replayed as %d %s %q; recorded %d %s %q", i, wantAccounts[i], g.status, g.contentType, g.body, r.status, r.contentType, r.body)
		}
	}
	if got := accounts(); !slices.Equal(got, wantAccounts) {
		t.Errorf("replayed operations = %v; want %v", got, wantAccounts)
	}
	for _, op := range p.Ops() {
		if !op.Replayed {
			t.Errorf("%s: Replayed = false; want true", op.Name())
		}
		if d := op.Done.Sub(op.At); d < delay {
			t.Errorf("%s: replayed %s after it arrived; want the proxy's delay, %s, first", op.Name(), d, delay)
		}
	}
	if len(p.Missed()) != 0 {
		t.Errorf("Missed() = %v; want none", p.Missed())
	}

	// A request never recorded (another parameter) goes to moto.
	cfg := p.Config(t, m)
	mcfg := cfg.Copy()
	mcfg.Credentials = credentials.NewStaticCredentialsProvider(key, "x", "x")
	out, err := iam.NewFromConfig(mcfg).ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 2 {
		t.Errorf("ListUsers(PathPrefix /) while replaying = %d users; want moto's 2", len(out.Users))
	}
	if n := motoHits.Load() - hits; n != 1 {
		t.Errorf("requests that reached moto = %d; want 1 (the miss)", n)
	}
	missed := p.Missed()
	if len(missed) != 1 || missed[0].Name() != "iam:ListUsers" || missed[0].Account != member || missed[0].Replayed {
		t.Errorf("Missed() = %+v; want the one ListUsers in %s", missed, member)
	}

	// Live again: moto answers the recorded request.
	p.Live()
	if _, users, _ := scan(); !slices.Equal(users, []string{"alice", "bob"}) {
		t.Errorf("ListUsers after Live = %v; want moto's alice and bob", users)
	}
	if n := motoHits.Load() - hits; n != 5 {
		t.Errorf("requests that reached moto = %d; want 5 (the miss, and 4 live)", n)
	}
}

// TestReplayIdentity: the volatile parts of a request are not part of its
// identity; the account, the operation and the parameters are.
func TestReplayIdentity(t *testing.T) {
	q := func(account string, kv ...string) Op {
		v := url.Values{"Action": {"ListAccessKeys"}, "Version": {"2010-05-08"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return Op{Service: "iam", Operation: "ListAccessKeys", Account: account, AccessKeyID: "AK" + account, Params: v}
	}
	j := func(body string) Op {
		return Op{Service: "dynamodb", Operation: "GetItem", Account: AccountID, Body: []byte(body), method: "POST", path: "/"}
	}
	for _, tc := range []struct {
		name string
		a, b Op
		same bool
	}{
		{"same parameters", q("1", "UserName", "a"), q("1", "UserName", "a"), true},
		{"query signature", q("1", "UserName", "a"), q("1", "UserName", "a", "X-Amz-Signature", "f00", "X-Amz-Date", "20260101T000000Z"), true},
		{"another user", q("1", "UserName", "a"), q("1", "UserName", "b"), false},
		{"another account", q("1", "UserName", "a"), q("2", "UserName", "a"), false},
		{"JSON key order", j(`{"TableName":"t","Key":{"pk":{"S":"x"}}}`), j(`{"Key": {"pk": {"S": "x"}}, "TableName": "t"}`), true},
		{"JSON value", j(`{"TableName":"t","Key":{"pk":{"S":"x"}}}`), j(`{"TableName":"t","Key":{"pk":{"S":"y"}}}`), false},
		{"JSON big numbers", j(`{"Limit":9007199254740993}`), j(`{"Limit":9007199254740992}`), false},
		{"unknown account, other key", Op{Service: "iam", Operation: "ListUsers", AccessKeyID: "A"}, Op{Service: "iam", Operation: "ListUsers", AccessKeyID: "B"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if same := identity(tc.a) == identity(tc.b); same != tc.same {
				t.Errorf("identity(%+v) == identity(%+v) is %v; want %v", tc.a, tc.b, same, tc.same)
			}
		})
	}
}
