package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	dynamostate "github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Event
		err     string
	}{
		{"empty", "", Event{}, ""},
		{"null", "null", Event{}, ""},
		{"scheduler input", `{"dry_run": true, "as_of": "2026-12-01", "accounts": ["123456789012"]}`,
			Event{DryRun: true, AsOf: "2026-12-01", Accounts: []string{"123456789012"}}, ""},
		{"EventBridge scheduled event", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, Event{}, ""},
		{"EventBridge event with overrides", `{"detail-type":"keywarden","detail":{"apply":true}}`, Event{Apply: true}, ""},
		{"unknown field", `{"dryrun": true}`, Event{}, `event: json: unknown field "dryrun"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEvent(json.RawMessage(tt.payload))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseEvent error = %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseEvent (-want +got):\n%s", diff)
			}
		})
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigSourceErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		env  map[string]string
		want string
	}{
		"none": {map[string]string{}, "set exactly one of KEYWARDEN_CONFIG (the YAML), KEYWARDEN_CONFIG_SSM (an SSM parameter name) or KEYWARDEN_CONFIG_S3 (s3://BUCKET/KEY); 0 are set"},
		"two":  {map[string]string{EnvConfig: "version: 1\n", EnvConfigSSM: "/kw"}, "; 2 are set"},
		"bad inline": {map[string]string{EnvConfig: "version: 1\nrules:\n  nope: 1\n"},
			"KEYWARDEN_CONFIG:3: rules.nope: unknown key"},
		"bad s3 uri": {map[string]string{EnvConfigS3: "bucket/key"}, `KEYWARDEN_CONFIG_S3 "bucket/key": want s3://BUCKET/KEY`},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			h := New(Deps{Getenv: envOf(tt.env), Now: time.Now, Logs: &logs,
				LoadAWSConfig: func(context.Context) (aws.Config, error) { t.Fatal("no AWS needed"); return aws.Config{}, nil }})
			_, err := h.Invoke(context.Background(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Invoke error = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestInvokeRefusesABadEvent(t *testing.T) {
	for payload, want := range map[string]string{
		`{"as_of": "soon"}`: `event: as_of "soon": want RFC 3339 (2026-11-23T09:00:00Z) or a date (2026-11-23)`,
	} {
		var logs bytes.Buffer
		h := New(Deps{Getenv: envOf(map[string]string{EnvConfig: "version: 1\n"}), Now: time.Now, Logs: &logs,
			LoadAWSConfig: func(context.Context) (aws.Config, error) { t.Fatal("no AWS needed"); return aws.Config{}, nil }})
		if _, err := h.Invoke(context.Background(), json.RawMessage(payload)); err == nil || err.Error() != want {
			t.Errorf("Invoke(%s) error = %v; want %s", payload, err, want)
		}
	}
}

// lambdaConfig is the function's config for the moto tests: SES mail,
// state in the DynamoDB table keywarden-state (stateTable creates it).
const lambdaConfig = `version: 1
notify:
  from: security@example.com
  users: { email_tags: [Email], via: ses }
  admins: { emails: [sec@example.com] }
state: { url: "dynamodb://keywarden-state" }
`

// stateTable creates the state table in moto and returns a store on it.
func stateTable(t *testing.T, m *testenv.MotoServer) state.Store {
	t.Helper()
	ctx := context.Background()
	client := ddb.NewFromConfig(m.Config(t))
	if err := dynamostate.CreateTable(ctx, client, "keywarden-state", time.Minute); err != nil {
		t.Fatal(err)
	}
	s, err := dynamostate.Open(ctx, client, "keywarden-state")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seed gives the account alice (a key at 85 days: one finding, mailed to
// her) and bob (a new key), an SES identity, and a compliant password
// policy: these tests are about the function (its config, its deadline),
// not the account's password_policy finding.
func seed(t *testing.T, m *testenv.MotoServer) {
	t.Helper()
	m.CompliantPasswordPolicy(t, m.Config(t))
	m.Seed(t, []testenv.SeedUser{
		{Name: "alice", Tags: map[string]string{"Email": "alice@example.com"}, Keys: []testenv.SeedKey{{AgeDays: 85, LastUsedDaysAgo: 1}},
			PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
		{Name: "bob", Tags: map[string]string{"Email": "bob@example.com"}, Keys: []testenv.SeedKey{{AgeDays: 5, LastUsedDaysAgo: 1}},
			PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
	})
	if _, err := sesv2.NewFromConfig(m.Config(t)).CreateEmailIdentity(context.Background(),
		&sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("example.com")}); err != nil {
		t.Fatal(err)
	}
}

// TestInvokeScheduledEvent: a scheduled event runs the whole pipeline
// against moto with the config from each source; the owner's mail is read
// back from SES; a second invocation in the same container reuses the
// config and sends nothing new.
func TestInvokeScheduledEvent(t *testing.T) {
	for _, source := range []string{"inline", "ssm", "s3"} {
		t.Run(source, func(t *testing.T) {
			m := testenv.Moto(t)
			seed(t, m)
			ctx := context.Background()
			yaml := lambdaConfig
			store := stateTable(t, m)
			env := map[string]string{}
			switch source {
			case "inline":
				env[EnvConfig] = yaml
			case "ssm":
				if _, err := ssm.NewFromConfig(m.Config(t)).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keywarden/config"),
					Value: aws.String(yaml), Type: ssmtypes.ParameterTypeString}); err != nil {
					t.Fatal(err)
				}
				env[EnvConfigSSM] = "/keywarden/config"
			case "s3":
				c := s3.NewFromConfig(m.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
				if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kw-config")}); err != nil {
					t.Fatal(err)
				}
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("kw-config"), Key: aws.String("keywarden.yaml"),
					Body: strings.NewReader(yaml)}); err != nil {
					t.Fatal(err)
				}
				env[EnvConfigS3] = "s3://kw-config/keywarden.yaml"
			}
			var logs bytes.Buffer
			h := New(Deps{Getenv: envOf(env), Now: time.Now, Logs: &logs, LoadAWSConfig: func(context.Context) (aws.Config, error) {
				return m.Config(t), nil
			}})
			ev := json.RawMessage(`{"version":"0","detail-type":"Scheduled Event","source":"aws.scheduler","detail":{}}`)
			ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			s, err := h.Invoke(ctx, ev)
			if err != nil {
				t.Fatalf("Invoke: %v\nlogs:\n%s", err, logs.String())
			}
			if s.Schema != SummarySchema || s.Mode != "notify" || s.Findings != 1 || s.Sent != 2 || len(s.NotReached) != 0 {
				t.Errorf("summary = %+v; want notify, 1 finding, 2 sent (alice, the digest), nothing cut short", s)
			}
			// The DynamoDB state holds what was told, and the run.
			notices, err := store.Notices(ctx, nil)
			if err != nil || len(notices) != 2 {
				t.Errorf("DynamoDB notices = %+v, %v; want alice's and the digest's", notices, err)
			}
			if runs, err := store.Runs(ctx, 0); err != nil || len(runs) != 1 || runs[0].ID != s.RunID || runs[0].Sent != 2 {
				t.Errorf("DynamoDB runs = %+v, %v; want this run, 2 sent", runs, err)
			}
			sent := testenv.SESSent(t, m.Data(t))
			if len(sent) != 2 || !strings.Contains(sent[0].Raw+sent[1].Raw, "alice@example.com") {
				t.Errorf("SES sent %d messages; want alice's and the digest", len(sent))
			}
			// Logs are JSON lines.
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("log line is not JSON: %s", line)
				}
			}
			if !strings.Contains(logs.String(), `"source":"`+source+`"`) {
				t.Errorf("logs do not say where the config came from:\n%s", logs.String())
			}
			s, err = h.Invoke(ctx, ev)
			if err != nil || s.Sent != 0 {
				t.Errorf("second invocation: %+v, %v; want nothing new sent", s, err)
			}
			if strings.Count(logs.String(), "config loaded") != 1 {
				t.Errorf("the config was loaded %d times; want once per container", strings.Count(logs.String(), "config loaded"))
			}
		})
	}
}

