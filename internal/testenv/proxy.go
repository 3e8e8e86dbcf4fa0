package testenv

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Op is one AWS request that went through a Proxy.
type Op struct {
	// Service is the SigV4 signing name: iam, sts, organizations, ses,
	// sns, dynamodb, securityhub, ssm…
	Service string
	// Operation is the API operation: ListAccessKeys, AssumeRole,
	// SendEmail… ("" when the proxy cannot tell).
	Operation string
	// AccessKeyID signed the request; it tells accounts apart (moto maps
	// assumed-role keys to the role's account).
	AccessKeyID string
	// Account is the account the request acts in, as moto will serve it:
	// AccountID for the harness's own key, the role's account for keys
	// that an sts:AssumeRole through this proxy returned, "" otherwise.
	Account string
	// Params are the form parameters of query-protocol requests (IAM,
	// STS, SNS), e.g. Params.Get("UserName").
	Params url.Values
	// Body is the request body of JSON-protocol requests.
	Body []byte
	// Replayed: the proxy answered it with an answer recorded earlier
	// (Replay), not moto.
	Replayed bool
	// At is when the request reached the proxy; Done, when the proxy had
	// answered it (zero while it is in flight).
	At, Done time.Time
	// Conn is the client's end of the connection the request came on
	// (host:port): requests sent over one connection have the same.
	Conn string

	// method, path and query locate REST-protocol requests (replay
	// identity).
	method, path string
	query        url.Values
}

// Name is "service:Operation", as IAM policies spell actions.
func (o Op) Name() string { return o.Service + ":" + o.Operation }

// Fault is an error (or delay, or dropped connection) the proxy answers
// instead of moto for requests that Match.
type Fault struct {
	// Match selects the requests; nil matches all.
	Match func(Op) bool
	// Times bounds how many requests the fault answers (0: every one).
	Times int
	// Delay is waited before answering (or forwarding, with no Code).
	Delay time.Duration
	// Drop closes the connection without an answer.
	Drop bool
	// Status and Code make an AWS error answer; Message is its text.
	// Status defaults to 400.
	Status  int
	Code    string
	Message string
	// Fields are more members of a JSON-protocol error answer, e.g.
	// "CancellationReasons" of a TransactionCanceledException.
	Fields map[string]any
	// AfterForward forwards the request to moto first, so that a write
	// takes effect, then throws moto's answer away and answers with the
	// fault's error (Code) or drops the connection (Drop): a write that
	// succeeded but whose answer was lost.
	AfterForward bool
	// Hang never answers: the request waits until the client gives up
	// (its context, its timeout, its closed connection) or the test ends.
	Hang bool
	// Chance, between 0 and 1, faults each matching request with that
	// probability (0: every one), drawn from a generator seeded with Seed,
	// so that a run is repeatable; Times counts only the faulted ones.
	Chance float64
	Seed   uint64
	// Before runs before the request is answered or forwarded; After runs
	// once moto has answered a forwarded request, before the answer goes
	// back (a test can change moto between a read and the next call, or
	// kill the client right after a write reached AWS).
	Before func(Op)
	After  func(Op)

	hits int
	rng  *rand.Rand
}

// applies draws whether f faults the next matching request (Chance).
func (f *Fault) applies() bool {
	if f.Chance <= 0 || f.Chance >= 1 {
		return true
	}
	if f.rng == nil {
		f.rng = rand.New(rand.NewPCG(f.Seed, 0x6b657977617264))
	}
	return f.rng.Float64() < f.Chance
}

// Proxy is a reverse proxy in front of moto that records every AWS
// operation and injects faults: AccessDenied for one account, Throttling,
// 5xx, latency, dropped connections, calls that never answer, writes that
// take effect and answer an error, each always or at random. Point clients at URL (EnvVia, or
// ConfigVia).
type Proxy struct {
	URL string

	mu     sync.Mutex
	ops    []Op
	faults []*Fault
	delay  time.Duration
	// assumed maps access keys returned by AssumeRole to the role's
	// account.
	assumed map[string]string
	// mode, answers and missed are the record/replay layer (replay.go):
	// answers holds moto's answers by request identity, missed the
	// requests replay had no answer for.
	mode    replayMode
	answers map[string]*answer
	missed  []Op
	// generation counts the Resets, so that a request answered after one
	// does not stamp another's entry in ops.
	generation int
	// closed ends the requests a Hang fault holds when the test ends.
	closed chan struct{}
}

