package awsapi

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// ServiceCredentialLister is the one IAM call ServiceCredentialPages
// makes; *iam.Client satisfies it.
type ServiceCredentialLister interface {
	ListServiceSpecificCredentials(ctx context.Context, in *iam.ListServiceSpecificCredentialsInput, optFns ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error)
}

// ServiceCredentialPages calls ListServiceSpecificCredentials with in, then
// with each Marker IAM answers (the SDK has no paginator for it), and gives
// each page to page, which returns false to stop early. A marker IAM
// answered before would list forever (and, in the executor, hold an
// action's lock until the run's deadline): the listing fails instead, so
// it makes at most one call per distinct marker. Errors read
// "what (page N): …" and wrap IAM's.
func ServiceCredentialPages(ctx context.Context, c ServiceCredentialLister, what string, in iam.ListServiceSpecificCredentialsInput,
	page func(out *iam.ListServiceSpecificCredentialsOutput) bool) error {
	seen := map[string]bool{}
	for n := 1; ; n++ {
		out, err := c.ListServiceSpecificCredentials(ctx, &in)
		if err != nil {
			return fmt.Errorf("%s (page %d): %w", what, n, err)
		}
		if !page(out) {
			return nil
		}
		marker := aws.ToString(out.Marker)
		if !out.IsTruncated {
			return nil
		}
		if marker == "" {
			// The list goes on but cannot be asked for: never take the
			// pages read for all of it.
			return fmt.Errorf("%s (page %d): IAM answered IsTruncated without a Marker", what, n)
		}
		if seen[marker] || marker == aws.ToString(in.Marker) {
			return fmt.Errorf("%s (page %d): IAM answered the same marker again", what, n)
		}
		seen[marker] = true
		in.Marker = aws.String(marker)
	}
}