// TestConfigLoadedOnceByConcurrentCallers: invocations that start
// together load the config once between them.
func TestConfigLoadedOnceByConcurrentCallers(t *testing.T) {
	var logs syncBuffer
	slowEnv := func(k string) string {
		time.Sleep(5 * time.Millisecond) // widen the window a second load would need
		return map[string]string{EnvConfig: "version: 1\n"}[k]
	}
	h := New(Deps{Getenv: slowEnv, Now: time.Now, Logs: &logs})
	var wg sync.WaitGroup
	cfgs := make([]*config.Config, 8)
	for i := range cfgs {
		wg.Go(func() {
			c, err := h.config(context.Background())
			if err != nil {
				t.Error(err)
			}
			cfgs[i] = c
		})
	}
	wg.Wait()
	for _, c := range cfgs {
		if c == nil || c != cfgs[0] {
			t.Fatalf("configs = %v; want one, shared", cfgs)
		}
	}
	if n := strings.Count(logs.String(), "config loaded"); n != 1 {
		t.Errorf("the config was loaded %d times; want once", n)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestConfigLoadFailureIsNotKept: SSM throttles the first invocation's
// GetParameter past the SDK's retries: that invocation fails, the next
// loads the config and runs, and the one after reuses it.
func TestConfigLoadFailureIsNotKept(t *testing.T) {
	m := testenv.Moto(t)
	seed(t, m)
	stateTable(t, m)
	ctx := context.Background()
	if _, err := ssm.NewFromConfig(m.Config(t)).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keywarden/config"),
		Value: aws.String(lambdaConfig), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	p := m.NewProxy(t)
	cfg := p.Config(t, m)
	p.Inject(testenv.Fault{Match: testenv.IsOp("ssm:GetParameter"), Times: cfg.RetryMaxAttempts, Code: "ThrottlingException", Message: "Rate exceeded"})
	var logs bytes.Buffer
	h := New(Deps{Getenv: envOf(map[string]string{EnvConfigSSM: "/keywarden/config"}), Now: time.Now, Logs: &logs,
		LoadAWSConfig: func(context.Context) (aws.Config, error) { return cfg, nil }})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ev := json.RawMessage(`{"dry_run": true}`)
	if _, err := h.Invoke(ctx, ev); err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("first invocation error = %v; want the throttled GetParameter", err)
	}
	for i := 2; i <= 3; i++ {
		if s, err := h.Invoke(ctx, ev); err != nil || s.Mode != "dry_run" || s.Findings != 1 {
			t.Fatalf("invocation %d = %+v, %v; want a dry run with alice's finding\n%s", i, s, err, logs.String())
		}
	}
	if n := p.Count("ssm:GetParameter"); n != cfg.RetryMaxAttempts+1 {
		t.Errorf("GetParameter requests = %d; want %d throttled, then 1 (the config is kept once loaded)", n, cfg.RetryMaxAttempts)
	}
	if n := strings.Count(logs.String(), "config loaded"); n != 1 {
		t.Errorf("the config was loaded %d times; want once", n)
	}
}

// TestInvokeStopsBeforeTheDeadline: every IAM round trip takes 2s (a delay
// the proxy injects) and the function has 5s: the scan stops a fifth of
// that before the deadline, the run reports the account it could not
// finish as not reached, records the run, and still answers in time.
func TestInvokeStopsBeforeTheDeadline(t *testing.T) {
	m := testenv.Moto(t)
	seed(t, m)
	stateTable(t, m)
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{Match: func(op testenv.Op) bool { return op.Service == "iam" }, Delay: 2 * time.Second})
	var logs bytes.Buffer
	h := New(Deps{Getenv: envOf(map[string]string{EnvConfig: lambdaConfig}), Now: time.Now, Logs: &logs,
		LoadAWSConfig: func(context.Context) (aws.Config, error) { return p.Config(t, m), nil }})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.Invoke(ctx, json.RawMessage(`{"dry_run": true}`))
	if err != nil {
		t.Fatalf("Invoke error = %v; want an answer listing what was not reached\n%s", err, logs.String())
	}
	if ctx.Err() != nil {
		t.Errorf("the function answered after its deadline")
	}
	if len(s.NotReached) != 1 || !strings.HasPrefix(s.NotReached[0], "account ") || !strings.Contains(s.NotReached[0], "deadline") {
		t.Errorf("summary = %+v; want the account listed as not reached because of the deadline", s)
	}
}

