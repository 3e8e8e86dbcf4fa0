package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/testenv"
)

// The channels under faults: each channel's endpoint fails for one run
// and recovers for the next. Whatever the fault, every notice reaches
// its recipient in the end, exactly once, except a message whose answer
// was lost after the endpoint took it (AWS's answer dropped after the
// write, an SMTP connection dropped after DATA): that one arrives twice,
// once from the failed run and once from the run that sends it again,
// never more. A third run sends nothing: nothing is left owed.

// channelOwners are the owners mailed in a case: one stale key each;
// alice, bob and dave, then ownerN for a case with more.
func channelOwners(n int) []string {
	out := []string{"alice@example.com", "bob@example.com", "dave@example.com"}
	for i := len(out); i < n; i++ {
		out = append(out, fmt.Sprintf("owner%d@example.com", i+1))
	}
	return out[:max(n, 3)]
}

func channelUsers(owners []string) []testenv.SeedUser {
	var out []testenv.SeedUser
	for _, addr := range owners {
		out = append(out, testenv.SeedUser{Name: strings.TrimSuffix(addr, "@example.com"), Tags: map[string]string{"Email": addr},
			Keys: []testenv.SeedKey{{AgeDays: 75, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1})
	}
	return out
}

// channelEnv is one case's world: moto behind the proxy, a Slack and a
// webhook server, an SMTP server, and the outbox, each of which a case
// can break (failing) and count.
type channelEnv struct {
	m       *testenv.MotoServer
	proxy   *testenv.Proxy
	smtp    *testenv.SMTPServer
	slack   *faultyHook
	webhook *faultyHook
	owners  []string
	dir     string
	outbox  string
	topic   string
	// failing is true during the failing run: the faults that match on
	// it answer only then.
	failing atomic.Bool
}

// faultyHook is an HTTP endpoint that, while failing, answers status or
// never answers (hang); it records every body it got, failed or not.
type faultyHook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	status int  // while failing; 0: 200
	hang   bool // while failing
	fail   *atomic.Bool
}

func newFaultyHook(t *testing.T, failing *atomic.Bool) *faultyHook {
	h := &faultyHook{fail: failing}
	done := make(chan struct{})
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		status, hang := h.status, h.hang
		h.mu.Unlock()
		if !h.fail.Load() {
			status, hang = http.StatusOK, false
		}
		if hang {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(done); h.srv.Close() })
	return h
}

func (h *faultyHook) posts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

// channelCase breaks one channel for the failing run.
type channelCase struct {
	name string
	// via and admins configure notify.users.via and notify.admins.
	via, admins string
	// breakIt sets the fault up (it answers while e.failing is set).
	breakIt func(t *testing.T, e *channelEnv)
	// received counts what reached the endpoint under fault: owner
	// mail by recipient, or admin digests under "digest".
	received func(t *testing.T, e *channelEnv) map[string]int
	// want is how many times each message arrives in all: 1, or 2 when
	// its answer is lost after the endpoint took it (in flight).
	want int
	// inFlight: the failing run's failed deliveries nonetheless reached
	// the endpoint (their answer was lost).
	inFlight bool
	// digest: the channel carries the admin digest, not owner mail.
	digest bool
	// owners is how many owners are mailed (at least 3).
	owners int
	// downAfter: the channel is down after that many failures in the
	// failing run (notify.Breaker): the rest fail untried (0: none do).
	downAfter int
}

func sesReceived(t *testing.T, e *channelEnv) map[string]int {
	out := map[string]int{}
	for _, s := range testenv.SESSent(t, e.m.Data(t)) {
		for _, d := range s.Destinations {
			out[d]++
		}
	}
	return out
}

func smtpReceived(_ *testing.T, e *channelEnv) map[string]int {
	out := map[string]int{}
	for _, m := range e.smtp.Mailbox() {
		for _, to := range m.To {
			out[to]++
		}
	}
	return out
}

func outboxReceived(t *testing.T, e *channelEnv) map[string]int {
	out := map[string]int{}
	entries, err := os.ReadDir(e.outbox)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, f := range entries {
		for _, addr := range e.owners {
			if strings.Contains(f.Name(), "_user_"+addr+"_") {
				out[addr]++
			}
		}
	}
	return out
}

func digests(n int) map[string]int {
	if n == 0 {
		return map[string]int{}
	}
	return map[string]int{"digest": n}
}

// awsFault answers op (ses:SendEmail, sns:Publish) with f while the run
// is failing.
func awsFault(op string, f testenv.Fault) func(*testing.T, *channelEnv) {
	return func(_ *testing.T, e *channelEnv) {
		f.Match = func(o testenv.Op) bool { return e.failing.Load() && o.Name() == op }
		e.proxy.Inject(f)
	}
}

