package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keywarden/keywarden/internal/awsapi"
)

// StopValue is the value of enforce.stop_parameter that stops every
// action (compared without case, spaces around it ignored).
const StopValue = "stop"

// Reasons an action is not taken because of enforce.stop_parameter.
const (
	reasonStopFmt = "enforce.stop_parameter %s holds stop: no action is taken while it does; set it to anything else to resume"
	// reasonStopUnreadableFmt is the fail-safe: a parameter that cannot be
	// read counts as stop.
	reasonStopUnreadableFmt = "enforce.stop_parameter %s cannot be read (%s): no action is taken while keywarden cannot tell whether to stop; " +
		"create the parameter, or let keywarden read it (ssm:GetParameter)"
)

// ReasonStop is the exact reason an action is skipped while the stop
// parameter name holds stop.
func ReasonStop(name string) string { return fmt.Sprintf(reasonStopFmt, name) }

// ReasonStopUnreadable is the exact reason an action is skipped when the
// stop parameter name cannot be read; why is the error's code.
func ReasonStopUnreadable(name, why string) string {
	return fmt.Sprintf(reasonStopUnreadableFmt, name, why)
}

// stopCheck is the emergency stop remediation asks before each action:
// it reads the SSM parameter name with the caller's credentials (in the
// region of its ARN, when it is one) and says why to stop — it holds
// stop, or it cannot be read — or "" to go ahead. A read error is also an
// error of the run.
func (r *runner) stopCheck(name string) func(ctx context.Context) string {
	var client *ssm.Client
	unreadable := func(err error) string {
		r.errs = append(r.errs, fmt.Errorf("enforce.stop_parameter %s cannot be read, so no action was taken: %w", name, err))
		return ReasonStopUnreadable(name, cmp.Or(awsapi.ErrorCode(err), err.Error()))
	}
	return func(ctx context.Context) string {
		if client == nil {
			cfg, err := r.callerConfig(ctx)
			if err != nil {
				return unreadable(err)
			}
			if parts := strings.Split(name, ":"); strings.HasPrefix(name, "arn:") && len(parts) > 3 && parts[3] != "" {
				cfg.Region = parts[3]
			}
			client = ssm.NewFromConfig(cfg)
		}
		out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			return unreadable(err)
		}
		if v := aws.ToString(out.Parameter.Value); strings.EqualFold(strings.TrimSpace(v), StopValue) {
			r.res.Stopped = ReasonStop(name)
			return r.res.Stopped
		}
		return ""
	}
}

// callerConfig is the caller's SDK configuration: the one the scan
// loaded, else loaded now.
func (r *runner) callerConfig(ctx context.Context) (aws.Config, error) {
	r.accounts.mu.Lock()
	base := r.accounts.base
	r.accounts.mu.Unlock()
	switch {
	case base != nil:
		return base.Copy(), nil
	case r.o.Scan.LoadAWSConfig == nil:
		return aws.Config{}, errors.New("no AWS configuration to read it with")
	}
	return r.o.Scan.LoadAWSConfig(ctx)
}
