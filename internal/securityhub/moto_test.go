package securityhub

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestSyncAgainstMoto runs Sync against moto's Security Hub: import 250
// findings (three BatchImportFindings calls), re-import them (no
// duplicates, CreatedAt kept), then drop 50 (archived, RESOLVED).
//
// moto (5.x) implements BatchImportFindings and GetFindings (ignoring its
// filters) but not BatchUpdateFindings, so Sync's workflow update there
// ends as a warning; the RESOLVED status moto shows comes from the archive
// import, which real Security Hub ignores for existing findings. The
// BatchUpdateFindings calls are checked against a fake in
// securityhub_test.go.
func TestSyncAgainstMoto(t *testing.T) {
	m := testenv.Moto(t)
	counter := awsapi.NewCounter()
	cfg := counter.Instrument(m.Config(t))
	c := sh.NewFromConfig(cfg)
	ctx := context.Background()
	if _, err := c.EnableSecurityHub(ctx, &sh.EnableSecurityHubInput{}); err != nil {
		t.Fatalf("EnableSecurityHub: %v", err)
	}
	in := func(now time.Time, n int) Input {
		fs := report.ASFFFindings(report.New(now, now, nil, findings(n)), testenv.Region)
		return Input{Account: testenv.AccountID, Region: testenv.Region, Findings: fs, Now: now}
	}

	res, err := Sync(ctx, c, in(t1, 250))
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	if got := counter.ByOperation()["SecurityHub.BatchImportFindings"]; got != 3 || res.ImportCalls != 3 {
		t.Errorf("BatchImportFindings calls = %d (result %d); want 3 for 250 findings", got, res.ImportCalls)
	}
	first := testenv.SecurityHubFindings(t, c)
	if len(first) != 250 || res.Created != 250 {
		t.Fatalf("after the first sync moto holds %d findings (created %d); want 250", len(first), res.Created)
	}
	one := first["keywarden/"+testenv.AccountID+"/0000000000000007"]
	if aws.ToString(one.ProductArn) != "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default" ||
		aws.ToString(one.GeneratorId) != "keywarden/access_key_age" || one.RecordState != types.RecordStateActive ||
		one.Severity == nil || one.Severity.Label != types.SeverityLabelHigh || len(one.Resources) != 1 ||
		aws.ToString(one.Resources[0].Type) != "AwsIamAccessKey" {
		t.Errorf("finding as moto holds it = %+v; want keywarden's product ARN, generator, ACTIVE, HIGH, an access key resource", one)
	}

	res, err = Sync(ctx, c, in(t2, 250))
	if err != nil {
		t.Fatalf("re-import: %v", err)
	}
	second := testenv.SecurityHubFindings(t, c)
	if len(second) != 250 || res.Created != 0 || res.Resolved != 0 {
		t.Fatalf("after the re-import moto holds %d findings (created %d, resolved %d); want 250, 0, 0", len(second), res.Created, res.Resolved)
	}
	for id, f := range second {
		if aws.ToString(f.CreatedAt) != aws.ToString(first[id].CreatedAt) || aws.ToString(f.UpdatedAt) != "2026-11-24T08:00:00.000Z" {
			t.Fatalf("%s after re-import: CreatedAt %s (was %s), UpdatedAt %s; want CreatedAt kept and UpdatedAt the second sync's",
				id, aws.ToString(f.CreatedAt), aws.ToString(first[id].CreatedAt), aws.ToString(f.UpdatedAt))
		}
	}

	res, err = Sync(ctx, c, in(t3, 200))
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if res.Resolved != 50 || res.Imported != 200 {
		t.Errorf("Sync(200 of 250) = %+v; want 50 resolved, 200 imported", res)
	}
	for _, w := range res.Warnings {
		t.Logf("warning (moto lacks BatchUpdateFindings): %s", w)
	}
	third := testenv.SecurityHubFindings(t, c)
	if len(third) != 250 {
		t.Fatalf("after resolving moto holds %d findings; want 250 (50 archived)", len(third))
	}
	archived := 0
	for id, f := range third {
		// Even findings map to CIS 1.14: FAILED while found, PASSED once
		// resolved; odd ones have no Compliance.
		want := types.ComplianceStatus("")
		if idIndex(id)%2 == 0 {
			want = "FAILED"
			if f.RecordState == types.RecordStateArchived {
				want = "PASSED"
			}
		}
		if got := complianceStatus(f); got != want {
			t.Errorf("%s (%s) Compliance.Status = %q as moto holds it; want %q", id, f.RecordState, got, want)
		}
		if f.RecordState != types.RecordStateArchived {
			continue
		}
		archived++
		if f.Workflow == nil || f.Workflow.Status != types.WorkflowStatusResolved || aws.ToString(f.UpdatedAt) != "2026-11-25T08:00:00.000Z" {
			t.Errorf("%s archived with workflow %+v, UpdatedAt %s; want RESOLVED, the third sync's time", id, f.Workflow, aws.ToString(f.UpdatedAt))
		}
		if n := idIndex(id); n < 200 {
			t.Errorf("%s (still current) was archived", id)
		}
	}
	if archived != 50 {
		t.Errorf("archived findings = %d; want 50", archived)
	}
}

// complianceStatus is f's Compliance.Status, "" without one.
func complianceStatus(f types.AwsSecurityFinding) types.ComplianceStatus {
	if f.Compliance == nil {
		return ""
	}
	return f.Compliance.Status
}

// idIndex is the finding number at the end of a Security Hub ID.
func idIndex(id string) int64 {
	n, err := strconv.ParseInt(id[strings.LastIndex(id, "/")+1:], 16, 64)
	if err != nil {
		panic(err)
	}
	return n
}
