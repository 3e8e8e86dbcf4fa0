package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/securityhub"
)

// awsRegion is the region of the caller's SDK configuration (--region, the
// SDK's settings, else awsapi.DefaultRegion). Loading reads no network.
func awsRegion(ctx context.Context, f *Factory, region, profile string) (aws.Config, error) {
	cfg, err := f.loadAWSConfig(ctx, awsapi.Options{Region: region, Profile: profile})
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Region == "" {
		cfg.Region = awsapi.DefaultRegion
	}
	return cfg, nil
}

// asffRegion is the region ASFF findings name: --region, else the SDK's.
// An unreadable SDK configuration falls back to the default region: the
// asff format works offline.
func asffRegion(ctx context.Context, f *Factory, o *ScanOptions) string {
	if o.Region != "" {
		return o.Region
	}
	cfg, err := awsRegion(ctx, f, o.Region, o.Profile)
	if err != nil {
		f.Logger().Debug("no AWS configuration for the ASFF region; using the default", "region", report.ASFFDefaultRegion, "error", err)
		return report.ASFFDefaultRegion
	}
	return cfg.Region
}

// callerIdentifier is the STS call postSecurityHub makes; production
// passes *sts.Client.
type callerIdentifier interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// newSecurityHubClients is Factory.SecurityHubClients in production: the
// SDK's STS and Security Hub clients.
func newSecurityHubClients(cfg aws.Config) (callerIdentifier, securityhub.API) {
	return sts.NewFromConfig(cfg), sh.NewFromConfig(cfg)
}

// postSecurityHub syncs the report's findings to Security Hub in the
// caller's account and region (see securityhub.Sync). Security Hub takes
// findings with the default product ARN only from the account they are
// about, so accounts other than the caller's are skipped with a warning,
// and so are accounts whose scan failed (their findings are unknown, and
// must not be resolved).
func postSecurityHub(ctx context.Context, f *Factory, o *ScanOptions, rep *report.Report) error {
	log := f.Logger()
	cfg, err := awsRegion(ctx, f, o.Region, o.Profile)
	if err != nil {
		return fmt.Errorf("security hub: %w", err)
	}
	stsClient, client := f.SecurityHubClients(cfg)
	id, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("security hub: identify the caller: %w", err)
	}
	caller := aws.ToString(id.Account)
	findings := report.ASFFFindings(rep, cfg.Region)
	var errs []error
	synced := 0
	for _, a := range rep.Accounts {
		switch {
		case a.Status != report.StatusOK:
			log.Warn("security hub: account not synced: its scan failed", "account", a.ID)
			continue
		case a.ID != caller:
			log.Warn("security hub: account not synced: findings can only be imported from the account itself",
				"account", a.ID, "caller", caller)
			continue
		}
		if _, err := securityhub.Sync(ctx, client, securityhub.Input{
			Account: a.ID, Region: cfg.Region, Findings: findings, Now: rep.GeneratedAt, Logger: log,
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		synced++
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("security hub: %w", err)
	}
	log.Info("security hub: synced", "accounts", synced, "region", cfg.Region)
	return nil
}
