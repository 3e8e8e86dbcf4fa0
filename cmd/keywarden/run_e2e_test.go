package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/testenv"
)

// runUsers: owners with one or two stale keys, an exempt user, an owner
// outside allowed_domains, a malformed address, and a compliant user.
func runUsers() []testenv.SeedUser {
	key := func(age int) testenv.SeedKey { return testenv.SeedKey{AgeDays: age, LastUsedDaysAgo: 1} }
	user := func(name, email string, keys ...testenv.SeedKey) testenv.SeedUser {
		u := testenv.SeedUser{Name: name, Keys: keys, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}
		if email != "" {
			u.Tags = map[string]string{"Email": email}
		}
		return u
	}
	return []testenv.SeedUser{
		user("alice", "alice@example.com", key(75), key(85)), // one message, both keys
		user("bob@example.com", "", key(72)),                 // the user name is the address
		user("carol", "carol@example.com", key(10)),          // compliant: no message
		user("ci-legacy", "ci@example.com", key(100)),        // exempt: never mailed
		user("foreign", "eve@evil.test", key(75)),            // outside allowed_domains
		user("badtag", "not an address", key(75)),            // malformed: reported, not sent
	}
}

const runConfig = `version: 1
exemptions:
  - { users: ["ci-legacy"], reason: "vendor-managed key" }
notify:
  from: "Security <security@example.com>"
  users: { email_tags: [Email], allowed_domains: [example.com], remind_every: 3, via: ses }
  admins:
    sns_topic_arn: TOPIC
    webhook_url_env: KW_WEBHOOK_URL
state: { url: "sqlite://STATE" }
`

// runSetup seeds moto, verifies the sender, creates the topic, and writes
// the config. It returns the directory, the topic ARN and the key IDs.
func runSetup(t *testing.T, m *testenv.MotoServer, users []testenv.SeedUser, config string) (string, string, map[string][]string) {
	t.Helper()
	ids := m.Seed(t, users)
	ctx := context.Background()
	if _, err := sesv2.NewFromConfig(m.Config(t)).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("security@example.com")}); err != nil {
		t.Fatalf("verify the sender in SES: %v", err)
	}
	topic, err := sns.NewFromConfig(m.Config(t)).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keywarden-digest")})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := strings.NewReplacer("TOPIC", aws.ToString(topic.TopicArn), "STATE", filepath.Join(dir, "state.db")).Replace(config)
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, aws.ToString(topic.TopicArn), ids
}

// hook records the JSON bodies posted to it and answers status.
type hook struct {
	mu     sync.Mutex
	bodies [][]byte
	status int
	srv    *httptest.Server
}

func newHook(t *testing.T, status int) *hook {
	h := &hook{status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
		w.WriteHeader(h.status)
		io.WriteString(w, http.StatusText(h.status))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) got() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bodies)
}

func decodeRun(t *testing.T, r result) run.Result {
	t.Helper()
	var res run.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("stdout is not keywarden.run/v1 JSON: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	if res.Schema != run.RunSchema {
		t.Errorf("schema = %q; want %q", res.Schema, run.RunSchema)
	}
	return res
}

// mailsByRecipient parses moto's sent SES mail by recipient.
func mailsByRecipient(t *testing.T, m *testenv.MotoServer) map[string][]testenv.Mail {
	t.Helper()
	out := map[string][]testenv.Mail{}
	for _, s := range testenv.SESSent(t, m.Data(t)) {
		if len(s.Destinations) != 1 {
			t.Errorf("SES message to %v; want one recipient per message", s.Destinations)
		}
		for _, d := range s.Destinations {
			out[d] = append(out[d], testenv.ParseMail(t, s.Raw))
		}
	}
	return out
}

