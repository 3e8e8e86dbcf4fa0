package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadBoundsSize: a config file is read up to MaxFileSize; a bigger
// one, or an endless one such as /dev/zero (which os.ReadFile read until
// memory ran out), is refused with an error naming it.
func TestLoadBoundsSize(t *testing.T) {
	dir := t.TempDir()
	// A valid config padded with comments to exactly n bytes.
	padded := func(n int) []byte {
		b := []byte("version: 1\n")
		line := "#" + strings.Repeat("x", 62) + "\n"
		for len(b)+len(line) <= n {
			b = append(b, line...)
		}
		b = append(b, strings.Repeat("#", n-len(b)-1)+"\n"...)
		return b
	}
	exact := filepath.Join(dir, "exact.yaml")
	if err := os.WriteFile(exact, padded(MaxFileSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(exact); err != nil {
		t.Errorf("Load(a valid file of exactly %d bytes) error: %v", MaxFileSize, err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, padded(MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	want := func(name string) string {
		return name + ": the config is larger than 1 MiB (1048576 bytes), the most keywarden reads; a keywarden config is a few KiB"
	}
	for _, name := range []string{big, "/dev/zero"} {
		_, err := Load(name)
		var ce *ConfigError
		if !errors.As(err, &ce) || err.Error() != want(name) {
			t.Errorf("Load(%s) error = %v; want the *ConfigError %q", name, err, want(name))
		}
	}
	// Parse, which the Lambda's SSM, S3 and inline sources use, bounds
	// the size too.
	if _, err := Parse("ssm:/keywarden/config", padded(MaxFileSize+1)); err == nil || err.Error() != want("ssm:/keywarden/config") {
		t.Errorf("Parse(1 MiB + 1 byte) error = %v; want %q", err, want("ssm:/keywarden/config"))
	}
}

// yamlBomb is a "billion laughs" config of 569 bytes: merge keys
// (<<) nine deep, each merging the level below nine times, so notify's
// mapping holds 9^10 keys once expanded. Decoding it used to exhaust
// memory.
func yamlBomb() string {
	var b strings.Builder
	b.WriteString("version: 1\nx0: &a0 {k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, k8: 8}\n")
	for i := 1; i <= 9; i++ {
		ref := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&b, "x%d: &a%d {<<: [%s]}\n", i, i, strings.Repeat(ref+",", 8)+ref)
	}
	b.WriteString("notify: {<<: *a9}\n")
	return b.String()
}

// TestParseRefusesYAMLBomb: aliases and merge keys may add at most
// maxAliasNodes nodes to what the file itself holds; the bomb fails at
// once, naming the file and the line where the expansion passes the bound.
func TestParseRefusesYAMLBomb(t *testing.T) {
	bomb := yamlBomb()
	if len(bomb) > 800 {
		t.Fatalf("the bomb is %d bytes; want a small one", len(bomb))
	}
	_, err := Parse("bomb.yaml", []byte(bomb))
	// Line 6 is x4: a4 expands to about 9^4 × 19 nodes, the first past
	// the bound.
	want := `bomb.yaml:6: YAML aliases and merge keys (<<) here expand to more than 100000 nodes beyond the file's own (a "billion laughs" file?); write the repeated parts out instead`
	var ce *ConfigError
	if !errors.As(err, &ce) || err.Error() != want {
		t.Fatalf("Parse(bomb) error = %v; want %q", err, want)
	}
	// Aliases that stay within the bound still work: an anchor used 1,000
	// times adds 1,000 × its own nodes.
	var b bytes.Buffer
	b.WriteString("version: 1\nexemptions:\n  - &e {users: [a, b, c], reason: r}\n")
	for range 999 {
		b.WriteString("  - *e\n")
	}
	cfg, err := Parse("many.yaml", b.Bytes())
	if err != nil || len(cfg.Exemptions) != 1000 {
		t.Errorf("Parse(1,000 aliases of a small mapping) = %d exemptions, %v; want 1000, no error", len(cfg.Exemptions), err)
	}
}

// TestDayCountsBounded: every day count is at most MaxDays (100 years).
// From 106,752 days a count overflows time.Duration as days × 24h.
func TestDayCountsBounded(t *testing.T) {
	for _, tt := range []struct{ yaml, path string }{
		{"rules: {access_key_age: {human: [{at: %d, action: notify}]}}", "rules.access_key_age.human[0].at"},
		{"rules: {access_key_unused: {after: %d}}", "rules.access_key_unused.after"},
		{"rules: {password_expiry: {warn_before: 1, max_age: %d}}", "rules.password_expiry.max_age"},
		{"rules: {password_expiry: {warn_before: %d, max_age: 0}}", "rules.password_expiry.warn_before"},
		{"rules: {password_unused: {after: %d}}", "rules.password_unused.after"},
		{"rules: {signing_certificate_age: {human: [{at: %d, action: notify}]}}", "rules.signing_certificate_age.human[0].at"},
		{"rules: {service_credential_age: {human: [{at: %d, action: notify}]}}", "rules.service_credential_age.human[0].at"},
		{"rules: {service_credential_expiry: {warn_before: %d}}", "rules.service_credential_expiry.warn_before"},
		{"rules: {ssh_key_age: {users: {groups: [git]}, max_age: %d}}", "rules.ssh_key_age.max_age"},
		{"rules: {root_recent_use: {within: %d}}", "rules.root_recent_use.within"},
		{"rules: {dormant_user: {after: %d}}", "rules.dormant_user.after"},
		{"notify: {users: {remind_every: %d}}", "notify.users.remind_every"},
		{"enforce: {grace_after_disable: %d}", "enforce.grace_after_disable"},
	} {
		if _, err := Parse("k.yaml", []byte("version: 1\n"+fmt.Sprintf(tt.yaml, MaxDays)+"\n")); err != nil {
			t.Errorf("%s = %d: %v; want no error", tt.path, MaxDays, err)
		}
		_, err := Parse("k.yaml", []byte("version: 1\n"+fmt.Sprintf(tt.yaml, 106752)+"\n"))
		want := "(got 106752)"
		if err == nil || !strings.Contains(err.Error(), "k.yaml:2: "+tt.path+": must be between ") || !strings.Contains(err.Error(), " and 36500 "+want) {
			t.Errorf("%s = 106752: error %v; want k.yaml:2: %s: must be between … and 36500 %s", tt.path, err, tt.path, want)
		}
	}
}
