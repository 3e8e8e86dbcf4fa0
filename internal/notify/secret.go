package notify

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ParameterGetter reads one SSM parameter; *ssm.Client implements it.
type ParameterGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Secrets reads secrets from the environment or SSM Parameter Store.
type Secrets struct {
	Getenv func(string) string
	// SSM is nil when no parameter is named (it is built only then).
	SSM ParameterGetter
}

// Get returns the secret named by an SSM parameter (ssmName, read with
// decryption; it wins) or an environment variable (envName). what says
// what the secret is, for errors; the value never appears in one.
func (s *Secrets) Get(ctx context.Context, envName, ssmName, what string) (string, error) {
	if ssmName != "" {
		if s.SSM == nil {
			return "", fmt.Errorf("read %s from SSM parameter %s: no SSM client", what, ssmName)
		}
		out, err := s.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ssmName), WithDecryption: aws.Bool(true)})
		if err != nil {
			return "", fmt.Errorf("read %s from SSM parameter %s: %w", what, ssmName, err)
		}
		if out.Parameter == nil || strings.TrimSpace(aws.ToString(out.Parameter.Value)) == "" {
			return "", fmt.Errorf("read %s from SSM parameter %s: the parameter is empty", what, ssmName)
		}
		return strings.TrimSpace(aws.ToString(out.Parameter.Value)), nil
	}
	if envName == "" {
		return "", fmt.Errorf("%s: no environment variable or SSM parameter is named in the config", what)
	}
	v := ""
	if s.Getenv != nil {
		v = strings.TrimSpace(s.Getenv(envName))
	}
	if v == "" {
		return "", fmt.Errorf("%s: environment variable %s is not set", what, envName)
	}
	return v, nil
}

// GetURL is Get for a secret URL (a webhook's): it must be an http or
// https URL with a host. When it is not, the error says so and where the
// value came from, but shows no part of it: url.Parse's errors quote the
// offending part (a malformed port, say), which may be the secret.
func (s *Secrets) GetURL(ctx context.Context, envName, ssmName, what string) (string, error) {
	v, err := s.Get(ctx, envName, ssmName, what)
	if err != nil {
		return "", err
	}
	if !validURL(v) {
		from := "environment variable " + envName
		if ssmName != "" {
			from = "SSM parameter " + ssmName
		}
		return "", fmt.Errorf("%s is not a valid URL (want https://HOST/…; the value in %s is not shown: it is a secret)", what, from)
	}
	return v, nil
}

// validURL reports whether raw parses as an http or https URL with a host.
func validURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