func TestRunEndToEnd(t *testing.T) {
	m := testenv.Moto(t)
	dir, topic, ids := runSetup(t, m, runUsers(), runConfig)
	webhook := newHook(t, http.StatusOK)
	env := append(m.Env(), "KW_WEBHOOK_URL="+webhook.srv.URL+"/hooks/secret-token")
	// Every run is pinned to one moment (or 3 days after it), so the
	// cadence's days cannot shift if the test crosses midnight.
	base := time.Now().UTC()
	now := base.Format(time.RFC3339)

	// 1. --dry-run: the plan, and nothing sent or recorded.
	r := keywarden(t, env, dir, "run", "--dry-run", "--format", "json", "--as-of", now)
	if r.code != 0 {
		t.Fatalf("run --dry-run: exit %d\n%s", r.code, r.stderr)
	}
	dry := decodeRun(t, r)
	if dry.Mode != "dry_run" || len(dry.Plan.Messages) != 2 {
		t.Errorf("dry run: mode %s, %d messages; want dry_run and 2 (alice, bob)", dry.Mode, len(dry.Plan.Messages))
	}
	for _, d := range dry.Deliveries {
		if d.Status != run.DeliveryPlanned {
			t.Errorf("dry-run delivery %v to %v: status %s; want planned", d.Kind, d.To, d.Status)
		}
	}
	if got := testenv.SESSent(t, m.Data(t)); len(got) != 0 {
		t.Errorf("--dry-run sent %d SES messages; want none", len(got))
	}
	if got := testenv.SNSSent(t, m.Data(t), topic); len(got) != 0 || len(webhook.got()) != 0 {
		t.Errorf("--dry-run published %d SNS messages and %d webhooks; want none", len(got), len(webhook.got()))
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); !os.IsNotExist(err) {
		t.Errorf("--dry-run created the state file (stat: %v)", err)
	}

	// 2. The first real run: one message per owner, listing all their keys.
	r = keywarden(t, env, dir, "run", "--format", "json", "--as-of", now)
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	first := decodeRun(t, r)
	mails := mailsByRecipient(t, m)
	if got := sortedKeys((mails)); !slices.Equal(got, []string{"alice@example.com", "bob@example.com"}) {
		t.Fatalf("SES recipients = %v; want alice@ and bob@example.com only (not the exempt ci@, the disallowed eve@evil.test, the malformed tag)", got)
	}
	for addr, want := range map[string][]string{
		"alice@example.com": ids["alice"],
		"bob@example.com":   ids["bob@example.com"],
	} {
		if len(mails[addr]) != 1 {
			t.Fatalf("%s got %d messages; want 1", addr, len(mails[addr]))
		}
		mail := mails[addr][0]
		if !slices.Equal(mail.Parts, []string{"text/plain", "text/html"}) {
			t.Errorf("%s: parts %v; want text/plain then text/html", addr, mail.Parts)
		}
		if from := mail.Header.Get("From"); !strings.Contains(from, "security@example.com") {
			t.Errorf("%s: From %q", addr, from)
		}
		for _, id := range want {
			if !strings.Contains(mail.Text, id) || !strings.Contains(mail.HTML, id) {
				t.Errorf("%s: key %s missing from the text or HTML part", addr, id)
			}
		}
		// Not enforced: truthful wording, never "will be disabled".
		if strings.Contains(mail.Text, "will be disabled") {
			t.Errorf("%s: says a key will be disabled, but enforcement is off:\n%s", addr, mail.Text)
		}
	}
	if !strings.Contains(mails["alice@example.com"][0].Text, "It is past the 80-day limit. keywarden did not disable it: enforcement is off (this run only notifies).") {
		t.Errorf("alice's mail does not say her 85-day key is past the 80-day limit:\n%s", mails["alice@example.com"][0].Text)
	}
	// The digest: published to SNS and posted to the webhook, once each.
	// Its 7 findings: the 5 keys past 70 days that are not exempt, alice's
	// two active keys (two_active_keys), and the account's own: moto's
	// account has no password policy (password_policy), the admins'.
	pub := testenv.SNSSent(t, m.Data(t), topic)
	if len(pub) != 1 || !strings.Contains(pub[0].Message, "foreign") || !strings.Contains(pub[0].Message, "badtag") ||
		!strings.Contains(pub[0].Message, "the account has no password policy") || !strings.Contains(pub[0].Subject, "7 findings") {
		t.Fatalf("SNS digest = %+v; want one, naming the undeliverable owners and the account's password policy, subject with 7 findings", pub)
	}
	hooks := webhook.got()
	if len(hooks) != 1 {
		t.Fatalf("webhook got %d posts; want 1", len(hooks))
	}
	var payload struct {
		Schema string `json:"schema"`
		Kind   string `json:"kind"`
		Digest struct {
			Findings      []struct{ User string } `json:"findings"`
			Undeliverable []struct {
				User   string `json:"user"`
				Reason string `json:"reason"`
			} `json:"undeliverable"`
			Exempt int `json:"exempt"`
		} `json:"digest"`
	}
	if err := json.Unmarshal(hooks[0], &payload); err != nil {
		t.Fatal(err)
	}
	if payload.Schema != "keywarden.webhook/v1" || payload.Kind != "digest" || len(payload.Digest.Findings) != 7 || payload.Digest.Exempt != 1 {
		t.Errorf("webhook payload: schema %q kind %q, %d findings, %d exempt; want keywarden.webhook/v1 digest, 7, 1",
			payload.Schema, payload.Kind, len(payload.Digest.Findings), payload.Digest.Exempt)
	}
	if !slices.ContainsFunc(payload.Digest.Findings, func(f struct{ User string }) bool { return f.User == "<account>" }) {
		t.Errorf("webhook digest findings %v; want the account's (<account>) among them", payload.Digest.Findings)
	}
	reasons := map[string]string{}
	for _, u := range first.Plan.Undeliverable {
		reasons[u.User] = u.Reason
	}
	if !strings.Contains(reasons["badtag"], `tag "Email": "not an address" is not an email address`) ||
		!strings.Contains(reasons["foreign"], "outside notify.users.allowed_domains") || len(reasons) != 2 {
		t.Errorf("undeliverable = %v; want badtag (malformed) and foreign (domain)", reasons)
	}
	// The two owners in one WARN line with their count, not one each.
	var mailWarns []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "cannot be mailed") {
			mailWarns = append(mailWarns, l)
		}
	}
	if len(mailWarns) != 1 || !strings.Contains(mailWarns[0], "level=WARN") || !strings.Contains(mailWarns[0], `msg="2 owners cannot be mailed`) {
		t.Errorf("stderr's lines on unmailable owners = %q; want one WARN line saying 2 owners cannot be mailed", mailWarns)
	}
	if first.Sent != 4 || first.Failed != 0 { // alice, bob, SNS, webhook
		t.Errorf("first run: %d sent, %d failed; want 4, 0", first.Sent, first.Failed)
	}

	// 3. The same run again: nothing new is sent.
	r = keywarden(t, env, dir, "run", "--format", "json", "--as-of", now)
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	if again := decodeRun(t, r); again.Sent != 0 || len(again.Deliveries) != 0 || again.Plan.NotDue != 2 {
		t.Errorf("second run: %d sent, %d deliveries, %d owners not due; want 0, 0, 2", again.Sent, len(again.Deliveries), again.Plan.NotDue)
	}
	if n := len(testenv.SESSent(t, m.Data(t))); n != 2 {
		t.Errorf("after the second run SES has %d messages; want still 2", n)
	}
	if n := len(testenv.SNSSent(t, m.Data(t), topic)); n != 1 || len(webhook.got()) != 1 {
		t.Errorf("after the second run: %d SNS, %d webhook; want still 1 and 1", n, len(webhook.got()))
	}

	// 4. remind_every (3) days later: reminders to every owner, a new digest.
	later := base.Add(72 * time.Hour).Format(time.RFC3339)
	r = keywarden(t, env, dir, "run", "--dry-run", "--as-of", later, "--format", "json")
	if dry := decodeRun(t, r); r.code != 0 || len(dry.Plan.Messages) != 2 {
		t.Errorf("dry run at +3 days: exit %d, %d messages; want 2 reminders", r.code, len(dry.Plan.Messages))
	} else {
		for _, msg := range dry.Plan.Messages {
			if !msg.Reminder {
				t.Errorf("dry run at +3 days: the message to %s is not a reminder", msg.To)
			}
		}
	}
	if n := len(testenv.SESSent(t, m.Data(t))); n != 2 {
		t.Errorf("dry run at +3 days sent mail: SES has %d messages; want still 2", n)
	}
	r = keywarden(t, env, dir, "run", "--as-of", later, "--format", "json")
	if r.code != 0 {
		t.Fatalf("run at +3 days: exit %d\n%s", r.code, r.stderr)
	}
	mails = mailsByRecipient(t, m)
	for addr, keys := range map[string][]string{"alice@example.com": ids["alice"], "bob@example.com": ids["bob@example.com"]} {
		if len(mails[addr]) != 2 || !strings.HasPrefix(mails[addr][1].Subject, "[keywarden] Reminder: ") {
			var subjects []string
			for _, x := range mails[addr] {
				subjects = append(subjects, x.Subject)
			}
			t.Errorf("%s after +3 days: subjects %q; want a second message, a reminder", addr, subjects)
			continue
		}
		for _, id := range keys {
			if !strings.Contains(mails[addr][1].Text, id) {
				t.Errorf("%s's reminder lacks key %s", addr, id)
			}
		}
	}
	if n := len(testenv.SNSSent(t, m.Data(t), topic)); n != 2 {
		t.Errorf("SNS digests after +3 days = %d; want 2", n)
	}
}

