package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/notify/slack"
	"github.com/keywarden/keywarden/internal/plan"
)

func digestMessage(t *testing.T, d *plan.Digest) *notify.Message {
	t.Helper()
	m, err := notify.DefaultTemplates().Digest(d, "sec@example.com", "r.d1", d.AsOf)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPostsBlockKit(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	_, _, digests := notify.Sample()
	if err := slack.New(srv.URL, nil).Send(context.Background(), digestMessage(t, &digests[0])); err != nil {
		t.Fatal(err)
	}
	var payload struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(got, &payload); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	var types, texts []string
	for _, b := range payload.Blocks {
		types = append(types, b.Type)
		if b.Text != nil {
			texts = append(texts, b.Text.Text)
		}
	}
	if strings.Join(types, ",") != "header,section,section,section,section,section,section,section,context" {
		t.Errorf("block types = %v", types)
	}
	if payload.Blocks[0].Text.Type != "plain_text" || payload.Blocks[0].Text.Text != "keywarden digest for 2026-11-23" {
		t.Errorf("header = %+v", payload.Blocks[0].Text)
	}
	want := []string{
		"*4 findings* (4 new or due) in 2 accounts · 1 owner message · 0 exempt", // the listed action was not taken
		"*<https://acme-prod.signin.aws.amazon.com/console|123456789012>* (acme-prod): 4 findings, 0 exempt\n• access_key_age at 70 days (notify): 1",
		"|210987654321>*: :x: error: AccessDenied: not authorized to perform sts:AssumeRole",
		// The most urgent first: the high ones, the key past its limit before the finding without a date.
		"*New or due*\n• [high] `123456789012` *alice&lt;b&gt;*: access key AKIAI44QH8DHBEXAMPLE (key 2). It is past the 80-day limit. " +
			"keywarden did not disable it: enforcement is off (this run only notifies). Owner: alice@example.com\n" +
			"• [high] `123456789012` *bob*: console sign-in (no MFA device). Anyone with the password can sign in; assign an MFA device. Owner: admins\n" +
			"• [medium] `123456789012` *alice&lt;b&gt;*: access key AKIAIOSFODNN7EXAMPLE (key 1). It will be past the 80-day limit on 2026-11-28. Owner: alice@example.com",
		"*Actions*\n_Listed only, not made_ (1): enforcement is off: run with --apply, or set enforce.mode: apply\n" +
			"• disable access key AKIAI44QH8DHBEXAMPLE (key 2) of alice&lt;b&gt; in 123456789012 (acme-prod) (access_key_age, 80-day stage)",
		"*Owners keywarden cannot mail*\n• `123456789012` *bob*: not mailed: tag \"Email\": \"bob &lt;b&gt;at&lt;/b&gt; example\" is not an email address",
		"*Addresses keywarden skipped*\n• `123456789012` *alice&lt;b&gt;*: mailed at alice@example.com, but not mailed: tag \"OwnerEmail\": \"&lt;script&gt;alert(1)&lt;/script&gt;\" is not an email address",
	}
	all := strings.Join(texts, "\n\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("Block Kit texts lack %q:\n%s", w, all)
		}
	}
	for _, raw := range []string{"alice<b>", "<script>", "<b>at</b>"} {
		if strings.Contains(all, raw) {
			t.Errorf("%q from IAM reaches Slack unescaped", raw)
		}
	}
	if !strings.HasPrefix(payload.Text, "[keywarden] 2026-11-23") {
		t.Errorf("fallback text = %q", payload.Text)
	}
}

func TestCompliantAndLimits(t *testing.T) {
	_, _, digests := notify.Sample()
	p := slack.Payload(digestMessage(t, &digests[len(digests)-1]))
	if len(p.Blocks) != 4 || !strings.Contains(p.Blocks[1].Text.Text, "*All compliant*: no findings in 1 account.") {
		t.Errorf("compliant payload = %+v", p.Blocks)
	}
	// A large digest stays within Slack's limits.
	d := digests[0]
	for i := range 500 {
		it := d.Findings[0]
		it.User = strings.Repeat("u", 40) + string(rune('a'+i%26))
		d.Findings = append(d.Findings, it)
	}
	big := slack.Payload(digestMessage(t, &d))
	if len(big.Blocks) > 50 {
		t.Errorf("%d blocks; Slack allows 50", len(big.Blocks))
	}
	for _, b := range big.Blocks {
		if b.Text != nil && len([]rune(b.Text.Text)) > 3000 {
			t.Errorf("a section of %d characters; Slack allows 3000", len([]rune(b.Text.Text)))
		}
	}
	if !strings.Contains(mustJSON(t, big), "…and 474 more in the email digest") {
		t.Error("the payload does not say how many findings it left out")
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEscape(t *testing.T) {
	if got := slack.Escape("<!channel> & <http://x|y>\n"); got != "&lt;!channel&gt; &amp; &lt;http://x|y&gt;" {
		t.Errorf("Escape() = %q", got)
	}
}

// TestGuardAndRelaxedFirst: a guard and the users a tag relaxed open the
// Slack digest, and the summary counts only the actions taken.
func TestGuardAndRelaxedFirst(t *testing.T) {
	_, _, digests := notify.Sample()
	d := digests[0]
	d.Mode = plan.ModeApply
	d.Guards = []plan.Guard{{Account: "123456789012", Reason: "account 123456789012: 30 actions planned, more than enforce.max_actions_per_run (25)"}}
	d.Relaxed = []plan.Relaxed{{Account: "123456789012", User: "bot<b>", Reason: "class machine from tag UserType=machine: its access keys are never disabled"}}
	d.Actions = []plan.Action{
		{Kind: "disable", Status: plan.ActionDone, Done: "disable", On: "2026-11-23", ID: "r.1", Title: "access key AKIA1 (key 1)", User: "u", Account: "111111111111", Rule: "access_key_age", StageAt: 80},
		{Kind: "disable", Status: plan.ActionBlocked, Reason: d.Guards[0].Reason, Title: "access key AKIA2 (key 1)", User: "v", Account: "123456789012", Rule: "access_key_age", StageAt: 80},
	}
	p := slack.Payload(digestMessage(t, &d))
	var texts []string
	for _, b := range p.Blocks[1:] {
		if b.Text != nil {
			texts = append(texts, b.Text.Text)
		}
	}
	want := []string{
		":octagonal_sign: *Stopped by a guard*: nothing was changed in 1 account\n• account 123456789012: 30 actions planned, more than enforce.max_actions_per_run (25)",
		":warning: *Relaxed by a tag* (1 user): users who can tag themselves can escape enforcement this way: check each\n" +
			"• `123456789012` *bot&lt;b&gt;*: class machine from tag UserType=machine: its access keys are never disabled",
		"*4 findings* (4 new or due) in 2 accounts · 1 action taken · 1 owner message · 0 exempt",
	}
	if len(texts) < 3 {
		t.Fatalf("sections = %q", texts)
	}
	for i, w := range want {
		if texts[i] != w {
			t.Errorf("section %d = %q; want %q", i+1, texts[i], w)
		}
	}
	all := strings.Join(texts, "\n")
	for _, w := range []string{"_Done_ (1)\n• disabled access key AKIA1 (key 1) of u in 111111111111 on 2026-11-23 (access_key_age, 80-day stage) [r.1]",
		"_Stopped by a guard, not made_ (1): account 123456789012: 30 actions planned"} {
		if !strings.Contains(all, w) {
			t.Errorf("Block Kit texts lack %q:\n%s", w, all)
		}
	}
}
