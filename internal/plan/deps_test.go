package plan_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPlanIsPure: plan never imports the AWS SDK, nor anything that does
// I/O on its behalf (channels, state backends).
func TestPlanIsPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/aws/") || strings.HasPrefix(d, "modernc.org/") ||
			strings.HasPrefix(d, "github.com/keywarden/keywarden/internal/notify") ||
			strings.HasPrefix(d, "github.com/keywarden/keywarden/internal/state/") {
			t.Errorf("internal/plan depends on %s; want it pure (docs/architecture.md: plan has no AWS SDK, no state store, no channel)", d)
		}
	}
}