// TestRunFailingChannels: SES rejects one address (a fault injected in
// front of moto, which cannot reject a recipient) and the Slack webhook
// answers 500; the other messages are still delivered, the failures are
// reported without the webhook's secret URL, and only they are retried.
func TestRunFailingChannels(t *testing.T) {
	m := testenv.Moto(t)
	users := append(runUsers(), testenv.SeedUser{Name: "rejected", Tags: map[string]string{"Email": "reject@example.com"},
		Keys: []testenv.SeedKey{{AgeDays: 75, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1})
	config := strings.Replace(runConfig, "    webhook_url_env: KW_WEBHOOK_URL\n",
		"    webhook_url_env: KW_WEBHOOK_URL\n    slack_webhook_env: KW_SLACK_URL\n", 1)
	dir, topic, _ := runSetup(t, m, users, config)
	webhook := newHook(t, http.StatusOK)
	slackHook := newHook(t, http.StatusInternalServerError)
	fault := sesRejecting(t, m.URL, "reject@example.com")
	env := append(m.Env(),
		"AWS_ENDPOINT_URL_SESV2="+fault.srv.URL,
		"KW_WEBHOOK_URL="+webhook.srv.URL+"/hooks/webhook-secret",
		"KW_SLACK_URL="+slackHook.srv.URL+"/services/T000/B000/slack-secret")

	r := keywarden(t, env, dir, "run", "--format", "json")
	if r.code != 1 {
		t.Fatalf("run with failing channels: exit %d; want 1\nstderr: %s", r.code, r.stderr)
	}
	res := decodeRun(t, r)
	status := map[string]string{}
	for _, d := range res.Deliveries {
		k := d.Channel
		if len(d.To) > 0 && d.Kind == "user" {
			k = d.To[0]
		}
		status[k] = d.Status
		if d.Status == run.DeliveryFailed && d.Error == "" {
			t.Errorf("failed delivery %s has no error", k)
		}
	}
	want := map[string]string{"alice@example.com": "sent", "bob@example.com": "sent", "reject@example.com": "failed",
		"sns": "sent", "webhook": "sent", "slack": "failed"}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("delivery %s: %q; want %q (all: %v)", k, status[k], v, status)
		}
	}
	if fault.rejected() != 1 {
		t.Errorf("the fault proxy rejected %d messages; want 1", fault.rejected())
	}
	if got := sortedKeys((mailsByRecipient(t, m))); !slices.Equal(got, []string{"alice@example.com", "bob@example.com"}) {
		t.Errorf("SES delivered to %v; want alice@ and bob@ (reject@ was rejected)", got)
	}
	for _, s := range []string{"MessageRejected", "reject@example.com", "slack", "500"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not report %q:\n%s", s, r.stderr)
		}
	}
	for _, secret := range []string{"slack-secret", "webhook-secret"} {
		if strings.Contains(r.stderr, secret) || strings.Contains(r.stdout, secret) {
			t.Errorf("the output leaks the secret webhook URL (%s)", secret)
		}
	}
	if len(slackHook.got()) != 1 || len(testenv.SNSSent(t, m.Data(t), topic)) != 1 {
		t.Errorf("slack got %d posts, SNS %d; want 1 each", len(slackHook.got()), len(testenv.SNSSent(t, m.Data(t), topic)))
	}
	var blocks struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(slackHook.got()[0], &blocks); err != nil || len(blocks.Blocks) < 3 || blocks.Blocks[0].Type != "header" {
		t.Errorf("slack payload = %s (%v); want Block Kit starting with a header", slackHook.got()[0], err)
	}

	// The next run (same day) retries only what failed.
	slackHook.mu.Lock()
	slackHook.status = http.StatusOK
	slackHook.mu.Unlock()
	r = keywarden(t, env, dir, "run", "--format", "json")
	if r.code != 1 {
		t.Fatalf("retry run: exit %d; want 1 (reject@ still rejected)\n%s", r.code, r.stderr)
	}
	res = decodeRun(t, r)
	var retried []string
	for _, d := range res.Deliveries {
		k := d.Channel
		if d.Kind == "user" {
			k = d.To[0]
		}
		retried = append(retried, k+"="+d.Status)
	}
	slices.Sort(retried)
	if !slices.Equal(retried, []string{"reject@example.com=failed", "slack=sent"}) {
		t.Errorf("retry run deliveries = %v; want only reject@ (failed again) and slack (sent now)", retried)
	}
	if len(slackHook.got()) != 2 || len(webhook.got()) != 1 || len(testenv.SNSSent(t, m.Data(t), topic)) != 1 {
		t.Errorf("after the retry: slack %d, webhook %d, SNS %d; want 2, 1, 1", len(slackHook.got()), len(webhook.got()),
			len(testenv.SNSSent(t, m.Data(t), topic)))
	}
}

