package main

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/lambda"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/testenv"
)

// hostileConfig is the hostile account's config: an organization (the
// management account and one member), only corpsec.test mailed, an
// exemption by tag, a protected user, both accounts allowed. NOTIFY is
// replaced by the notify block, MEMBER by the member's ID; OUTBOX, STATE
// and AUDIT as enforceSetup does.
const hostileConfig = `version: 1
accounts:
  organization: { role_name: OrganizationAccountAccessRole }
exemptions:
  - { tags: { "keywarden:exempt": "true" }, reason: "managed elsewhere" }
notify:
NOTIFY
enforce:
  allowed_accounts: ["123456789012", "MEMBER"]
  max_fraction: 1
  protect:
    - { users: ["break-glass"], reason: "emergency access" }
  audit_file: AUDIT
state: { url: "sqlite://STATE" }
`

// hostileOutbox mails owners and the admins through the outbox.
const hostileOutbox = `  users: { email_tags: [Email], allowed_domains: [corpsec.test], via: outbox }
  admins: { emails: [sec@corpsec.test] }
  outbox: { dir: OUTBOX }`

// hostileChannels mails through an SMTP server and posts the digest to a
// webhook and to Slack, all of which answer errors that repeat secrets.
const hostileChannels = `  from: "Security <sec@corpsec.test>"
  users: { email_tags: [Email], allowed_domains: [corpsec.test], via: smtp }
  admins: { emails: [sec@corpsec.test], webhook_url_env: KW_WEBHOOK_URL, slack_webhook_env: KW_SLACK_URL }
  smtp: { host: 127.0.0.1, port: SMTPPORT, username: keywarden, starttls: false }`

// The secrets the failing channels are given, and repeat in their errors.
const (
	smtpPassword = "smtp-s3cret-Passw0rd"
	webhookToken = "hook-s3cret-token"
	slackToken   = "slack-s3cret-token"
)

// hostileOwner is a user with one key age days old (used yesterday) whose
// Email tag is email (none when empty), and tags.
func hostileOwner(name, email string, age int, tags ...string) testenv.SeedUser {
	u := keyUser(name, age, tags...)
	u.Tags["Email"] = email
	if email == "" {
		delete(u.Tags, "Email")
	}
	return u
}

// hostileUsers are the management account's users: IAM names that are
// the credential report's "no value" markers, users that tagged
// themselves into a softer class and an exemption, keywarden's own user,
// a protected user, owner addresses that look like corpsec.test and are
// not, and names that are Markdown mentions, autolinks and CSV formulas.
func hostileUsers() []testenv.SeedUser {
	lookAlike := func(name, email string) testenv.SeedUser { return hostileOwner(name, email, 75) }
	return []testenv.SeedUser{
		hostileOwner("no_information", "no_information@corpsec.test", 85),
		hostileOwner("not_supported", "not_supported@corpsec.test", 75),
		hostileOwner("self-machine", "self-machine@corpsec.test", 95, "UserType", "machine"),
		hostileOwner("self-exempt", "self-exempt@corpsec.test", 95, "keywarden:exempt", "true"),
		hostileOwner("keywarden-bot", "keywarden-bot@corpsec.test", 85),
		hostileOwner("break-glass", "break-glass@corpsec.test", 85),
		lookAlike("long-s", "h@corp\u017fec.test"),                                   // ſ folds to s
		lookAlike("kelvin", "\u212aelvin@corpsec.test"),                              // the Kelvin sign lowercases to k
		lookAlike("full-width", "h@\uff43\uff4f\uff52\uff50\uff53\uff45\uff43.test"), // ｃｏｒｐｓｅｃ
		lookAlike("look-alike", "h@\u0441\u043erpsec.test"),                          // Cyrillic с and о
		lookAlike("trailing-dot", "h@corpsec.test."),
		lookAlike("subdomain", "h@mail.corpsec.test"),
		lookAlike("bidi", "h\u202e\u2028@corpsec.test"),
		lookAlike("html-tag", "<img src=x onerror=alert(1)>@corpsec.test"),
		lookAlike("upper-case", "H@CorpSec.TEST"), // ASCII case only: mailed, as H@corpsec.test
		lookAlike("@security-team", "sec-team@corpsec.test"),
		lookAlike("www.evil.example", "www@corpsec.test"),
		lookAlike("=1+2", "formula@corpsec.test"),
		lookAlike("alice@evil.example", ""), // the name is an address outside corpsec.test
	}
}

