package awsapi_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/testenv"
)

// sharedConfig points the SDK at a shared config file with text, and at
// moto, with no credentials in the environment.
func sharedConfig(t *testing.T, m *testenv.MotoServer, text string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", path)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
}

const chainProfiles = `[profile base]
aws_access_key_id = AKIABASEUSERKEY00001
aws_secret_access_key = secret

[profile keywarden]
role_arn = arn:aws:iam::123456789012:role/keywarden
source_profile = base

[profile from-env]
role_arn = arn:aws:iam::123456789012:role/from-env
credential_source = Environment

[profile chained]
role_arn = arn:aws:iam::123456789012:role/second
source_profile = keywarden

[profile static]
aws_access_key_id = AKIASTATICONLY000001
aws_secret_access_key = secret
`

// TestCredentialChainSourceKeys: the source credentials of every role the
// shared config assumes are recorded, however the profile names them: a
// source_profile's static key, the environment's (credential_source), the
// session of the first role in a chain of two; a profile that assumes no
// role has none (its key is the one that signs, retrieved as such).
func TestCredentialChainSourceKeys(t *testing.T) {
	m := testenv.Moto(t)
	ctx := context.Background()
	tests := []struct {
		profile string
		env     string // AWS_ACCESS_KEY_ID
		want    map[string]string
	}{
		{"keywarden", "", map[string]string{"AKIABASEUSERKEY00001": "arn:aws:iam::123456789012:role/keywarden"}},
		{"from-env", "AKIAFROMENVIRONMENT1", map[string]string{"AKIAFROMENVIRONMENT1": "arn:aws:iam::123456789012:role/from-env"}},
		{"static", "", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			sharedConfig(t, m, chainProfiles)
			if tt.env != "" {
				t.Setenv("AWS_ACCESS_KEY_ID", tt.env)
				t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
			}
			cfg, err := awsapi.LoadConfig(ctx, awsapi.Options{Profile: tt.profile})
			if err != nil {
				t.Fatal(err)
			}
			got, err := awsapi.ChainOf(cfg).SourceKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SourceKeys of profile %s (-want +got):\n%s", tt.profile, diff)
			}
		})
	}

	t.Run("chained", func(t *testing.T) {
		sharedConfig(t, m, chainProfiles)
		cfg, err := awsapi.LoadConfig(ctx, awsapi.Options{Profile: "chained"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := awsapi.ChainOf(cfg).SourceKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got["AKIABASEUSERKEY00001"] != "arn:aws:iam::123456789012:role/keywarden" || len(got) != 2 {
			t.Errorf("SourceKeys of a chain of two roles = %v; want the base user's key (and the first role's session key)", got)
		}
	})
}

// TestChainOfOtherConfig: a configuration LoadConfig did not load has no
// chain, and a nil chain has no keys.
func TestChainOfOtherConfig(t *testing.T) {
	c := awsapi.ChainOf(aws.Config{})
	if c != nil {
		t.Fatalf("ChainOf(aws.Config{}) = %v; want nil", c)
	}
	if keys, err := c.SourceKeys(context.Background()); err != nil || len(keys) != 0 {
		t.Errorf("nil chain's SourceKeys = %v, %v; want none", keys, err)
	}
}
