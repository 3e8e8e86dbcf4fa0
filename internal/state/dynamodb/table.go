package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/state"
)

// The table's key schema: every item has a string partition key and a
// string sort key, and one global secondary index (IndexName) orders the
// lists (open notices, runs, actions, held locks). The Terraform module and
// the CloudFormation template create the same schema; CreateTableInput is
// the reference they are checked against.
const (
	// AttrPK is the partition (HASH) key attribute, type S.
	AttrPK = "pk"
	// AttrSK is the sort (RANGE) key attribute, type S.
	AttrSK = "sk"
	// IndexName is the global secondary index, projection ALL.
	IndexName = "gsi1"
	// AttrGSI1PK is the index's partition (HASH) key attribute, type S.
	AttrGSI1PK = "gsi1pk"
	// AttrGSI1SK is the index's sort (RANGE) key attribute, type S.
	AttrGSI1SK = "gsi1sk"
)

// CreateTableInput is the table keywarden's state needs, named name:
// the key schema and index above, on-demand (PAY_PER_REQUEST) billing.
// Point-in-time recovery, encryption keys and tags are the deployment's
// (Terraform, CloudFormation) to set.
func CreateTableInput(name string) *ddb.CreateTableInput {
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	return &ddb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str(AttrPK), str(AttrSK), str(AttrGSI1PK), str(AttrGSI1SK)},
		KeySchema:            key(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(IndexName),
			KeySchema:  key(AttrGSI1PK, AttrGSI1SK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// TableAPI is what CreateTable calls.
type TableAPI interface {
	CreateTable(ctx context.Context, in *ddb.CreateTableInput, optFns ...func(*ddb.Options)) (*ddb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *ddb.DescribeTableInput, optFns ...func(*ddb.Options)) (*ddb.DescribeTableOutput, error)
}

// CreateTable creates the state table name (CreateTableInput) and waits,
// at most wait, until it is active. It is for tests and for operators who
// create the table by hand; deployments create it with the Terraform
// module or the CloudFormation template.
func CreateTable(ctx context.Context, client TableAPI, name string, wait time.Duration) error {
	if !state.ValidTableName(name) {
		return fmt.Errorf("create table %q: not a DynamoDB table name (3-255 letters, digits, _ . -)", name)
	}
	if _, err := client.CreateTable(ctx, CreateTableInput(name)); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := ddb.NewTableExistsWaiter(client, func(o *ddb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &ddb.DescribeTableInput{TableName: aws.String(name)}, wait); err != nil {
		return fmt.Errorf("create table %s: wait until it is active: %w", name, err)
	}
	return nil
}

// ErrNoTable is returned (wrapped) by Open when the table does not exist.
var ErrNoTable = errors.New("table not found")

// createAdvice says what to do about a missing or mismatched table.
const createAdvice = "create it with keywarden's Terraform module or CloudFormation template (deploy/), " +
	"or by hand with the key schema in docs/notifications.md (pk, sk and the index gsi1 on gsi1pk, gsi1sk, all strings), " +
	"and check the table name, account and region"

// checkTable reads the table's description and checks that it has the key
// schema and index keywarden writes.
func checkTable(ctx context.Context, client API, name string) error {
	out, err := client.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String(name)})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return fmt.Errorf("DynamoDB table %s: %w: %s", name, ErrNoTable, createAdvice)
	}
	if err != nil {
		return fmt.Errorf("DynamoDB table %s: describe: %w", name, err)
	}
	t := out.Table
	if t == nil {
		return fmt.Errorf("DynamoDB table %s: describe returned no table", name)
	}
	if t.TableStatus == types.TableStatusCreating {
		return fmt.Errorf("DynamoDB table %s is still being created; try again when it is active", name)
	}
	want := CreateTableInput(name)
	if !sameKeys(t.KeySchema, want.KeySchema) {
		return fmt.Errorf("DynamoDB table %s has the key schema %s; keywarden needs %s: %s",
			name, keysString(t.KeySchema), keysString(want.KeySchema), createAdvice)
	}
	wantIndex := want.GlobalSecondaryIndexes[0]
	for _, g := range t.GlobalSecondaryIndexes {
		if aws.ToString(g.IndexName) != IndexName {
			continue
		}
		if !sameKeys(g.KeySchema, wantIndex.KeySchema) || g.Projection == nil || g.Projection.ProjectionType != types.ProjectionTypeAll {
			return fmt.Errorf("DynamoDB table %s: index %s has the key schema %s; keywarden needs %s with projection ALL: %s",
				name, IndexName, keysString(g.KeySchema), keysString(wantIndex.KeySchema), createAdvice)
		}
		return nil
	}
	return fmt.Errorf("DynamoDB table %s has no global secondary index %s (%s, projection ALL): %s",
		name, IndexName, keysString(wantIndex.KeySchema), createAdvice)
}

func sameKeys(got, want []types.KeySchemaElement) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if aws.ToString(got[i].AttributeName) != aws.ToString(want[i].AttributeName) || got[i].KeyType != want[i].KeyType {
			return false
		}
	}
	return true
}

func keysString(ks []types.KeySchemaElement) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += ", "
		}
		s += aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	return "(" + s + ")"
}
