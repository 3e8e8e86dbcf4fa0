package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// TestTerraformFormatted runs `terraform fmt -check -recursive` on the
// module and the example root module.
func TestTerraformFormatted(t *testing.T) {
	tf, env := terraform(t)
	for _, dir := range []string{"terraform", filepath.Join("..", "examples", "terraform")} {
		run(t, dir, env, tf, "fmt", "-check", "-recursive", "-diff", "-no-color")
	}
}

// TestTerraformREADMEDocumentsEverything: every variable and output of the
// module and its policy submodule is named in deploy/terraform/README.md.
func TestTerraformREADMEDocumentsEverything(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("terraform", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^(variable|output) "([^"]+)"`)
	for _, dir := range []string{"terraform", filepath.Join("terraform", "modules", "policy")} {
		files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
				n++
				if !strings.Contains(string(readme), "`"+m[2]+"`") {
					t.Errorf("%s %q (%s) is not documented in deploy/terraform/README.md", m[1], m[2], f)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no variables or outputs found", dir)
		}
	}
}

// TestTerraformExampleConfigIsValid renders the example's config template
// with Terraform's templatefile, as the example does, and checks the result
// with `keywarden config check`.
func TestTerraformExampleConfigIsValid(t *testing.T) {
	tf, env := terraform(t)
	tpl, err := filepath.Abs(filepath.Join("..", "examples", "terraform", "keywarden.yaml.tftpl"))
	if err != nil {
		t.Fatal(err)
	}
	// Rendered as the example renders it (no allowed account) and once an
	// account is allowed: the example's module call (remediation disable
	// and delete, allowed_accounts and stop_parameter from the same locals)
	// grants what the config's policy has, and writes — and reads the
	// emergency stop — only once an account is allowed.
	for _, allowed := range []string{`[]`, `["111111111111"]`} {
		root := t.TempDir()
		mainTF := `output "config" {
  value = templatefile(` + strconv.Quote(tpl) + `, {
    sender           = "security@example.com"
    domain           = "example.com"
    admin            = "admins@example.com"
    digest_topic_arn = "arn:aws:sns:eu-west-1:111111111111:keywarden-digest"
    state_url        = "dynamodb://keywarden-state"
    allowed_accounts = ` + allowed + `
    stop_parameter   = "/keywarden/stop"
  })
}
`
		if err := os.WriteFile(filepath.Join(root, "main.tf"), []byte(mainTF), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, root, env, tf, "init", "-input=false", "-no-color")
		run(t, root, env, tf, "apply", "-auto-approve", "-input=false", "-no-color")
		config := filepath.Join(root, "keywarden.yaml")
		if err := os.WriteFile(config, []byte(run(t, root, env, tf, "output", "-raw", "config")), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "", nil, binary, "config", "check", config)
		doc := iamPolicy(t, string(mustRead(t, config)), "--config-ssm", "/keywarden/config")
		for _, action := range []string{"ses:SendRawEmail", "sns:Publish", "dynamodb:PutItem"} {
			if ok, _ := doc.Covers(action); !ok {
				t.Errorf("allowed_accounts %s: the example config's policy does not grant %s; the example's module inputs assume it does", allowed, action)
			}
		}
		for _, action := range []string{"iam:UpdateAccessKey", "iam:DeleteAccessKey"} {
			if ok, _ := doc.Covers(action); ok != (allowed != `[]`) {
				t.Errorf("allowed_accounts %s: the example config's policy grants %s: %v; want it only once an account is allowed", allowed, action, ok)
			}
		}
		stop := slices.ContainsFunc(doc.Statement, func(s iampolicy.Statement) bool {
			return s.Sid == "ReadStopParameter" && slices.Equal(s.Resource, []string{"arn:aws:ssm:*:*:parameter/keywarden/stop"})
		})
		if stop != (allowed != `[]`) {
			t.Errorf("allowed_accounts %s: the example config's policy reads the stop parameter /keywarden/stop: %v; want it only once an account is allowed", allowed, stop)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
