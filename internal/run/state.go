package run

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/state"
	dynamostate "github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/state/sqlite"
)

// OpenState opens the store a state URL names: sqlite://PATH (a local
// file, created when missing) or dynamodb://TABLE (an existing table,
// reached with the SDK's standard configuration: environment, shared
// config, AWS_PROFILE, AWS_REGION). readOnly opens it without changing it,
// for dry runs: a SQLite file that does not exist yet reads as empty state
// (an in-memory store), and nothing is created.
func OpenState(ctx context.Context, url string, readOnly bool) (state.Store, error) {
	return OpenStateWith(ctx, url, readOnly, nil)
}

// OpenStateWith is OpenState with the AWS configuration for DynamoDB state
// loaded by loadAWS (nil: the SDK's standard configuration); it is called
// only for dynamodb:// URLs. A read-only DynamoDB store refuses every write.
// A missing table is an error, in dry runs too: keywarden never creates
// it, the deployment does.
func OpenStateWith(ctx context.Context, url string, readOnly bool, loadAWS func(context.Context) (aws.Config, error)) (state.Store, error) {
	u, err := state.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("state %q: %w", url, err)
	}
	if u.Scheme == state.SchemeSQLite {
		s, err := sqlite.Open(ctx, u.Path, sqlite.Options{ReadOnly: readOnly})
		if readOnly && errors.Is(err, os.ErrNotExist) {
			return memstore.New(), nil
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	if loadAWS == nil {
		loadAWS = func(ctx context.Context) (aws.Config, error) { return awsapi.LoadConfig(ctx, awsapi.Options{}) }
	}
	cfg, err := loadAWS(ctx)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", url, err)
	}
	var opts []dynamostate.Option
	if readOnly {
		opts = append(opts, dynamostate.ReadOnly())
	}
	s, err := dynamostate.Open(ctx, ddb.NewFromConfig(cfg), u.Path, opts...)
	if err != nil {
		return nil, fmt.Errorf("open state %s (region %s): %w", url, cfg.Region, err)
	}
	return s, nil
}
