package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/pflag"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/run"
)

// Source is what scan, run and forecast read: the config, the moment to
// evaluate at, and the accounts (or a downloaded credential report), with
// the AWS settings to reach them.
type Source struct {
	ConfigFile       string
	AsOf             string
	CredentialReport string
	Accounts         []string
	Region           string
	Profile          string
}

// sourceHelp words a command's source flags: what --as-of does, what
// --credential-report reads, what --account limits.
type sourceHelp struct{ asOf, report, account string }

func (s *Source) addFlags(fl *pflag.FlagSet, h sourceHelp) {
	fl.StringVar(&s.ConfigFile, "config", "", "config file (default: ./keywarden.yaml if present, else built-in defaults)")
	fl.StringVar(&s.AsOf, "as-of", "", h.asOf+" (RFC 3339, or YYYY-MM-DD for midnight UTC)")
	fl.StringVar(&s.CredentialReport, "credential-report", "", h.report+" downloaded credential report (CSV) offline, without AWS calls")
	fl.StringSliceVar(&s.Accounts, "account", nil, h.account+" account ID (repeatable)")
	fl.StringVar(&s.Region, "region", "", "AWS region for API calls (default: the SDK's, else "+awsapi.DefaultRegion+")")
	fl.StringVar(&s.Profile, "profile", "", "AWS shared config profile (default: the SDK's, AWS_PROFILE)")
}

// resolved is a Source read and checked.
type resolved struct {
	cfg       *config.Config
	now, asOf time.Time
}

// resolve loads the config and checks the flags; a bad flag or config is a
// usage error.
func (s *Source) resolve(f *Factory) (*resolved, error) {
	cfg, err := loadConfig(f, s.ConfigFile)
	if err != nil {
		return nil, err
	}
	now := f.Now().UTC()
	asOf, err := parseTimeFlag("--as-of", s.AsOf, now)
	if err != nil {
		return nil, usageError(err)
	}
	for _, id := range s.Accounts {
		if !config.IsAccountID(id) {
			return nil, usageError(fmt.Errorf("--account %q: an AWS account ID is 12 digits", id))
		}
	}
	return &resolved{cfg: cfg, now: now, asOf: asOf}, nil
}

// scanOptions are the run.ScanOptions of the source.
func (s *Source) scanOptions(f *Factory, r *resolved) run.ScanOptions {
	return run.ScanOptions{
		Config:           r.cfg,
		AsOf:             r.asOf,
		Now:              r.now,
		CredentialReport: s.CredentialReport,
		Accounts:         s.Accounts,
		LoadAWSConfig: func(ctx context.Context) (aws.Config, error) {
			return f.loadAWSConfig(ctx, awsapi.Options{Region: s.Region, Profile: s.Profile})
		},
		Logger: f.Logger(),
	}
}

// parseFailOn reads --fail-on: 0 when empty, else the severity's rank.
func parseFailOn(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if rank := policy.SeverityRank(strings.ToLower(s)); rank > 0 {
		return rank, nil
	}
	return 0, usageError(fmt.Errorf("--fail-on %q: want info, low, medium, high or critical", s))
}
