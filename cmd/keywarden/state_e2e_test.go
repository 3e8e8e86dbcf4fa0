package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/keywarden/keywarden/internal/state"
	dynamostate "github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestStateFlagDynamoDB: run, history and undo all take --state
// dynamodb://TABLE, reached in the region --region or --profile names
// (the table is in eu-west-1, the environment's region is us-east-1).
func TestStateFlagDynamoDB(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("alice", 85))
	dir, ids := enforceSetup(t, m, users, enforceConfig)
	alice := ids["alice"][0]
	eu := m.Config(t)
	eu.Region = "eu-west-1"
	if err := dynamostate.CreateTable(context.Background(), ddb.NewFromConfig(eu), "kw-state", time.Minute); err != nil {
		t.Fatal(err)
	}
	profiles := filepath.Join(dir, "aws-config")
	if err := os.WriteFile(profiles, []byte("[profile eu]\nregion = eu-west-1\naws_access_key_id = "+testenv.TestCredential+"\naws_secret_access_key = "+testenv.TestCredential+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := m.Env()
	// With the profile: no region in the environment, the profile's (an
	// explicit profile takes its credentials from the profile too).
	profileEnv := append(m.Env(), "AWS_REGION=", "AWS_DEFAULT_REGION=", "AWS_CONFIG_FILE="+profiles)
	must := func(env []string, args ...string) result {
		t.Helper()
		r := keywarden(t, env, dir, args...)
		if r.code != 0 {
			t.Fatalf("keywarden %v: exit %d\n%s", args, r.code, r.stderr)
		}
		return r
	}
	const table = "dynamodb://kw-state"

	res := decodeRun(t, must(env, "run", "--apply", "--state", table, "--region", "eu-west-1", "--format", "json"))
	if res.State != table || res.ActionsDone != 1 {
		t.Fatalf("run --state %s: state %q, %d actions done; want the table and alice's disable", table, res.State, res.ActionsDone)
	}
	byRegion := history(t, env, dir, "--state", table, "--region", "eu-west-1")
	byProfile := history(t, profileEnv, dir, "--state", table, "--profile", "eu")
	if len(byRegion) != 1 || byRegion[0].KeyID != alice || byRegion[0].Status != state.ActionDone || len(byProfile) != 1 || byProfile[0].ID != byRegion[0].ID {
		t.Fatalf("history --state %s: with --region %+v, with --profile %+v; want alice's disable in both", table, byRegion, byProfile)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); !os.IsNotExist(err) {
		t.Errorf("the config's SQLite state was created (stat: %v); want --state to replace it", err)
	}
	// Without them the SDK's region (us-east-1) has no such table.
	if r := keywarden(t, env, dir, "history", "--state", table); r.code != 1 || !strings.Contains(r.stderr, "region us-east-1") {
		t.Errorf("history --state %s in us-east-1: exit %d, %q; want 1 and the region named", table, r.code, r.stderr)
	}

	must(profileEnv, "undo", byRegion[0].ID, "--state", table, "--profile", "eu")
	if st := keyStatus(t, m, "alice"); st[alice] != "Active" {
		t.Errorf("alice's key after undo: %v; want Active", st)
	}
	if recs := history(t, env, dir, "--state", table, "--region", "eu-west-1", "--key-id", alice); len(recs) != 2 || recs[0].UndoOf != byRegion[0].ID {
		t.Errorf("history after undo = %+v; want the enable on top", recs)
	}
}
