package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/testenv"
)

// Secrets planted in the run's channels: the webhook URL's path, a
// malformed Slack URL's port, the SMTP password.
const (
	webhookSecret = "SECRET-webhook-token"
	slackSecret   = "SECRET-slack-port"
	smtpSecret    = "pw-SECRET-smtp"
)

// TestRunKeepsSecretsOutOfErrors: every channel of a run fails with an
// answer that carries its secret — a webhook whose error echoes its URL, a
// Slack URL whose port is malformed (url.Parse's error quotes it), an SMTP
// server whose 535 reply echoes AUTH PLAIN — and none of the secrets
// reaches stderr, the run's JSON or the state database; the failures are
// still reported, by status and code.
func TestRunKeepsSecretsOutOfErrors(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.csv")
	row := "alice@example.com,arn:aws:iam::123456789012:user/alice@example.com,2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2026-08-20T10:00:00+00:00,2026-11-22T10:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
	if err := os.WriteFile(report, []byte(reportHeader+row), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "keywarden.yaml")
	yaml := fmt.Sprintf(`version: 1
notify:
  from: sec@example.com
  users: { via: smtp }
  smtp: { host: 127.0.0.1, port: %d, username: keywarden, password_env: KW_SMTP_PASSWORD, starttls: false }
  admins: { slack_webhook_env: KW_SLACK, webhook_url_env: KW_HOOK }
state: { url: "sqlite://%s" }
`, testenv.EchoingSMTP(t).Port, filepath.Join(dir, "state.db"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"KW_SMTP_PASSWORD": smtpSecret,
		"KW_SLACK":         "https://hooks.slack.com:" + slackSecret + "/services/T0/B0/x",
		"KW_HOOK":          testenv.EchoingWebhook(t, webhookSecret).URL,
	}
	f, out, errOut := testFactory(false)
	f.Getenv = func(k string) string { return env[k] }
	code := Main(context.Background(), f, []string{"run", "--config", cfg, "--credential-report", report, "--as-of", "2026-11-23", "--log-level", "debug"})
	if code != ExitError {
		t.Errorf("run exit %d; want %d (notifications failed)\nstderr:\n%s", code, ExitError, errOut)
	}
	places := map[string]string{"stderr": errOut.String(), "run JSON": out.String()}
	dbs, _ := filepath.Glob(filepath.Join(dir, "state.db*"))
	if len(dbs) == 0 {
		t.Fatal("no state database written")
	}
	for _, db := range dbs {
		b, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		places[filepath.Base(db)] = string(b)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00keywarden\x00" + smtpSecret))
	for where, text := range places {
		for _, secret := range []string{webhookSecret, slackSecret, smtpSecret, plain} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds the secret %q:\n%s", where, secret, text)
			}
		}
	}
	// The failures are reported all the same, without the secrets.
	for _, want := range []string{
		"webhook answered HTTP 400 Bad Request",
		"the Slack webhook URL is not a valid URL",
		"authenticate as keywarden: the server answered 535 5.7.8",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run JSON lacks %q:\n%s", want, out)
		}
	}
}
