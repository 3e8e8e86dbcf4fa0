package awsapi

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CredentialChain records the credentials behind the caller's, as the SDK
// resolves its shared config: for every role it assumes (a profile's
// role_arn, whatever its source_profile or credential_source), the
// credentials that sign the sts:AssumeRole call. With a role_arn and
// source_profile profile that is the source user's access key, which
// keywarden must never act on. LoadConfig records it in the loaded
// configuration's ConfigSources (ChainOf finds it there).
type CredentialChain struct {
	mu    sync.Mutex
	links []chainLink
	// endpoint is the STS endpoint the loaded configuration names
	// (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, a profile's endpoint_url),
	// nil for the default: known only once the configuration is loaded.
	endpoint *string
}

type chainLink struct {
	role   string
	source aws.CredentialsProvider
}

// record is an stscreds option: the SDK calls it as it builds each
// AssumeRole provider, with the STS client that signs with the source
// credentials (and once before, without a client, to check the options).
// The client is replaced by one that calls the configured STS endpoint:
// the SDK builds it before it resolves endpoints, so it would call the
// default endpoint whatever AWS_ENDPOINT_URL says (aws-sdk-go-v2#2802).
func (c *CredentialChain) record(o *stscreds.AssumeRoleOptions) {
	client, ok := o.Client.(*sts.Client)
	if !ok || client == nil {
		return
	}
	o.Client = &chainSTS{client: client, chain: c}
	src := client.Options().Credentials
	if src == nil {
		return
	}
	c.mu.Lock()
	c.links = append(c.links, chainLink{role: o.RoleARN, source: src})
	c.mu.Unlock()
}

// resolved records what is known once the configuration is loaded: the
// STS endpoint it names.
func (c *CredentialChain) resolved(cfg aws.Config) {
	ep := sts.NewFromConfig(cfg).Options().BaseEndpoint
	c.mu.Lock()
	c.endpoint = ep
	c.mu.Unlock()
}

// chainSTS is the AssumeRole client of a role in the shared config: the
// SDK's, at the configured STS endpoint.
type chainSTS struct {
	client *sts.Client
	chain  *CredentialChain
}

func (s *chainSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	s.chain.mu.Lock()
	ep := s.chain.endpoint
	s.chain.mu.Unlock()
	if ep != nil {
		optFns = append([]func(*sts.Options){func(o *sts.Options) { o.BaseEndpoint = ep }}, optFns...)
	}
	return s.client.AssumeRole(ctx, in, optFns...)
}

// SourceKeys returns the access key ID of each source credential in the
// chain, with the role it assumes. Retrieving a source may fail (an
// expired SSO session, an unreachable metadata service): what could be
// retrieved is returned with the errors joined.
func (c *CredentialChain) SourceKeys(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	if c == nil {
		return out, nil
	}
	c.mu.Lock()
	links := append([]chainLink(nil), c.links...)
	c.mu.Unlock()
	var errs []error
	for _, l := range links {
		v, err := l.source.Retrieve(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("the source credentials of role %s: %w", l.role, err))
			continue
		}
		if v.AccessKeyID != "" {
			out[v.AccessKeyID] = l.role
		}
	}
	return out, errors.Join(errs...)
}

// ChainOf is the CredentialChain LoadConfig recorded in cfg (nil for a
// configuration loaded otherwise).
func ChainOf(cfg aws.Config) *CredentialChain {
	for _, s := range cfg.ConfigSources {
		if c, ok := s.(*CredentialChain); ok {
			return c
		}
	}
	return nil
}
