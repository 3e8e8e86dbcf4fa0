package awsapi_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/awsapi"
)

func TestErrorClasses(t *testing.T) {
	apiErr := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, tt := range []struct {
		err               error
		denied, throttled bool
	}{
		{apiErr("AccessDenied"), true, false},                                         // IAM, STS, S3
		{apiErr("AccessDeniedException"), true, false},                                // Organizations, SSM, DynamoDB
		{apiErr("UnauthorizedOperation"), true, false},                                // EC2-style
		{fmt.Errorf("list account aliases: %w", apiErr("AccessDenied")), true, false}, // wrapped
		{apiErr("Throttling"), false, true},
		{apiErr("ThrottlingException"), false, true},
		{apiErr("TooManyRequestsException"), false, true},
		{apiErr("RequestLimitExceeded"), false, true},
		{fmt.Errorf("list access keys: %w", apiErr("Throttling")), false, true}, // wrapped
		{apiErr("LimitExceeded"), false, false},                                 // IAM: a quota, not a rate
		{apiErr("NoSuchEntity"), false, false},
		{apiErr("InvalidClientTokenId"), false, false},
		{errors.New("AccessDenied"), false, false}, // not an API error: its text proves nothing
		{nil, false, false},
	} {
		if got := awsapi.IsAccessDenied(tt.err); got != tt.denied {
			t.Errorf("IsAccessDenied(%v) = %t; want %t", tt.err, got, tt.denied)
		}
		if got := awsapi.IsThrottled(tt.err); got != tt.throttled {
			t.Errorf("IsThrottled(%v) = %t; want %t", tt.err, got, tt.throttled)
		}
	}
}