// TestConfigFromS3TooBig: a config object over config.MaxFileSize is
// refused with an error naming it. The handler used to read the first
// MiB and run with whatever that held.
func TestConfigFromS3TooBig(t *testing.T) {
	m := testenv.Moto(t)
	stateTable(t, m)
	ctx := context.Background()
	// A valid config up to the first MiB; past it, the key that would
	// have mattered.
	body := []byte(lambdaConfig)
	for len(body) < config.MaxFileSize {
		body = append(body, "# padding\n"...)
	}
	body = append(body[:config.MaxFileSize], "\nenforce: {mode: apply}\n"...)
	c := s3.NewFromConfig(m.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kw-config")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("kw-config"), Key: aws.String("big.yaml"),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := New(Deps{Getenv: envOf(map[string]string{EnvConfigS3: "s3://kw-config/big.yaml"}), Now: time.Now, Logs: &logs,
		LoadAWSConfig: func(context.Context) (aws.Config, error) { return m.Config(t), nil }})
	s, err := h.Invoke(ctx, json.RawMessage(`{"dry_run": true}`))
	want := "s3://kw-config/big.yaml: the config is larger than 1 MiB (1048576 bytes), the most keywarden reads"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Invoke with a %d-byte config = %+v, %v; want an error containing %q", len(body), s, err, want)
	}
}