// NewProxy starts a proxy in front of m, closed when the test ends.
func (m *MotoServer) NewProxy(t testing.TB) *Proxy {
	t.Helper()
	target, err := url.Parse(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{assumed: map[string]string{}, closed: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(target)
	// forward answers r: with rt's replayed answer, else through moto,
	// keeping moto's answer when recording and learning the accounts of
	// AssumeRole answers.
	forward := func(w http.ResponseWriter, r *http.Request, op Op, rt route) {
		assume := op.Name() == "sts:AssumeRole"
		switch {
		case rt.replay != nil:
			rt.replay.write(w)
			if assume {
				p.learnAssumed(op, rt.replay.body)
			}
		case rt.keep != "" || assume:
			rec := &bodyRecorder{ResponseWriter: w}
			rp.ServeHTTP(rec, r)
			if assume {
				p.learnAssumed(op, rec.body.Bytes())
			}
			if rt.keep != "" {
				p.keep(rt.keep, keptAnswer(rec.status(), rec.header, rec.body.Bytes()))
			}
		default:
			rp.ServeHTTP(w, r)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := describe(r)
		rt := p.record(&op)
		defer p.answered(rt)
		f := rt.fault
		if rt.delay > 0 {
			time.Sleep(rt.delay)
		}
		if f != nil && f.Before != nil {
			f.Before(op)
		}
		if f != nil && f.Hang {
			select {
			case <-r.Context().Done():
			case <-p.closed:
			}
			return
		}
		if f != nil && f.AfterForward {
			forward(httptest.NewRecorder(), r, op, rt)
			if f.After != nil {
				f.After(op)
			}
		}
		if f != nil {
			if f.Drop {
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
				panic(http.ErrAbortHandler)
			}
			if f.Code != "" {
				writeAWSError(w, op, f)
				return
			}
			if f.After != nil && !f.AfterForward {
				rec := httptest.NewRecorder()
				forward(rec, r, op, rt)
				f.After(op)
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
		}
		forward(w, r, op, rt)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(p.closed) }) // first: hung requests end, so Close can return
	p.URL = srv.URL
	return p
}

// route is how the proxy answers one request.
type route struct {
	fault *Fault        // the fault that answers it, if any
	delay time.Duration // waited first
	// replay is the recorded answer to send instead of moto's (Replay);
	// keep, the identity to keep moto's answer under (Record).
	replay *answer
	keep   string
	// index is the request's place in ops, of the generation-th Reset.
	index, generation int
}

// record fills in op's account, stores op and returns how to answer it:
// the fault that answers it, if any, how long to wait first, and, when
// recording or replaying, what to do with moto's answer.
func (p *Proxy) record(op *Op) route {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case op.AccessKeyID == TestCredential:
		op.Account = AccountID
	default:
		op.Account = p.assumed[op.AccessKeyID]
	}
	var rt route
	for _, f := range p.faults {
		if f.Match != nil && !f.Match(*op) {
			continue
		}
		if f.Times > 0 && f.hits >= f.Times {
			continue
		}
		if !f.applies() {
			continue
		}
		f.hits++
		rt.fault = f
		break
	}
	rt.delay = p.delay
	if rt.fault != nil {
		rt.delay += rt.fault.Delay
	}
	// A fault that answers itself leaves moto's answer out of it.
	forwarded := rt.fault == nil || rt.fault.AfterForward || (rt.fault.Code == "" && !rt.fault.Drop && !rt.fault.Hang)
	switch {
	case p.mode == recording && forwarded:
		rt.keep = identity(*op)
	case p.mode == replaying && forwarded:
		rt.replay = p.answers[identity(*op)]
		op.Replayed = rt.replay != nil
		if rt.replay == nil {
			p.missed = append(p.missed, *op)
		}
	}
	rt.index, rt.generation = len(p.ops), p.generation
	p.ops = append(p.ops, *op)
	return rt
}

// answered stamps the request of rt with the time its answer was done,
// unless Reset forgot it meanwhile.
func (p *Proxy) answered(rt route) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rt.generation == p.generation && rt.index < len(p.ops) {
		p.ops[rt.index].Done = time.Now()
	}
}

var (
	assumedKey  = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
	roleAccount = regexp.MustCompile(`^arn:[^:]+:iam::([0-9]{12}):role/`)
)

// learnAssumed remembers which account the keys of an AssumeRole answer
// act in.
func (p *Proxy) learnAssumed(op Op, body []byte) {
	k := assumedKey.FindSubmatch(body)
	a := roleAccount.FindStringSubmatch(op.Params.Get("RoleArn"))
	if k == nil || a == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.assumed[string(k[1])] = a[1]
}

// bodyRecorder passes a response through and keeps a copy of its status,
// headers and body.
type bodyRecorder struct {
	http.ResponseWriter
	code   int
	header http.Header
	body   bytes.Buffer
}

func (b *bodyRecorder) WriteHeader(code int) {
	if b.code == 0 {
		b.code, b.header = code, b.ResponseWriter.Header().Clone()
	}
	b.ResponseWriter.WriteHeader(code)
}

func (b *bodyRecorder) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.WriteHeader(http.StatusOK)
	}
	b.body.Write(p)
	return b.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the proxy server's writer.
