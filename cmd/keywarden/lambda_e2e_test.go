package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/lambda"
	"github.com/keywarden/keywarden/internal/testenv"
)

// fakeRuntime is the Lambda runtime API (2018-06-01) serving one event and
// collecting the function's answer.
type fakeRuntime struct {
	srv    *httptest.Server
	answer chan string
	failed chan string
}

func newFakeRuntime(t *testing.T, event string, timeout time.Duration) *fakeRuntime {
	rt := &fakeRuntime{answer: make(chan string, 1), failed: make(chan string, 1)}
	served := false
	done := make(chan struct{})
	rt.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
			if served { // one invocation only: hold the next poll until the test ends
				select {
				case <-done:
				case <-r.Context().Done():
				}
				return
			}
			served = true
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(timeout).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:keywarden")
			io.WriteString(w, event)
		case r.Method == http.MethodPost && r.URL.Path == "/2018-06-01/runtime/invocation/req-1/response":
			b, _ := io.ReadAll(r.Body)
			rt.answer <- string(b)
			w.WriteHeader(http.StatusAccepted)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/error"):
			b, _ := io.ReadAll(r.Body)
			rt.failed <- string(b)
			w.WriteHeader(http.StatusAccepted)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { close(done); rt.srv.Close() })
	return rt
}

// lambdaRun is what one invocation of the function returned: its answer
// (the run summary) or its error report, and what it logged.
type lambdaRun struct {
	answer, failed, logs string
}

// invokeLambda starts the binary as the Lambda runtime starts it
// (AWS_LAMBDA_RUNTIME_API) with env and the config inline, serves it one
// event, and stops it once it has answered.
func invokeLambda(t *testing.T, env []string, config, event string) lambdaRun {
	t.Helper()
	return invokeLambdaWithin(t, env, config, event, 2*time.Minute)
}

// invokeLambdaWithin is invokeLambda with the function's timeout (its
// deadline, as the runtime announces it).
func invokeLambdaWithin(t *testing.T, env []string, config, event string, timeout time.Duration) lambdaRun {
	t.Helper()
	rt := newFakeRuntime(t, event, timeout)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(rt.srv.URL, "http://"), lambda.EnvConfig + "=" + config}, env...)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// stop ends the function, which would wait for a next invocation that
	// never comes, and returns what it logged: only once Wait has returned
	// has exec's goroutine copied all of it (and stopped writing to logs).
	stop := func() string {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return logs.String()
	}
	var r lambdaRun
	select {
	case r.answer = <-rt.answer:
	case r.failed = <-rt.failed:
	case <-ctx.Done():
		t.Fatalf("no answer from the function\nlogs:\n%s", stop())
	}
	r.logs = stop()
	return r
}

// TestLambdaBinaryServesTheHandler: the same binary, started by a Lambda
// runtime (AWS_LAMBDA_RUNTIME_API), takes a scheduled event, runs against
// moto and answers with the run summary.
func TestLambdaBinaryServesTheHandler(t *testing.T) {
	m := testenv.Moto(t)
	m.Seed(t, []testenv.SeedUser{keyUser("alice", 85), keyUser("bob", 3)})
	// The test is about the runtime serving the handler: alice's key is its
	// one finding, not the account's password policy.
	m.CompliantPasswordPolicy(t, m.Config(t))
	dir := t.TempDir()
	config := `version: 1
notify:
  users: { email_tags: [Email], via: outbox }
  outbox: { dir: ` + filepath.Join(dir, "outbox") + ` }
state: { url: "sqlite://` + filepath.Join(dir, "state.db") + `" }
`
	r := invokeLambda(t, m.Env(), config, `{"version":"0","detail-type":"Scheduled Event","source":"aws.scheduler","detail":{}}`)
	if r.failed != "" {
		t.Fatalf("the function failed: %s\nlogs:\n%s", r.failed, r.logs)
	}
	var s lambda.Summary
	if err := json.Unmarshal([]byte(r.answer), &s); err != nil {
		t.Fatalf("answer is not a summary: %v\n%s", err, r.answer)
	}
	if s.Schema != lambda.SummarySchema || s.Findings != 1 || s.Sent != 2 || len(s.Accounts) != 1 || s.Accounts[0].Status != "ok" {
		t.Errorf("summary = %+v; want 1 finding, 2 sent (alice, the digest), one ok account", s)
	}
	// The handler logged the summary before it returned the answer.
	if !strings.Contains(r.logs, `"msg":"keywarden run finished"`) {
		t.Errorf("the function's logs are not JSON lines with the run summary:\n%s", r.logs)
	}
	if eml, _ := filepath.Glob(filepath.Join(dir, "outbox", "*alice*.eml")); len(eml) != 1 {
		t.Errorf("outbox for alice = %v; want one message", eml)
	}
}