// The admin channel of the owner-mail cases, and the owner channel of
// the digest cases, are healthy.
const (
	viaOutbox   = "outbox"
	adminsSNS   = "{ sns_topic_arn: TOPIC }"
	adminsSlack = "{ slack_webhook_env: KW_SLACK_URL }"
	adminsHook  = "{ webhook_url_env: KW_WEBHOOK_URL }"
)

func sesCase(name string, f testenv.Fault, want int) channelCase {
	return channelCase{name: "ses/" + name, via: "ses", admins: adminsSNS, breakIt: awsFault("ses:SendEmail", f),
		received: sesReceived, want: want, inFlight: want > 1}
}

func snsCase(name string, f testenv.Fault, want int) channelCase {
	return channelCase{name: "sns/" + name, via: viaOutbox, admins: adminsSNS, breakIt: awsFault("sns:Publish", f), digest: true,
		received: func(t *testing.T, e *channelEnv) map[string]int {
			return digests(len(testenv.SNSSent(t, e.m.Data(t), e.topic)))
		}, want: want, inFlight: want > 1}
}

func smtpCase(name string, f testenv.SMTPFault, want int) channelCase {
	return channelCase{name: "smtp/" + name, via: "smtp", admins: adminsSNS,
		breakIt:  func(_ *testing.T, e *channelEnv) { e.smtp.SetFault(f) },
		received: smtpReceived, want: want, inFlight: want > 1}
}

func hookCase(name string, slack bool, status int, hang bool) channelCase {
	hook := func(e *channelEnv) *faultyHook {
		if slack {
			return e.slack
		}
		return e.webhook
	}
	c := channelCase{name: name, via: viaOutbox, admins: adminsHook, want: 1, digest: true,
		breakIt: func(_ *testing.T, e *channelEnv) {
			h := hook(e)
			h.mu.Lock()
			h.status, h.hang = status, hang
			h.mu.Unlock()
		},
		received: func(_ *testing.T, e *channelEnv) map[string]int {
			// Every post counts, failed or not: a failed post that is
			// sent again is the one duplicate a lost answer may cost.
			return digests(hook(e).posts())
		}}
	if slack {
		c.admins = adminsSlack
	}
	// The endpoint got the failed post (and answered an error): the
	// retry is a second post of the same digest.
	c.want, c.inFlight = 2, true
	return c
}

