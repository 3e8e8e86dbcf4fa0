package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/notify/webhook"
)

func TestPostsTheDigest(t *testing.T) {
	var got []byte
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		ctype = r.Header.Get("Content-Type")
	}))
	defer srv.Close()
	_, p, digests := notify.Sample()
	m, err := notify.DefaultTemplates().Digest(&digests[0], "sec@example.com", "r.d1", p.AsOf)
	if err != nil {
		t.Fatal(err)
	}
	m.Date = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if err := webhook.New(srv.URL, nil).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if ctype != "application/json" {
		t.Errorf("Content-Type = %q", ctype)
	}
	var payload struct {
		Schema, Kind, ID, Subject, Text string
		Date                            time.Time
		Digest                          struct {
			Day      string `json:"day"`
			Findings []struct {
				User  string `json:"user"`
				KeyID string `json:"key_id"`
				Next  string `json:"next"`
			} `json:"findings"`
			Actions []struct {
				Action string `json:"action"`
				Status string `json:"status"`
			} `json:"actions"`
		}
	}
	if err := json.Unmarshal(got, &payload); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, got)
	}
	if payload.Schema != "keywarden.webhook/v1" || payload.Kind != "digest" || payload.ID != "r.d1" || !strings.HasPrefix(payload.Subject, "[keywarden] 2026-11-23") ||
		payload.Digest.Day != "2026-11-23" || len(payload.Digest.Findings) != 4 || payload.Digest.Findings[0].KeyID != "AKIAIOSFODNN7EXAMPLE" ||
		payload.Digest.Findings[0].User != "alice<b>" || len(payload.Digest.Actions) != 1 || payload.Digest.Actions[0].Status != "listed" ||
		!strings.Contains(payload.Text, "AT A GLANCE") {
		t.Errorf("payload = %s", got)
	}
}

func TestFailureIsReportedWithoutTheURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	}))
	defer srv.Close()
	err := webhook.New(srv.URL+"/secret-path", nil).Send(context.Background(), &notify.Message{Kind: notify.KindDigest, ID: "x"})
	if err == nil || !strings.Contains(err.Error(), "webhook: post digest: webhook answered HTTP 410 Gone: no such webhook") || strings.Contains(err.Error(), ": gone") || strings.Contains(err.Error(), "secret-path") {
		t.Errorf("Send() = %v", err)
	}
}
