package notify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/testenv"
)

var date = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

func TestMIMEParsesBack(t *testing.T) {
	m := &notify.Message{Kind: notify.KindUser, ID: "run1.u1", From: "Security Team <security@example.com>",
		To: []string{"Ålice <alice@example.com>"}, Subject: "Key\r\nBcc: victim@example.com — rotate ✓",
		Text: "line one\nline two with a very long tail " + strings.Repeat("x", 120) + "\n", HTML: "<p>hello &amp; bye</p>", Date: date}
	raw, err := m.MIME()
	if err != nil {
		t.Fatal(err)
	}
	got := testenv.ParseMail(t, string(raw))
	for k, want := range map[string]string{
		"From":             `"Security Team" <security@example.com>`,
		"Message-ID":       "<run1.u1@example.com>",
		"Date":             "Mon, 23 Nov 2026 09:30:00 +0000",
		"Auto-Submitted":   "auto-generated",
		"X-Keywarden-Kind": "user",
		"Bcc":              "",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("header %s = %q; want %q", k, v, want)
		}
	}
	if to, err := got.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "alice@example.com" || to[0].Name != "Ålice" {
		t.Errorf("To = %v, %v; want Ålice <alice@example.com>", to, err)
	}
	// CR/LF in the subject cannot add a header.
	if got.Subject != "Key Bcc: victim@example.com — rotate ✓" {
		t.Errorf("Subject = %q", got.Subject)
	}
	if diff := cmp.Diff([]string{"text/plain", "text/html"}, got.Parts); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	if got.Text != m.Text || got.HTML != m.HTML {
		t.Errorf("bodies = %q / %q; want %q / %q", got.Text, got.HTML, m.Text, m.HTML)
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("a line of %d characters; RFC 5322 allows 998", len(line))
		}
	}
	again, _ := m.MIME()
	if string(again) != string(raw) {
		t.Error("MIME() is not deterministic")
	}
}

func TestMIMEErrors(t *testing.T) {
	for name, m := range map[string]*notify.Message{
		"bad from": {From: "nobody", To: []string{"a@example.com"}, Text: "x"},
		"bad to":   {From: "a@example.com", To: []string{"not an address"}, Text: "x"},
		"no body":  {From: "a@example.com", To: []string{"b@example.com"}},
	} {
		if _, err := m.MIME(); err == nil {
			t.Errorf("MIME(%s) = nil error; want one", name)
		}
	}
}

func TestDefaultTemplatesRenderSample(t *testing.T) {
	tp := notify.DefaultTemplates()
	msg, p, digests := notify.Sample()
	u, err := tp.User(msg, p, "sec@example.com", "id", date)
	if err != nil {
		t.Fatal(err)
	}
	// Key 2 is past its 80-day limit: the subject says it is due now.
	if u.Subject != "[keywarden] 3 AWS credentials need your attention: action needed now" {
		t.Errorf("subject = %q", u.Subject)
	}
	for _, s := range []string{"AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE", "It is past the 80-day limit. keywarden did not disable it: enforcement is off (this run only notifies).",
		"https://acme-prod.signin.aws.amazon.com/console", "aws iam create-access-key --user-name alice<b>", "last told 2026-11-19"} {
		if !strings.Contains(u.Text, s) {
			t.Errorf("user text lacks %q:\n%s", s, u.Text)
		}
	}
	// HTML: the user name from IAM is escaped, never markup.
	if strings.Contains(u.HTML, "alice<b>") || !strings.Contains(u.HTML, "alice&lt;b&gt;") {
		t.Errorf("user HTML does not escape the user name:\n%s", u.HTML)
	}
	d, err := tp.Digest(&digests[0], "sec@example.com", "id2", date)
	if err != nil {
		t.Fatal(err)
	}
	// Only what happened is counted: the listed action was not taken.
	// What is past a limit already needs action now (the sample's one
	// finding at its action stage); then the nearest day ahead: key 1
	// reaches its next stage on 2026-11-28.
	if d.Subject != "[keywarden] 2026-11-23: 4 findings, 4 new or due in 2 accounts; 1 past a limit now; next deadline 2026-11-28" {
		t.Errorf("digest subject = %q", d.Subject)
	}
	for _, s := range []string{"210987654321: error (AccessDenied", "Listed only, not made (1): enforcement is off: run with --apply, or set enforce.mode: apply\n" +
		"- disable access key AKIAI44QH8DHBEXAMPLE (key 2) of alice<b> in 123456789012 (acme-prod) (access_key_age, 80-day stage)\n",
		`bob (1 finding): not mailed: tag "Email": "bob <b>at</b> example" is not an email address`, "access_key_age at 70 days (notify): 1",
		`alice<b>: mailed at alice@example.com, but not mailed: tag "OwnerEmail": "<script>alert(1)</script>" is not an email address`} {
		if !strings.Contains(d.Text, s) {
			t.Errorf("digest text lacks %q:\n%s", s, d.Text)
		}
	}
	// Names and tags from IAM are text in the HTML, never markup.
	for _, raw := range []string{"alice<b>", "<script>", "<b>at</b>"} {
		if strings.Contains(d.HTML, raw) {
			t.Errorf("digest HTML contains %q unescaped", raw)
		}
	}
	for _, esc := range []string{"alice&lt;b&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;", "bob &lt;b&gt;at&lt;/b&gt; example"} {
		if !strings.Contains(d.HTML, esc) {
			t.Errorf("digest HTML lacks the escaped %q", esc)
		}
	}
	c, err := tp.Digest(&digests[len(digests)-1], "sec@example.com", "id3", date)
	if err != nil || !strings.Contains(c.Subject, "all compliant") || !strings.Contains(c.Text, "All compliant: no findings in 1 account.") {
		t.Errorf("compliant digest: %q\n%s (%v)", c.Subject, c.Text, err)
	}
}

func TestLoadTemplatesFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("subject.txt", "Keys for {{.To}}")
	write("user.html", "<p>{{range .Items}}{{.User}} {{end}}</p>")
	tp, err := notify.LoadTemplates(config.NotifyTemplates{UserSubject: "subject.txt", UserHTML: filepath.Join(dir, "user.html")}, dir)
	if err != nil {
		t.Fatal(err)
	}
	msg, p, _ := notify.Sample()
	u, err := tp.User(msg, p, "sec@example.com", "id", date)
	if err != nil {
		t.Fatal(err)
	}
	if u.Subject != "Keys for alice@example.com" || u.HTML != "<p>alice&lt;b&gt; alice&lt;b&gt; alice&lt;b&gt; </p>" {
		t.Errorf("overridden templates: subject %q, HTML %q", u.Subject, u.HTML)
	}
	if !strings.Contains(u.Text, "keywarden checks AWS IAM credentials") {
		t.Error("the text template is not the default one")
	}
}

func TestTemplateErrorsNameTemplateAndLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("syntax.html", "<p>\n{{range .Items}}\n{{.User}\n{{end}}</p>")
	write("exec.txt", "Hello\n\n{{.NoSuchField}}\n")
	write("digest.txt", "{{range .Findings}}{{.Nope}}{{end}}")
	tests := []struct {
		name string
		cfg  config.NotifyTemplates
		want []string
	}{
		{"unreadable", config.NotifyTemplates{UserText: "missing.txt"},
			[]string{"notify.templates.user_text: read template: open " + filepath.Join(dir, "missing.txt")}},
		{"syntax", config.NotifyTemplates{UserHTML: "syntax.html"},
			[]string{"notify.templates.user_html: template: syntax.html:3: bad character U+007D '}'"}},
		{"execution", config.NotifyTemplates{UserText: "exec.txt"},
			[]string{"notify.templates.user_text: template: exec.txt:3:2: executing \"exec.txt\" at <.NoSuchField>: can't evaluate field NoSuchField"}},
		{"digest execution", config.NotifyTemplates{DigestText: "digest.txt"},
			[]string{"notify.templates.digest_text: template: digest.txt:1:21: executing \"digest.txt\" at <.Nope>"}},
		{"two at once", config.NotifyTemplates{UserText: "missing.txt", UserHTML: "syntax.html"},
			[]string{"notify.templates.user_text: read template", "notify.templates.user_html: template: syntax.html:3:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := notify.CheckTemplates(tt.cfg, dir)
			if err == nil {
				t.Fatal("CheckTemplates() = nil; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckTemplates() = %q; want it to contain %q", err, w)
				}
			}
			var te *notify.TemplateError
			if !errors.As(err, &te) || te.File == "" {
				t.Errorf("CheckTemplates() = %T; want a *TemplateError with the file", err)
			}
		})
	}
	if err := notify.CheckTemplates(config.NotifyTemplates{}, ""); err != nil {
		t.Errorf("CheckTemplates(defaults) = %v", err)
	}
}