// TestHostileAccount: every attack of issue 13 at once, in one account of
// an organization (and, where it takes a second, its member account),
// against the real binary:
//   - users named no_information and not_supported; users that tagged
//     themselves UserType=machine and keywarden:exempt=true; owner
//     addresses that look like the one allowed domain and are not (ſ, the
//     Kelvin sign, full-width and Cyrillic letters, a trailing dot, a
//     subdomain, a bidi override, HTML); names that are Markdown mentions,
//     autolinks, mail addresses and CSV formulas; keywarden's own user
//     (its signing key, then the source_profile key behind its role); a
//     user in enforce.protect; in the member account, a key created 30
//     days in the future, so that the clock check stops every change
//     there (a guard trips);
//   - a YAML merge-key bomb, a config over 1 MiB, a /dev/zero template,
//     run --apply 55 days ahead and the Lambda events {"apply": true,
//     "as_of": …} and {"as_of": …}: each refused, nothing requested from
//     AWS, nothing written;
//   - an SMTP server, a webhook and a Slack URL whose errors repeat the
//     secrets they were given.
//
// The scan completes with exactly the findings expected; the reports are
// inert and mark what the tags decided; only corpsec.test addresses are
// mailed; owners are told what happened (a guard, keywarden's own key, a
// protected user); IAM sees exactly one write, the disable of
// no_information's key; no secret is in any output, the state, the audit
// file or the outbox.
func TestHostileAccount(t *testing.T) {
	m := testenv.Moto(t)
	member := m.CreateOrganization(t, 1).Members[0]
	memberCfg := m.AssumeRoleConfig(t, "arn:aws:iam::"+member+":role/OrganizationAccountAccessRole")
	memberIDs := m.SeedInto(t, memberCfg, []testenv.SeedUser{
		hostileOwner("m-stale", "m-stale@corpsec.test", 85),
		{Name: "m-future", Tags: map[string]string{"Email": "m-future@corpsec.test"}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
	})
	m.SetClock(t, "+30d")
	future, err := iam.NewFromConfig(memberCfg).CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String("m-future")})
	m.SetClock(t, "+0")
	if err != nil {
		t.Fatal(err)
	}
	memberIDs["m-future"] = []string{aws.ToString(future.AccessKey.AccessKeyId)}

	ids := m.Seed(t, hostileUsers())
	dir := t.TempDir()
	smtpSrv, hook := testenv.EchoingSMTP(t), testenv.EchoingWebhook(t, webhookToken)
	config := func(notify string) string {
		return strings.NewReplacer("MEMBER", member, "SMTPPORT", fmt.Sprint(smtpSrv.Port), "OUTBOX", filepath.Join(dir, "outbox"),
			"STATE", filepath.Join(dir, "state.db"), "AUDIT", filepath.Join(dir, "audit.jsonl")).Replace(strings.Replace(hostileConfig, "NOTIFY", notify, 1))
	}
	cfg := config(hostileOutbox)
	writeFile(t, filepath.Join(dir, "keywarden.yaml"), cfg)
	writeFile(t, filepath.Join(dir, "channels.yaml"), config(hostileChannels))
	own := ids["keywarden-bot"][0]
	p := m.NewProxy(t)
	direct := append(p.Env(m), "AWS_ACCESS_KEY_ID="+own) // moto does not check the secret
	role := "arn:aws:iam::" + testenv.AccountID + ":role/keywarden"
	viaProfile := roleProfileEnv(t, p.Env(m), own, role)
	now := clock(time.Now().UTC())

	// outputs keeps everything every run printed, for the secret sweep.
	var outputs []string
	kw := func(env []string, args ...string) result {
		t.Helper()
		r := keywarden(t, env, dir, args...)
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}

	// 1. Refused before anything is read: no AWS request, nothing written.
	bomb, err := filepath.Abs(filepath.Join("testdata", "merge-bomb.yaml")) // 569 bytes, 9^10 keys once expanded
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "big.yaml"), "version: 1\n"+strings.Repeat("# padding\n", 110_000))
	writeFile(t, filepath.Join(dir, "zero.yaml"), config(hostileOutbox+"\n  templates: { user_text: /dev/zero }"))
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--as-of", now.at(55)}, []string{"is 55 days from the wall clock", "add --force-as-of"}},
		{[]string{"--config", bomb}, []string{"merge-bomb.yaml:6: YAML aliases and merge keys (<<) here expand to more than 100000 nodes"}},
		{[]string{"--config", "big.yaml"}, []string{"big.yaml: the config is larger than 1 MiB"}},
		{[]string{"--config", "zero.yaml"}, []string{"zero.yaml:", "notify.templates.user_text: read template: /dev/zero is not a regular file"}},
	} {
		r := kw(direct, append([]string{"run", "--apply", "--format", "json"}, tt.args...)...)
		for _, want := range tt.want {
			if r.code != 2 || !strings.Contains(r.stderr, want) {
				t.Errorf("run --apply %v: exit %d\n%s\nwant exit 2 and %q", tt.args, r.code, r.stderr, want)
			}
		}
	}
	for _, event := range []string{`{"apply": true, "as_of": "` + now.at(55) + `"}`, `{"as_of": "` + now.at(55) + `"}`} {
		l := invokeLambda(t, direct, cfg, event)
		outputs = append(outputs, l.answer, l.failed, l.logs)
		var e struct{ ErrorMessage string }
		if err := json.Unmarshal([]byte(l.failed), &e); err != nil || e.ErrorMessage != lambda.ErrAsOf.Error() {
			t.Errorf("Lambda event %s: answer %q, error %q; want the error %q", event, l.answer, l.failed, lambda.ErrAsOf)
		}
	}
	if ops := p.Ops(); len(ops) != 0 {
		t.Errorf("the refused runs made %d AWS requests (first %s); want none", len(ops), ops[0].Name())
	}
	for _, f := range []string{"state.db", "outbox", "audit.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("a refused run created %s", f)
		}
	}

	// 2. The scan completes, with exactly these findings.
	r := kw(direct, "scan", "--format", "json")
	if r.code != 0 {
		t.Fatalf("scan: exit %d\n%s", r.code, r.stderr)
	}
	rep := decodeReport(t, r)
	for _, a := range rep.Accounts {
		if a.Status != "ok" {
			t.Errorf("account %s: %s %s; want ok", a.ID, a.Status, a.Error)
		}
	}
	if len(rep.Accounts) != 2 {
		t.Errorf("accounts = %+v; want the management account and the member", rep.Accounts)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, fmt.Sprintf("%s %s %s %s %s class=%s%s exempt=%v%s to=%v", f.Account, f.User, f.Rule, f.Action, f.Severity,
			f.Class, f.ClassFromTag, f.Exempt, f.ExemptFromTag, f.Recipients))
		if f.Credential == "access_key" {
			if want := cmpOr(keyOf(ids, f.User), keyOf(memberIDs, f.User)); f.KeyID != want {
				t.Errorf("%s's finding names key %q; want %q", f.User, f.KeyID, want)
			}
		}
	}
	inMain := func(user, rule, action, sev string, to ...string) string {
		return fmt.Sprintf("%s %s %s %s %s class=human exempt=false to=%v", testenv.AccountID, user, rule, action, sev, to)
	}
	age := func(user, action, sev string, to ...string) string {
		return inMain(user, "access_key_age", action, sev, to...)
	}
	want := []string{
		age("no_information", "disable", "high", "no_information@corpsec.test"),
		age("not_supported", "notify", "medium", "not_supported@corpsec.test"),
		testenv.AccountID + " self-machine access_key_age notify critical class=machineUserType=machine exempt=false to=[self-machine@corpsec.test]",
		testenv.AccountID + " self-exempt access_key_age delete high class=human exempt=truekeywarden:exempt=true to=[self-exempt@corpsec.test]",
		age("keywarden-bot", "disable", "high", "keywarden-bot@corpsec.test"),
		age("break-glass", "disable", "high", "break-glass@corpsec.test"),
		age("long-s", "notify", "medium"),
		age("kelvin", "notify", "medium"),
		age("full-width", "notify", "medium"),
		age("look-alike", "notify", "medium"),
		age("trailing-dot", "notify", "medium"),
		age("subdomain", "notify", "medium"),
		age("bidi", "notify", "medium"),
		age("html-tag", "notify", "medium"),
		age("upper-case", "notify", "medium", "H@corpsec.test"),
		age("@security-team", "notify", "medium", "sec-team@corpsec.test"),
		age("www.evil.example", "notify", "medium", "www@corpsec.test"),
		age("=1+2", "notify", "medium", "formula@corpsec.test"),
		age("alice@evil.example", "notify", "medium"),
		member + " m-stale access_key_age disable high class=human exempt=false to=[m-stale@corpsec.test]",
		member + " m-future access_key_unknown_age notify high class=human exempt=false to=[m-future@corpsec.test]",
		// Neither account has a password policy (IAM's defaults fail CIS
		// 1.8 and 1.9): each account's own finding, mailed to no owner.
		testenv.AccountID + " <account> password_policy notify medium class= exempt=false to=[]",
		member + " <account> password_policy notify medium class= exempt=false to=[]",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The reports are inert, and mark what the tags decided.
	r = kw(direct, "scan", "--format", "markdown")
	md := r.stdout
	if r.code != 0 || !strings.Contains(md, "UserType=machine") || !strings.Contains(md, "keywarden:exempt=true") {
		t.Errorf("scan --format markdown: exit %d; want the tag marks UserType=machine and keywarden:exempt=true\n%s", r.code, md)
	}
	if !strings.Contains(md, "| =1+2 |") || !strings.Contains(md, "| no_information |") {
		t.Errorf("the Markdown report does not show the names =1+2 and no_information as text:\n%s", md)
	}
	for _, live := range []*regexp.Regexp{regexp.MustCompile(`@[\pL\pN_-]`), regexp.MustCompile(`(?i)www\.`), regexp.MustCompile(`://`)} {
		if l := live.FindString(md); l != "" {
			t.Errorf("the Markdown report holds %q, which GitHub turns into a mention or a link:\n%s", l, md)
		}
	}
	r = kw(direct, "scan", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != 0 || err != nil || len(rows) != len(rep.Findings)+1 {
		t.Fatalf("scan --format csv: exit %d, %v, %d rows; want a header and %d findings\n%s", r.code, err, len(rows), len(rep.Findings), r.stdout)
	}
	tagCols, users, userCol := 0, map[string]bool{}, slices.Index(rows[0], "user")
	for i, row := range rows[1:] {
		users[row[userCol]] = true
		for _, cell := range row {
			if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsAny(c[:1], "=+-@\t\r") {
				t.Errorf("CSV row %d: cell %q starts a formula", i+2, cell)
			}
			if cell == "UserType=machine" || cell == "keywarden:exempt=true" {
				tagCols++
			}
		}
	}
	if !users["'=1+2"] || !users["'@security-team"] || !users["no_information"] {
		t.Errorf("CSV users %v; want '=1+2 and '@security-team quoted, no_information as it is", sortedKeys(users))
	}
	if tagCols != 2 {
		t.Errorf("the CSV report marks %d tag decisions; want 2 (self-machine's class, self-exempt's exemption)", tagCols)
	}
	r = kw(direct, "scan", "--format", "html")
	if r.code != 0 || strings.Count(r.stdout, "<tr data-finding=") != len(rep.Findings) ||
		!strings.Contains(r.stdout, "UserType=machine") || !strings.Contains(r.stdout, "keywarden:exempt=true") {
		t.Errorf("scan --format html: exit %d; want %d finding rows and the tag marks", r.code, len(rep.Findings))
	}

	// 3. Channels whose errors repeat their secrets: every delivery fails,
	// and says so without them.
	chEnv := append(slices.Clone(direct), "KEYWARDEN_SMTP_PASSWORD="+smtpPassword, "KW_WEBHOOK_URL="+hook.URL,
		"KW_SLACK_URL=http://127.0.0.1:"+slackToken+"/services/T0/B0")
	r = kw(chEnv, "run", "--config", "channels.yaml", "--format", "json")
	if r.code != 1 {
		t.Fatalf("run through the failing channels: exit %d; want 1\n%s", r.code, r.stderr)
	}
	failed := map[string]bool{}
	for _, d := range decodeRun(t, r).Deliveries {
		if d.Status != "failed" {
			t.Errorf("delivery %s to %v: %s; want failed", d.Channel, d.To, d.Status)
		}
		failed[d.Channel] = true
	}
	if len(failed) != 3 || !strings.Contains(r.stderr, "the server answered 535 5.7.8") || !strings.Contains(r.stderr, "webhook answered HTTP 400") ||
		!strings.Contains(r.stderr, "the Slack webhook URL is not a valid URL") {
		t.Errorf("failed channels %v; stderr:\n%s\nwant smtp (535 5.7.8), the webhook (HTTP 400) and Slack (not a valid URL) reported", failed, r.stderr)
	}
	if smtpSrv.Requests() == 0 || hook.Requests() == 0 {
		t.Fatalf("the SMTP server got %d AUTH commands and the webhook %d posts; want the secrets sent, and repeated back", smtpSrv.Requests(), hook.Requests())
	}

	// 4. --apply with keywarden's own key: exactly one IAM write.
	p.Reset()
	r = kw(direct, "run", "--apply", "--format", "json")
	memberGuard := "account " + member + ": its own data contradicts the run's clock: "
	if r.code != 5 || !strings.Contains(r.stderr, memberGuard) {
		t.Fatalf("run --apply: exit %d\n%s\nwant exit 5, the member's clock check", r.code, r.stderr)
	}
	protected := `protected by enforce.protect[0] (user break-glass matches "break-glass"): emergency access; keywarden never acts on it`
	applied := decodeRun(t, r)
	checkHostileActions(t, applied, map[string]string{
		"no_information": "done",
		"keywarden-bot":  "skipped " + plan.ReasonSelf,
		"break-glass":    "skipped " + protected,
		"m-stale":        "blocked " + memberGuard,
	})
	if w := iamWritesBy(p); !mapsEqual(w, map[string]int{"UpdateAccessKey " + ids["no_information"][0]: 1}) {
		t.Errorf("IAM writes = %v; want no_information's disable only", w)
	}

	// Only corpsec.test is mailed, and every owner is told what happened.
	mails := map[string]testenv.Mail{}
	for _, mail := range outboxMail(t, dir, "") {
		list, err := mail.Header.AddressList("To")
		if err != nil || len(list) != 1 {
			t.Fatalf("a message to %q (%v); want one recipient", mail.Header.Get("To"), err)
		}
		to := list[0].Address
		if _, dup := mails[to]; dup {
			t.Errorf("%s got two messages", to)
		}
		mails[to] = mail
		if mail.Header.Get("Cc") != "" || mail.Header.Get("Bcc") != "" {
			t.Errorf("a message to %s has Cc %q, Bcc %q", to, mail.Header.Get("Cc"), mail.Header.Get("Bcc"))
		}
	}
	wantTo := []string{"H@corpsec.test", "break-glass@corpsec.test", "formula@corpsec.test", "keywarden-bot@corpsec.test",
		"m-future@corpsec.test", "m-stale@corpsec.test", "no_information@corpsec.test", "not_supported@corpsec.test",
		"sec-team@corpsec.test", "sec@corpsec.test", "self-machine@corpsec.test", "www@corpsec.test"}
	if gotTo := sortedKeys(mails); !slices.Equal(gotTo, wantTo) {
		t.Errorf("mailed %q;\nwant %q", gotTo, wantTo)
	}
	for to, says := range map[string]string{
		"m-stale@corpsec.test":        "keywarden did not disable it: a safety guard stopped every change in account " + member + " in this run",
		"no_information@corpsec.test": "It was disabled on " + applied.Plan.Day + " by keywarden (action ",
		"keywarden-bot@corpsec.test":  "keywarden never changes it: it is the access key keywarden itself runs with.",
		"break-glass@corpsec.test":    "keywarden did not disable it: " + protected + ".",
		"m-future@corpsec.test":       "Its creation date is missing or in the future, so its age is unknown and keywarden will not act on it",
	} {
		if text := mails[to].Text; !strings.Contains(text, says) {
			t.Errorf("the message to %s does not say %q:\n%s", to, says, text)
		}
	}
	for to, mail := range mails {
		for _, lie := range []string{"will be disabled", "will be deleted", "is disabled on", "is deleted on"} {
			if strings.Contains(mail.Text, lie) {
				t.Errorf("the message to %s says %q:\n%s", to, lie, mail.Text)
			}
		}
	}
	if text := mails["m-stale@corpsec.test"].Text; !strings.Contains(text, memberIDs["m-stale"][0]) || strings.Contains(text, "was disabled") {
		t.Errorf("m-stale's message does not name the key %s, or says it was disabled:\n%s", memberIDs["m-stale"][0], text)
	}
	digest := mails["sec@corpsec.test"]
	relaxed := strings.Index(digest.Text, "RELAXED BY A TAG (2 users)")
	if g := strings.Index(digest.Text, "STOPPED BY A GUARD: nothing was changed in 1 account.\n- "+memberGuard); g < 0 || relaxed < g ||
		relaxed > strings.Index(digest.Text, "AT A GLANCE") {
		t.Errorf("the digest does not open with the guard, then the users a tag relaxed:\n%s", digest.Text)
	}
	for _, s := range []string{testenv.AccountID + " self-machine: class machine from tag UserType=machine",
		testenv.AccountID + " self-exempt: exempt from tag keywarden:exempt=true (managed elsewhere)"} {
		if !strings.Contains(digest.Text, s) {
			t.Errorf("the digest does not say %q:\n%s", s, digest.Text)
		}
	}
	for _, user := range []string{"long-s", "kelvin", "full-width", "look-alike", "trailing-dot", "subdomain", "bidi", "html-tag", "alice@evil.example"} {
		if !strings.Contains(digest.Text, testenv.AccountID+" "+user+" (1 finding): ") {
			t.Errorf("the digest does not list %s among the owners keywarden cannot mail:\n%s", user, digest.Text)
		}
	}
	if strings.Contains(digest.HTML, "<img") {
		t.Errorf("the digest's HTML holds a tag value as markup:\n%s", digest.HTML)
	}

	// 5. --apply through a role_arn + source_profile profile whose source
	// key is the same: skipped as the key behind the role; nothing written.
	p.Reset()
	r = kw(viaProfile, "run", "--apply", "--format", "json")
	if r.code != 5 {
		t.Fatalf("run --apply through the profile: exit %d\n%s", r.code, r.stderr)
	}
	if p.Count("sts:AssumeRole") == 0 {
		t.Fatal("the run through the profile assumed no role")
	}
	checkHostileActions(t, decodeRun(t, r), map[string]string{
		"keywarden-bot": "skipped " + plan.ReasonSource(role),
		"break-glass":   "skipped " + protected,
		"m-stale":       "blocked " + memberGuard,
	})
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("IAM writes = %v; want none", w)
	}
	for _, user := range []string{"keywarden-bot", "break-glass", "self-exempt", "self-machine"} {
		if st := keyStatus(t, m, user); st[ids[user][0]] != "Active" {
			t.Errorf("%s's key: %v; want Active", user, st)
		}
	}

	// 6. No secret anywhere: outputs, the state, the audit file, the outbox.
	files, _ := filepath.Glob(filepath.Join(dir, "state.db*"))
	eml, _ := filepath.Glob(filepath.Join(dir, "outbox", "*"))
	for _, f := range append(append(files, eml...), filepath.Join(dir, "audit.jsonl")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00keywarden\x00" + smtpPassword))
	for i, out := range outputs {
		for _, secret := range []string{smtpPassword, plain, webhookToken, slackToken} {
			if strings.Contains(out, secret) {
				t.Errorf("output %d holds the secret %q:\n%s", i, secret, out)
			}
		}
	}
}

// checkHostileActions: res's actions are exactly want's, by user: the
// status, then the reason (its start, for blocked ones).
func checkHostileActions(t *testing.T, res run.Result, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, a := range res.Plan.Actions {
		got[a.User] = a.Status
		if w := want[a.User]; strings.HasPrefix(w, a.Status+" ") && strings.HasPrefix(a.Status+" "+a.Reason, w) {
			got[a.User] = w
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("actions %v;\nwant %v", got, want)
	}
}

// keyOf is user's first key ID in ids, "" for none.
func keyOf(ids map[string][]string, user string) string {
	if len(ids[user]) == 0 {
		return ""
	}
	return ids[user][0]
}

// writeFile writes text to path.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHostileCredentialReport: what moto cannot produce, from an offline
// credential report (testdata/hostile-report.csv, as of 2026-11-23): a
// row repeated identically is read once, with a warning naming both
// lines; an active key without a creation date, and one created in the
// future, are each a high finding, never silence; the names
// no_information and not_supported are users like any other. A user on
// two rows that differ fails naming both lines; a name that carries a
// terminal escape fails with the name quoted, the escape never printed;
// /dev/zero is refused once it has given more than any report holds.
func TestHostileCredentialReport(t *testing.T) {
	dir := t.TempDir()
	base, err := os.ReadFile(filepath.Join("testdata", "hostile-report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "report.csv"), string(base))
	r := keywarden(t, nil, dir, "scan", "--credential-report", "report.csv", "--as-of", "2026-11-23", "--format", "json")
	if r.code != 0 {
		t.Fatalf("scan: exit %d\n%s", r.code, r.stderr)
	}
	if want := `credential report line 5, column user: user \"twice\" appears twice, identically (first on line 4); the copy is ignored`; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr:\n%s\nwant the warning %q", r.stderr, want)
	}
	var got []string
	for _, f := range decodeReport(t, r).Findings {
		got = append(got, fmt.Sprintf("%s %s %s %s %d", f.User, f.Rule, f.Action, f.Severity, f.AgeDays))
	}
	want := []string{
		"future-date access_key_unknown_age notify high 0",
		"no-date access_key_unknown_age notify high 0",
		"no_information access_key_age delete high 90",
		"not_supported access_key_age disable high 80",
		"twice access_key_age notify medium 70",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// An endless file is refused, not read until memory runs out.
	r = keywarden(t, nil, dir, "scan", "--credential-report", "/dev/zero", "--format", "json")
	if want := "/dev/zero: the credential report is larger than 32 MiB"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("scan --credential-report /dev/zero: exit %d\n%s\nwant exit 1 and %q", r.code, r.stderr, want)
	}

	// A row of twice's again, with another creation date; a row whose
	// name holds an OSC 8 hyperlink and a colour escape.
	lines := strings.SplitAfter(string(base), "\n")
	conflict := strings.Replace(lines[3], "2026-09-14", "2026-09-15", 1)
	escape := strings.ReplaceAll(lines[3], "twice", "bob\x1b]8;;https://evil.example\x07\x1b[31m")
	for _, tt := range []struct{ extra, want string }{
		{conflict, `credential report line 8, column user: user "twice" appears twice with different values (first on line 4)`},
		{escape, `credential report line 8, column user: "bob\x1b]8;;https://evil.example\a\x1b[31m" is not an IAM user name`},
	} {
		writeFile(t, filepath.Join(dir, "bad.csv"), string(base)+tt.extra)
		r := keywarden(t, nil, dir, "scan", "--credential-report", "bad.csv", "--as-of", "2026-11-23", "--format", "json")
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) || strings.ContainsRune(r.stderr, 0x1b) || r.stdout != "" {
			t.Errorf("scan of a report with %q: exit %d, stdout %q\n%q\nwant exit 1, no report and %q (no raw escape)", tt.extra, r.code, r.stdout, r.stderr, tt.want)
		}
	}
}
