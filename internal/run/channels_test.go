package run

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
)

// TestBuildChannelsSESWiring: notify.ses.configuration_set reaches
// SendEmail (over HTTP, against a stand-in SES endpoint), and
// notify.rate_per_second wraps the owner mail channel in the pacer (whose
// waits TestThrottleWaitsBetweenSends checks).
func TestBuildChannelsSESWiring(t *testing.T) {
	var mu sync.Mutex
	var sets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct{ ConfigurationSetName string }
		_ = json.Unmarshal(body, &in)
		mu.Lock()
		sets = append(sets, in.ConfigurationSetName)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"MessageId":"m-1"}`)
	}))
	defer srv.Close()
	cfg := config.Default()
	cfg.Notify.Users.Via = "ses"
	cfg.Notify.SES.ConfigurationSet = "keywarden-tracking"
	cfg.Notify.RatePerSecond = 10
	chs := BuildChannels(context.Background(), cfg, ChannelDeps{AWS: func(context.Context) (aws.Config, error) {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}, nil
	}})
	defer chs.Close()
	for _, id := range []string{"a", "b", "c"} {
		m := &notify.Message{ID: id, Kind: notify.KindUser, From: "security@example.com", To: []string{"alice@example.com"},
			Subject: "s", Text: "t", Date: time.Now()}
		if err := chs.User.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sets) != 3 || sets[0] != "keywarden-tracking" || sets[2] != "keywarden-tracking" {
		t.Errorf("ConfigurationSetName of the SendEmail calls = %q; want keywarden-tracking on each", sets)
	}
	if u, ok := chs.User.(interface{ Unwrap() notify.Channel }); !ok || u.Unwrap().Name() != "ses" {
		t.Errorf("owner mail channel %T; want the SES channel paced by notify.rate_per_second", chs.User)
	}
	if _, ok := chs.User.(io.Closer); !ok {
		t.Error("the paced mail channel is not closable")
	}
}