// TestEventNeverMovesTheClockOfARunThatRecords: an event with as_of is
// refused, before anything is read or done (no AWS configuration is even
// loaded), unless it is a dry run: a run that acts (apply, or
// enforce.mode: apply) would act early or late, and a notify run would
// record reminders as sent on a day of the caller's choosing, silencing
// owners until then; whatever as_of says, even the present.
func TestEventNeverMovesTheClockOfARunThatRecords(t *testing.T) {
	applyMode := "version: 1\nenforce: { mode: apply, allowed_accounts: [\"123456789012\"] }\n"
	for _, tt := range []struct{ name, config, event string }{
		{"apply", "version: 1\n", `{"apply": true, "as_of": "2027-01-26"}`},
		{"apply, as_of now", "version: 1\n", `{"apply": true, "as_of": "` + time.Now().UTC().Format(time.RFC3339) + `"}`},
		{"enforce.mode apply", applyMode, `{"as_of": "2027-01-26T00:00:00Z"}`},
		{"enforce.mode apply, in an EventBridge event", applyMode, `{"detail-type":"keywarden","detail":{"as_of":"2020-01-01"}}`},
		{"notify, far ahead", "version: 1\n", `{"as_of": "2099-01-01"}`},
		{"notify, in the past", "version: 1\n", `{"as_of": "2020-01-01T00:00:00Z"}`},
		// Refused before the config is read: its SSM parameter is not.
		{"config in SSM", "", `{"apply": true, "as_of": "2027-01-26"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			env := map[string]string{EnvConfig: tt.config}
			if tt.config == "" {
				env = map[string]string{EnvConfigSSM: "/keywarden/config"}
			}
			h := New(Deps{Getenv: envOf(env), Now: time.Now, Logs: &logs,
				LoadAWSConfig: func(context.Context) (aws.Config, error) { t.Fatal("nothing may be done"); return aws.Config{}, nil }})
			s, err := h.Invoke(context.Background(), json.RawMessage(tt.event))
			if !errors.Is(err, ErrAsOf) || s != nil {
				t.Errorf("Invoke(%s) = %+v, %v; want %v", tt.event, s, err, ErrAsOf)
			}
		})
	}
	want := `event: as_of is taken only with "dry_run": true: a run that sends, acts or records runs on the function's clock; ` +
		`nothing was done. Leave as_of out, or add "dry_run": true to see what keywarden would do at that time`
	if ErrAsOf.Error() != want {
		t.Errorf("ErrAsOf = %q; want %q", ErrAsOf, want)
	}
}

// TestEventAsOfInADryRun: as_of moves the clock of a dry run — of a
// notify config, or of an enforce.mode: apply config (which says that a
// real run would refuse it).
func TestEventAsOfInADryRun(t *testing.T) {
	m := testenv.Moto(t)
	seed(t, m)
	stateTable(t, m)
	later := time.Now().UTC().AddDate(0, 0, 6).Truncate(time.Second)
	for _, tt := range []struct{ name, config, event, mode, note string }{
		{"dry run of a notify config", lambdaConfig, `{"dry_run": true, "as_of": "` + later.Format(time.RFC3339) + `"}`, "dry_run", ""},
		{"dry run of enforce.mode apply", lambdaConfig + "enforce: { mode: apply, allowed_accounts: [\"123456789012\"] }\n",
			`{"dry_run": true, "as_of": "` + later.Format(time.RFC3339) + `"}`, "dry_run",
			"a run that acts refuses it without --force-as-of; this dry run acts at it, as a forced run would"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := New(Deps{Getenv: envOf(map[string]string{EnvConfig: tt.config}), Now: time.Now, Logs: &logs,
				LoadAWSConfig: func(context.Context) (aws.Config, error) { return m.Config(t), nil }})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			s, err := h.Invoke(ctx, json.RawMessage(tt.event))
			if err != nil {
				t.Fatalf("Invoke(%s): %v\n%s", tt.event, err, logs.String())
			}
			if s.Mode != tt.mode || !s.AsOf.Equal(later) || tt.note != "" && !strings.Contains(strings.Join(s.Notes, "\n"), tt.note) {
				t.Errorf("summary = %+v; want mode %s as of %s, the note %q", s, tt.mode, later, tt.note)
			}
		})
	}
}

// TestInvokeApplyPreview: the event {"apply": true, "dry_run": true} is the
// apply preview: it re-checks and decides as apply would, and writes
// nothing (no IAM write, no DynamoDB write, no mail: the proxy's request
// log). The event {"apply": true} is refused, nothing done, while the
// config's enforce.mode is not apply (an invoker may not turn enforcement
// on); with it, the apply does what the preview said.
func TestInvokeApplyPreview(t *testing.T) {
	m := testenv.Moto(t)
	seed(t, m)
	stateTable(t, m)
	p := m.NewProxy(t)
	cfg := lambdaConfig + "enforce: { allowed_accounts: [\"123456789012\"], max_fraction: 1 }\n"
	var logs bytes.Buffer
	h := New(Deps{Getenv: envOf(map[string]string{EnvConfig: cfg}), Now: time.Now, Logs: &logs,
		LoadAWSConfig: func(context.Context) (aws.Config, error) { return p.Config(t, m), nil }})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The preview of a config that does not act (enforce.mode: dry_run).
	s, err := h.Invoke(ctx, json.RawMessage(`{"apply": true, "dry_run": true}`))
	if err != nil {
		t.Fatalf("preview: %v\n%s", err, logs.String())
	}
	if s.Mode != "dry_run" || s.ActionsDone != 1 || s.Sent != 0 || !slices.Contains(s.Notes, run.NotePreview) {
		t.Errorf("preview summary = %+v; want dry_run, 1 action it would take, nothing sent, the preview note", s)
	}
	reads := []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails",
		"iam:GetAccountPasswordPolicy", "iam:ListAccountAliases", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed",
		"iam:GetAccountSummary", "iam:ListServiceSpecificCredentials", "iam:ListSigningCertificates", "iam:ListSSHPublicKeys",
		"sts:GetCallerIdentity", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query"}
	for _, op := range p.Ops() {
		if !slices.Contains(reads, op.Name()) {
			t.Errorf("the preview made %s; want reads only", op.Name())
		}
	}
	if p.Count("iam:GetAccessKeyLastUsed") != 1 {
		t.Errorf("the preview re-checked %d keys; want alice's", p.Count("iam:GetAccessKeyLastUsed"))
	}

	// The config must say apply for the event's apply to be taken.
	p.Reset()
	if s, err = h.Invoke(ctx, json.RawMessage(`{"apply": true}`)); !errors.Is(err, ErrApply) || s != nil || len(p.Ops()) != 0 {
		t.Errorf("apply of a config whose enforce.mode is dry_run = %+v, %v, %d requests; want %v and nothing done", s, err, len(p.Ops()), ErrApply)
	}
	h = New(Deps{Getenv: envOf(map[string]string{EnvConfig: strings.Replace(cfg, "enforce: {", "enforce: { mode: apply,", 1)}), Now: time.Now,
		Logs: &logs, LoadAWSConfig: func(context.Context) (aws.Config, error) { return p.Config(t, m), nil }})
	s, err = h.Invoke(ctx, json.RawMessage(`{"apply": true}`))
	if err != nil || s.Mode != "apply" || s.ActionsDone != 1 || p.Count("iam:UpdateAccessKey") != 1 {
		t.Errorf("apply = %+v, %v, %d UpdateAccessKey; want the one action the preview listed, done", s, err, p.Count("iam:UpdateAccessKey"))
	}
}