// TestTemplateFilesAreBounded: a template must be a regular file of at
// most MaxTemplateSize bytes. A template path of /dev/zero used to be read
// until memory ran out, and a FIFO would block the run for ever.
func TestTemplateFilesAreBounded(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("max.txt", notify.MaxTemplateSize)
	write("big.txt", notify.MaxTemplateSize+1)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := notify.CheckTemplates(config.NotifyTemplates{UserText: "max.txt"}, dir); err != nil {
		t.Errorf("CheckTemplates(a %d-byte template) = %v; want nil", notify.MaxTemplateSize, err)
	}
	for file, want := range map[string]string{
		"big.txt":   "notify.templates.user_text: read template: " + filepath.Join(dir, "big.txt") + " is larger than 256 KiB (262144 bytes), the most keywarden reads of a template",
		"/dev/zero": "notify.templates.user_text: read template: /dev/zero is not a regular file",
		"fifo.txt":  "notify.templates.user_text: read template: " + filepath.Join(dir, "fifo.txt") + " is not a regular file",
		".":         "notify.templates.user_text: read template: " + dir + " is not a regular file",
	} {
		err := notify.CheckTemplates(config.NotifyTemplates{UserText: file}, dir)
		var te *notify.TemplateError
		if err == nil || err.Error() != want || !errors.As(err, &te) {
			t.Errorf("CheckTemplates(user_text: %s) = %v; want the *TemplateError %q", file, err, want)
		}
	}
}

// TestPostJSONNeverEchoesTheAnswer: a service that repeats the URL in
// its status line's reason phrase and in its body (as error answers
// often do) gets neither into the error.
func TestPostJSONNeverEchoesTheAnswer(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A hijacked connection writes its own status line.
		c, buf, _ := w.(http.Hijacker).Hijack()
		defer c.Close()
		body := "unknown hook " + r.URL.Path
		fmt.Fprintf(buf, "HTTP/1.1 404 no hook at %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", r.URL.Path, len(body), body)
		buf.Flush()
	})
	srv.Start()
	defer srv.Close()
	err := notify.PostJSON(context.Background(), nil, srv.URL+"/hooks/tok-456", map[string]string{"a": "b"})
	want := "webhook answered HTTP 404 Not Found: no such webhook: the URL is wrong or was deleted (the answer is not shown: it may repeat the URL)"
	if err == nil || err.Error() != want {
		t.Errorf("PostJSON(404 echoing the URL) = %v; want %q", err, want)
	}
}

// TestRedactURL: url.Parse's errors quote the part they cannot read — a
// malformed port or escape, which is part of the secret URL — so a parse
// error becomes a fixed text; transport errors lose the URL's path,
// query and user info wherever they repeat them.
func TestRedactURL(t *testing.T) {
	for _, raw := range []string{"https://hooks.example.com:tok-789/services/x", "https://hooks.example.com/a%zztok-789", "https://hooks.example.com/x\x7ftok-789"} {
		_, err := http.NewRequest(http.MethodPost, raw, nil)
		if err == nil {
			t.Fatalf("NewRequest(%q) = nil error; want a parse error", raw)
		}
		got := notify.RedactURL(err).Error()
		if strings.Contains(got, "tok-789") || got != "the URL is not valid (it is not shown: it is a secret)" {
			t.Errorf("RedactURL(%v) = %q; want the fixed text", err, got)
		}
	}
	inner := errors.New("proxy refused https://user:pw-1@hooks.example.com/services/tok-789?key=k-1 (path /services/tok-789)")
	got := notify.RedactURL(&url.Error{Op: "Post", URL: "https://user:pw-1@hooks.example.com/services/tok-789?key=k-1", Err: inner}).Error()
	for _, secret := range []string{"tok-789", "pw-1", "k-1"} {
		if strings.Contains(got, secret) {
			t.Errorf("RedactURL(transport error) = %q; want no %q", got, secret)
		}
	}
	if !strings.HasPrefix(got, "Post [URL redacted]: proxy refused [redacted]") {
		t.Errorf("RedactURL(transport error) = %q; want the operation and the rest of the error", got)
	}
}

