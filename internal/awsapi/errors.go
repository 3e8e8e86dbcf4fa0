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

// throttleCodes are the error codes AWS throttles with.
var throttleCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestThrottled": true, "RequestThrottledException": true, "TooManyRequestsException": true,
	"RequestLimitExceeded": true, "SlowDown": true, "LimitExceeded": true, "LimitExceededException": true,
}

// IsThrottled reports whether err is AWS throttling the request: one of
// throttleCodes, or what the SDK's retryer counts as throttling.
func IsThrottled(err error) bool {
	return throttleCodes[ErrorCode(err)] || retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}