// channelCases: the short suite's, one per channel, with the fault that
// matters most for it (an answer lost after the endpoint took the
// message, where a channel can have one). channels_soak_test.go runs the
// others.
func channelCases() []channelCase {
	return []channelCase{
		sesCase("answer-lost-after-send", testenv.Fault{AfterForward: true, Drop: true}, 2),
		sesCase("throttled-then-accepted", testenv.Fault{Code: "TooManyRequestsException", Status: 429, Times: 2}, 1),
		snsCase("5xx-after-publish", testenv.Fault{AfterForward: true, Code: "InternalError", Status: 500}, 2),
		smtpCase("drop-after-data", testenv.SMTPFault{DropAfterData: true}, 2),
		smtpCase("451-refused", testenv.SMTPFault{Code: 451}, 1),
		hookCase("slack/500", true, http.StatusInternalServerError, false),
		hookCase("webhook/429", false, http.StatusTooManyRequests, false),
		{name: "outbox/unwritable", via: viaOutbox, admins: adminsSNS, want: 1, received: outboxReceived,
			breakIt: func(t *testing.T, e *channelEnv) {
				// A file where the outbox directory should be (root
				// ignores permissions, not this).
				if err := os.WriteFile(e.outbox, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}},
	}
}

func TestChannelsFailThenRecover(t *testing.T) {
	for _, c := range channelCases() {
		t.Run(c.name, func(t *testing.T) { checkChannelCase(t, c) })
	}
}

// checkChannelCase runs keywarden three times, pinned to one moment: with
// the channel failing, recovered, and once more.
func checkChannelCase(t *testing.T, c channelCase) {
	m := testenv.Moto(t)
	e := &channelEnv{m: m, proxy: m.NewProxy(t), smtp: testenv.NewSMTPServer(t), owners: channelOwners(c.owners)}
	e.slack, e.webhook = newFaultyHook(t, &e.failing), newFaultyHook(t, &e.failing)
	config := fmt.Sprintf(`version: 1
notify:
  from: "Security <security@example.com>"
  users: { email_tags: [Email], allowed_domains: [example.com], via: %s }
  admins: %s
  smtp: { host: 127.0.0.1, port: %d, starttls: false }
  outbox: { dir: OUTBOX }
state: { url: "sqlite://STATE" }
`, c.via, c.admins, e.smtp.Port)
	e.dir, e.topic, _ = runSetup(t, m, channelUsers(e.owners), config)
	e.outbox = filepath.Join(e.dir, "outbox")
	cfgPath := filepath.Join(e.dir, "keywarden.yaml")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(string(raw), "OUTBOX", e.outbox)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(e.proxy.Env(m),
		"KW_SLACK_URL="+e.slack.srv.URL+"/services/T000/B000/slack-secret",
		"KW_WEBHOOK_URL="+e.webhook.srv.URL+"/hooks/webhook-secret")
	now := time.Now().UTC().Format(time.RFC3339)
	channel := strings.Split(c.name, "/")[0]
	isChannel := func(d run.Delivery) bool { return d.Channel == channel }

	// 1. The channel fails for the whole run.
	e.failing.Store(true)
	c.breakIt(t, e)
	r := keywarden(t, env, e.dir, "run", "--format", "json", "--as-of", now)
	e.failing.Store(false)
	e.smtp.SetFault(testenv.SMTPFault{})
	if c.name == "outbox/unwritable" {
		if err := os.Remove(e.outbox); err != nil {
			t.Fatal(err)
		}
	}
	first := decodeRun(t, r)
	var failed []string
	for _, d := range first.Deliveries {
		if !isChannel(d) {
			if d.Status != run.DeliverySent {
				t.Errorf("failing run: the healthy %s delivery to %v is %s (%s); want sent", d.Channel, d.To, d.Status, d.Error)
			}
			continue
		}
		key := deliveryKey(d)
		switch d.Status {
		case run.DeliveryFailed:
			failed = append(failed, key)
		case run.DeliverySent:
		default:
			t.Errorf("failing run: %s delivery %s is %s; want failed or sent", channel, key, d.Status)
		}
	}
	if c.downAfter > 0 {
		down := 0
		for _, d := range first.Deliveries {
			if isChannel(d) && strings.Contains(d.Error, "not tried: the channel is down") {
				down++
			}
		}
		if want := len(e.owners) - c.downAfter; down != want {
			t.Errorf("failing run: %d messages not tried (channel down); want %d of %d", down, want, len(e.owners))
		}
	}
	if len(failed) == 0 {
		// Throttling that relents within the run: every message sent, once.
		if r.code != 0 || c.inFlight {
			t.Fatalf("failing run: exit %d, no failed delivery on %s; want failures (%s)\n%s", r.code, channel, c.name, r.stderr)
		}
	} else if r.code != 1 {
		t.Errorf("failing run: exit %d with %d failed deliveries; want 1\n%s", r.code, len(failed), r.stderr)
	}
	for _, s := range []string{"slack-secret", "webhook-secret"} {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("the failing run's output leaks the secret URL (%s)", s)
		}
	}
	got := c.received(t, e)
	for _, key := range failed {
		n := got[key]
		if c.inFlight && n != 1 {
			t.Errorf("after the failing run %s has %d copies; want 1: the message was taken once, its answer lost, and not sent again in the run", key, n)
		}
		if !c.inFlight && n != 0 {
			t.Errorf("after the failing run %s has %d copies, but its delivery is recorded failed", key, n)
		}
	}

	// 2. The channel recovers: the next run sends exactly what failed.
	r = keywarden(t, env, e.dir, "run", "--format", "json", "--as-of", now)
	if r.code != 0 {
		t.Fatalf("recovered run: exit %d; want 0\n%s", r.code, r.stderr)
	}
	var resent []string
	for _, d := range decodeRun(t, r).Deliveries {
		if d.Status != run.DeliverySent {
			t.Errorf("recovered run: %s delivery %s is %s (%s); want sent", d.Channel, deliveryKey(d), d.Status, d.Error)
		}
		resent = append(resent, deliveryKey(d))
	}
	slices.Sort(failed)
	slices.Sort(resent)
	if !slices.Equal(resent, failed) {
		t.Errorf("recovered run delivered %v; want exactly what failed: %v", resent, failed)
	}

	// 3. Nothing is left owed.
	r = keywarden(t, env, e.dir, "run", "--format", "json", "--as-of", now)
	if third := decodeRun(t, r); r.code != 0 || len(third.Deliveries) != 0 {
		t.Errorf("third run: exit %d, deliveries %v; want 0 and none", r.code, third.Deliveries)
	}

	// Every message arrived: once, or twice when its answer was lost.
	want := map[string]int{}
	if c.digest {
		want["digest"] = 1
	} else {
		for _, a := range e.owners {
			want[a] = 1
		}
	}
	for _, key := range failed {
		if c.inFlight {
			want[key] = c.want
		}
	}
	if got := c.received(t, e); !maps.Equal(got, want) {
		t.Errorf("received in all %v; want %v (failed in the first run: %v)", got, want, failed)
	}
}

// deliveryKey names a delivery as received counts it: the owner's
// address, or "digest".
func deliveryKey(d run.Delivery) string {
	if d.Kind == "user" && len(d.To) > 0 {
		return d.To[0]
	}
	return "digest"
}
