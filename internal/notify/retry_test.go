package notify_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/keywarden/keywarden/internal/notify"
)

func TestRetryUnsent(t *testing.T) {
	status := func(code int, err error) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: err}
	}
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "x"} }
	for _, c := range []struct {
		name  string
		err   error
		retry bool
	}{
		{"SES throttling", status(429, api("TooManyRequestsException")), true},
		{"SNS throttling", status(400, api("Throttled")), true},
		{"SES v1 throttling", status(400, api("Throttling")), true},
		{"a bare 429 (throttling)", status(429, errors.New("x")), true},
		{"connection refused", &smithy.OperationError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{"500 after the write", status(500, api("InternalFailure")), false},
		{"503", status(503, api("ServiceUnavailable")), false},
		{"connection reset", fmt.Errorf("send: %w", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}), false},
		{"rejected", status(400, api("MessageRejected")), false},
	} {
		r := notify.RetryUnsent(retry.NewStandard())
		if got := r.IsErrorRetryable(c.err); got != c.retry {
			t.Errorf("%s: retried %v; want %v", c.name, got, c.retry)
		}
		// Throttling (through every retry) is a slow failure for
		// notify.Breaker; nothing else here is.
		if slow := notify.Slow(c.err); slow != strings.Contains(c.name, "throttling") {
			t.Errorf("%s: Slow = %v", c.name, slow)
		}
	}
}