// TestGetURL: a secret URL that does not parse is refused without a
// trace of its value.
func TestGetURL(t *testing.T) {
	env := map[string]string{"HOOK": "https://hooks.example.com:tok-1/x", "PLAIN": "hooks.example.com/tok-1", "GOOD": "https://hooks.example.com/tok-1"}
	s := &notify.Secrets{Getenv: func(k string) string { return env[k] }}
	for _, name := range []string{"HOOK", "PLAIN"} {
		_, err := s.GetURL(context.Background(), name, "", "the webhook URL")
		want := "the webhook URL is not a valid URL (want https://HOST/…; the value in environment variable " + name + " is not shown: it is a secret)"
		if err == nil || err.Error() != want {
			t.Errorf("GetURL(%s) = %v; want %q", name, err, want)
		}
	}
	if v, err := s.GetURL(context.Background(), "GOOD", "", "the webhook URL"); err != nil || v != env["GOOD"] {
		t.Errorf("GetURL(GOOD) = %q, %v; want the URL", v, err)
	}
}

type fakeSSM struct {
	in    []*ssm.GetParameterInput
	value string
	err   error
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.in = append(f.in, in)
	if f.err != nil {
		return nil, f.err
	}
	return &ssm.GetParameterOutput{Parameter: &types.Parameter{Value: aws.String(f.value)}}, nil
}

func TestSecrets(t *testing.T) {
	env := map[string]string{"HOOK": " https://hooks.example.com/secret \n"}
	fake := &fakeSSM{value: "ssm-secret"}
	s := &notify.Secrets{Getenv: func(k string) string { return env[k] }, SSM: fake}
	ctx := context.Background()
	if v, err := s.Get(ctx, "HOOK", "", "the webhook URL"); err != nil || v != "https://hooks.example.com/secret" {
		t.Errorf("Get(env) = %q, %v", v, err)
	}
	if v, err := s.Get(ctx, "HOOK", "/kw/hook", "the webhook URL"); err != nil || v != "ssm-secret" {
		t.Errorf("Get(ssm) = %q, %v; want the SSM value (it wins)", v, err)
	}
	if len(fake.in) != 1 || aws.ToString(fake.in[0].Name) != "/kw/hook" || !aws.ToBool(fake.in[0].WithDecryption) {
		t.Errorf("GetParameter inputs = %+v; want /kw/hook with decryption", fake.in)
	}
	if _, err := s.Get(ctx, "MISSING", "", "the Slack webhook URL"); err == nil ||
		err.Error() != "the Slack webhook URL: environment variable MISSING is not set" {
		t.Errorf("Get(unset env) = %v", err)
	}
	fake.err = errors.New("ParameterNotFound")
	if _, err := s.Get(ctx, "", "/kw/none", "the SMTP password"); err == nil ||
		err.Error() != "read the SMTP password from SSM parameter /kw/none: ParameterNotFound" {
		t.Errorf("Get(missing parameter) = %v", err)
	}
}

func TestPostJSONRedactsTheURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "invalid_token", http.StatusForbidden)
	}))
	defer srv.Close()
	err := notify.PostJSON(context.Background(), nil, srv.URL+"/services/T0/B0/tok-123", map[string]string{"a": "b"})
	want := "webhook answered HTTP 403 Forbidden: the service refused the URL: it is wrong, revoked or expired (the answer is not shown: it may repeat the URL)"
	if err == nil || err.Error() != want {
		t.Errorf("PostJSON(403) = %v; want %q: the status and a fixed reason, never the body", err, want)
	}
	srv.Close()
	err = notify.PostJSON(context.Background(), nil, srv.URL+"/services/T0/B0/tok-123", nil)
	if err == nil || strings.Contains(err.Error(), "tok-123") || !strings.Contains(err.Error(), "URL redacted") {
		t.Errorf("PostJSON(closed server) = %v; want a connection error without the URL", err)
	}
}
