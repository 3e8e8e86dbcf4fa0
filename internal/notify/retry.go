package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// SendTimeout bounds one message's send through a channel that has no
// bound of its own (SES, SNS, a webhook post, each SMTP command): a
// service that never answers fails that delivery, which the next run
// retries, instead of hanging the run.
const SendTimeout = 30 * time.Second

// unsentCodes are errors that say the service did not take the request
// (throttling): retrying them cannot send a message twice. SNS answers
// "Throttled", which the SDK's list lacks.
var unsentCodes = retry.IsErrorThrottles(append([]retry.IsErrorThrottle{
	retry.ThrottleErrorCode{Codes: map[string]struct{}{"Throttled": {}}},
}, retry.DefaultThrottles...))

// RetryUnsent wraps a client's retryer so that a send is retried only
// when it certainly did not take effect: a throttling answer, or a
// connection that could not be opened. A 5xx, a dropped connection or a
// timeout may come after the service accepted the message (its answer
// lost): retrying it in the same run could send it once per attempt;
// instead the delivery fails, its notices stay owed, and the next run
// sends it again, at most one duplicate.
func RetryUnsent(r aws.Retryer) aws.Retryer {
	if r == nil {
		return nil
	}
	return unsentRetryer{r}
}

type unsentRetryer struct{ aws.Retryer }

func (u unsentRetryer) IsErrorRetryable(err error) bool { return IsUnsent(err) }

// GetAttemptToken implements aws.RetryerV2 as the wrapped retryer does
// (the adaptive mode's rate limit is taken there).
func (u unsentRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if v2, ok := u.Retryer.(aws.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return u.GetInitialToken(), nil
}

// IsUnsent reports whether err says the request never reached the
// service or was refused before it acted: throttling (also HTTP 429), or
// a connection that could not be opened.
func IsUnsent(err error) bool {
	if unsentCodes.IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusTooManyRequests {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}
