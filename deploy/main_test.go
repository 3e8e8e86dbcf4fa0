// Package deploy_test checks the deployment templates in this directory
// against `keywarden iam-policy`, the truth they follow: the Terraform policy
// module is applied offline and the CloudFormation templates are created as
// stacks on moto, and the policies they grant are compared with the
// binary's, statement by statement. It also runs cfn-lint and
// `terraform fmt -check` on them.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/testenv"
)

// binary is the keywarden binary built once for these tests.
var binary string

func TestMain(m *testing.M) { os.Exit(testenv.MainWithBinary(m, "../cmd/keywarden", &binary)) }

// tool finds an external command the test needs. Missing, it fails the
// test when CI is set and skips it otherwise, saying how to get it.
func tool(t *testing.T, name, hint string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed: %s (scripts/test-deps.sh checks it)", name, hint)
	}
	t.Skipf("%s is not installed, skipping: %s (set CI=1 to make this a failure)", name, hint)
	return ""
}

// iamPolicy runs `keywarden iam-policy --config FILE ARGS…` on the YAML
// config and returns the document it prints.
func iamPolicy(t *testing.T, yaml string, args ...string) iampolicy.Document {
	t.Helper()
	file := filepath.Join(t.TempDir(), "keywarden.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, "", nil, binary, append([]string{"iam-policy", "--config", file}, args...)...)
	var d iampolicy.Document
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("keywarden iam-policy printed no policy document: %v\n%s", err, out)
	}
	return d
}

// credentialRemediation is what yaml's signing_certificate_age and
// service_credential_age stages do — "none", "disable" or "delete" (which
// disables first) — the built-in stages included: what the templates'
// inputs for them must say.
func credentialRemediation(t *testing.T, yaml string) (certs, services string) {
	t.Helper()
	cfg, err := config.Parse("keywarden.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	// A class without stages of its own for these takes its access keys'.
	return stagesDo(cfg.StagesByClass(config.RuleSigningCertAge)), stagesDo(cfg.StagesByClass(config.RuleServiceCredentialAge))
}

func stagesDo(byClass map[string][]config.Stage) string {
	out := "none"
	for _, stages := range byClass {
		for _, s := range stages {
			switch {
			case s.Action == config.ActionDelete:
				return "delete"
			case s.Action == config.ActionDisable:
				out = "disable"
			}
		}
	}
	return out
}

// run runs a command in dir with env added to the environment and returns
// its stdout; it fails the test when the command fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
