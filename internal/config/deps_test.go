package config_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestConfigDependencies: config never imports the AWS SDK, even
// transitively, nor any other keywarden package but state, whose state
// URL syntax it checks (state imports nothing of keywarden's): policy and
// everything else build on config, not the other way round.
func TestConfigDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "go.yaml.in/yaml/v3\n") {
		t.Fatalf("go list -deps = %v; want config's dependencies, the YAML parser among them:\n%s", err, out)
	}
	for d := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(d, "github.com/aws/") {
			t.Errorf("internal/config depends on %s; want no AWS SDK", d)
		}
		if strings.HasPrefix(d, "github.com/keywarden/keywarden/") && d != "github.com/keywarden/keywarden/internal/config" &&
			d != "github.com/keywarden/keywarden/internal/state" {
			t.Errorf("internal/config depends on %s; want no other keywarden package", d)
		}
	}
}
