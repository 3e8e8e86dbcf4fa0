package awsapi_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestCounterCountsOperationsNotAttempts: an operation throttled twice
// and retried by the SDK is one call; every service and operation is
// counted apart (against moto, throttling injected by the proxy).
func TestCounterCountsOperationsNotAttempts(t *testing.T) {
	m := testenv.Moto(t)
	p := m.NewProxy(t)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:ListUsers"), Times: 2, Code: "Throttling", Message: "Rate exceeded"})
	c := awsapi.NewCounter()
	cfg := c.Instrument(p.Config(t, m))
	ctx := context.Background()
	client := iam.NewFromConfig(cfg)
	if _, err := client.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"IAM.ListUsers": 1, "IAM.ListAccountAliases": 1, "STS.GetCallerIdentity": 1}
	if diff := cmp.Diff(want, c.ByOperation()); diff != "" {
		t.Errorf("ByOperation() (-want +got):\n%s", diff)
	}
	if c.Total() != 3 {
		t.Errorf("Total() = %d; want 3", c.Total())
	}
	if n := p.Count("iam:ListUsers"); n != 3 {
		t.Errorf("the proxy saw %d ListUsers attempts; want 3 (two throttled), so the counter did see retries happen", n)
	}
	if got := c.Operations(); !cmp.Equal(got, []string{"IAM.ListAccountAliases", "IAM.ListUsers", "STS.GetCallerIdentity"}) {
		t.Errorf("Operations() = %v", got)
	}
}

// TestInstrumentCopies: instrumenting leaves the original configuration
// uncounted.
func TestInstrumentCopies(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	before := len(cfg.APIOptions)
	_ = awsapi.NewCounter().Instrument(cfg)
	if len(cfg.APIOptions) != before {
		t.Errorf("Instrument changed the original config's APIOptions (%d → %d)", before, len(cfg.APIOptions))
	}
}

func TestLoadConfigRegionFallback(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")
	cfg, err := awsapi.LoadConfig(context.Background(), awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != awsapi.DefaultRegion || cfg.RetryMode != aws.RetryModeStandard || cfg.RetryMaxAttempts != awsapi.DefaultMaxAttempts {
		t.Errorf("LoadConfig() region %q, retry %s/%d; want %s, standard, %d", cfg.Region, cfg.RetryMode, cfg.RetryMaxAttempts,
			awsapi.DefaultRegion, awsapi.DefaultMaxAttempts)
	}
	cfg, err = awsapi.LoadConfig(context.Background(), awsapi.Options{Region: "eu-west-1", MaxAttempts: 3})
	if err != nil || cfg.Region != "eu-west-1" || cfg.RetryMaxAttempts != 3 {
		t.Errorf("LoadConfig(eu-west-1, 3 attempts) = %q, %d, %v", cfg.Region, cfg.RetryMaxAttempts, err)
	}
}