// sesFault is a reverse proxy in front of moto that answers SES v2
// SendEmail with MessageRejected when a destination is the given address.
type sesFault struct {
	srv *httptest.Server
	mu  sync.Mutex
	n   int
}

func (f *sesFault) rejected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func sesRejecting(t *testing.T, motoURL, address string) *sesFault {
	u, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f := &sesFault{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-emails" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var in struct {
				Destination struct{ ToAddresses []string }
			}
			if json.Unmarshal(body, &in) == nil && slices.Contains(in.Destination.ToAddresses, address) {
				f.mu.Lock()
				f.n++
				f.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Amzn-ErrorType", "MessageRejected")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"message":"Email address is not verified. The following identities failed the check in region US-EAST-1: `+address+`"}`)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestRunSecretsFromSSM: the Slack webhook URL is read from an SSM
// SecureString parameter (moto), never from the config or the output; a
// parameter that does not exist fails that channel only.
func TestRunSecretsFromSSM(t *testing.T) {
	m := testenv.Moto(t)
	slackHook := newHook(t, http.StatusOK)
	secretURL := slackHook.srv.URL + "/services/T000/B000/ssm-secret"
	_, err := ssm.NewFromConfig(m.Config(t)).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String("/keywarden/slack-webhook"), Value: aws.String(secretURL), Type: ssmtypes.ParameterTypeSecureString})
	if err != nil {
		t.Fatal(err)
	}
	m.Seed(t, []testenv.SeedUser{{Name: "alice", Tags: map[string]string{"Email": "alice@example.com"},
		Keys: []testenv.SeedKey{{AgeDays: 75, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}})
	dir := t.TempDir()
	cfg := `version: 1
notify:
  admins: { slack_webhook_ssm: /keywarden/slack-webhook, webhook_url_ssm: /keywarden/missing }
  outbox: { dir: ` + filepath.Join(dir, "outbox") + ` }
state: { url: "sqlite://` + filepath.Join(dir, "state.db") + `" }
`
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := keywarden(t, m.Env(), dir, "run", "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d; want 1 (the webhook's parameter is missing)\n%s", r.code, r.stderr)
	}
	res := decodeRun(t, r)
	got := map[string]string{}
	for _, d := range res.Deliveries {
		got[d.Channel] = d.Status + " " + d.Error
	}
	if !strings.HasPrefix(got["slack"], "sent") || !strings.HasPrefix(got["outbox"], "sent") ||
		!strings.Contains(got["webhook"], "failed read the webhook URL from SSM parameter /keywarden/missing") {
		t.Errorf("deliveries = %v; want slack (URL from SSM) and the owner's outbox mail sent, the webhook failed", got)
	}
	if len(slackHook.got()) != 1 {
		t.Errorf("slack got %d posts; want 1", len(slackHook.got()))
	}
	if strings.Contains(r.stdout+r.stderr, "ssm-secret") {
		t.Error("the output leaks the webhook URL read from SSM")
	}
}
