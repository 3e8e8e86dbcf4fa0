package awsapi

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/aws/smithy-go"
)

// ErrorCode is the AWS error code of err ("AccessDenied", "Throttling",
// …), "" when err is not an API error.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// accessDeniedCodes are the codes AWS refuses a request with when the
// caller lacks the permission: the query-protocol services (IAM, STS, S3)
// answer AccessDenied, the JSON ones (Organizations, SSM, DynamoDB,
// Security Hub) AccessDeniedException, EC2-style APIs
// UnauthorizedOperation.
var accessDeniedCodes = map[string]bool{
	"AccessDenied":          true,
	"AccessDeniedException": true,
	"UnauthorizedOperation": true,
}

// IsAccessDenied reports whether err is AWS refusing the caller the
// permission for the request.
func IsAccessDenied(err error) bool { return accessDeniedCodes[ErrorCode(err)] }

// IsThrottled reports whether err is AWS throttling the request, as the
// SDK's retryer counts it (retry.DefaultThrottles). IAM's LimitExceeded is
// not among them: it means a quota was reached (a user's two keys), except
// for GenerateCredentialReport, whose caller handles it.
func IsThrottled(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}