func (b *bodyRecorder) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// status is the answer's status code (200 when nothing was written).
func (b *bodyRecorder) status() int {
	if b.code == 0 {
		return http.StatusOK
	}
	return b.code
}

// CountIn is how many recorded requests acted in account.
func (p *Proxy) CountIn(account string) int {
	n := 0
	for _, op := range p.Ops() {
		if op.Account == account {
			n++
		}
	}
	return n
}

// InAccount returns a Fault matcher for one "service:Operation" acting in
// account.
func InAccount(account, name string) func(Op) bool {
	return func(o Op) bool { return o.Account == account && o.Name() == name }
}

// Inject adds a fault; faults are tried in the order they were added.
func (p *Proxy) Inject(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &f)
}

// SetDelay makes every request wait d before it is forwarded: a stand-in
// for real AWS round trips.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Ops returns the requests seen so far, in arrival order.
func (p *Proxy) Ops() []Op {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Op(nil), p.ops...)
}

// Reset forgets the recorded requests and replay misses (faults, and the
// answers kept by Record, stay).
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops = nil
	p.missed = nil
	p.generation++
}

// Count is how many recorded requests were of operation name
// ("iam:ListAccessKeys").
func (p *Proxy) Count(name string) int {
	n := 0
	for _, op := range p.Ops() {
		if op.Name() == name {
			n++
		}
	}
	return n
}

// Env is m.Env() with the endpoint pointed at the proxy.
func (p *Proxy) Env(m *MotoServer) []string {
	return append(m.Env(), "AWS_ENDPOINT_URL="+p.URL)
}

// Config is m.Config(t) pointed at the proxy.
func (p *Proxy) Config(t testing.TB, m *MotoServer) aws.Config {
	t.Helper()
	cfg := m.Config(t)
	cfg.BaseEndpoint = aws.String(p.URL)
	return cfg
}

// IsOp returns a Fault matcher for one "service:Operation".
func IsOp(name string) func(Op) bool {
	return func(o Op) bool { return o.Name() == name }
}

var credentialScope = regexp.MustCompile(`Credential=([^/,\s]+)/[0-9]{8}/[^/]+/([^/]+)/aws4_request`)

// restOps names the operations of REST-protocol services by method and
// path prefix (the query and JSON protocols name themselves).
var restOps = []struct {
	service, method, prefix, op string
}{
	{"ses", http.MethodPost, "/v2/email/outbound-emails", "SendEmail"},
	{"ses", http.MethodPost, "/v2/email/identities", "CreateEmailIdentity"},
	{"securityhub", http.MethodPost, "/findings/import", "BatchImportFindings"},
	{"securityhub", http.MethodPost, "/findings", "GetFindings"},
	{"securityhub", http.MethodPatch, "/findings/batchupdate", "BatchUpdateFindings"},
	{"securityhub", http.MethodPost, "/accounts", "EnableSecurityHub"},
	{"lambda", http.MethodPost, "/2015-03-31/functions/", "Invoke"},
	{"s3", http.MethodGet, "/", "GetObject"},
}

// describe reads what operation r is, leaving its body readable.
func describe(r *http.Request) Op {
	op := Op{At: time.Now(), Conn: r.RemoteAddr, method: r.Method, path: r.URL.Path}
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		op.AccessKeyID, op.Service = m[1], m[2]
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	switch target := r.Header.Get("X-Amz-Target"); {
	case target != "":
		// JSON protocol: "DynamoDB_20120810.PutItem".
		op.Operation = target[strings.LastIndex(target, ".")+1:]
		op.Body = body
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		op.Params, _ = url.ParseQuery(string(body))
		op.Operation = op.Params.Get("Action")
	default:
		if a := r.URL.Query().Get("Action"); a != "" {
			op.Params, op.Operation = r.URL.Query(), a
			break
		}
		op.Body, op.query = body, r.URL.Query()
		for _, ro := range restOps {
			if ro.service == op.Service && ro.method == r.Method && strings.HasPrefix(r.URL.Path, ro.prefix) {
				op.Operation = ro.op
				break
			}
		}
	}
	return op
}

// writeAWSError answers in the protocol the request used: XML for query
// services, JSON otherwise.
func writeAWSError(w http.ResponseWriter, op Op, f *Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	msg := f.Message
	if msg == "" {
		msg = fmt.Sprintf("injected %s by the test proxy", f.Code)
	}
	if op.Params != nil {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		var code, text strings.Builder
		_ = xml.EscapeText(&code, []byte(f.Code))
		_ = xml.EscapeText(&text, []byte(msg))
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>keywarden-test</RequestId></ErrorResponse>`,
			code.String(), text.String())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", f.Code)
	w.WriteHeader(status)
	body := map[string]any{}
	for k, v := range f.Fields {
		body[k] = v
	}
	body["__type"], body["message"] = f.Code, msg
	_ = json.NewEncoder(w).Encode(body)
}
