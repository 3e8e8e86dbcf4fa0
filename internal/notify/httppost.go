package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Poster posts JSON payloads to one URL: what the Slack and webhook
// channels share.
type Poster struct {
	url    string
	client *http.Client
}

// NewPoster returns a poster to url; client nil uses a client with a
// 30-second timeout.
func NewPoster(url string, client *http.Client) Poster {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return Poster{url: url, client: client}
}

// Post posts v (PostJSON).
func (p Poster) Post(ctx context.Context, v any) error { return PostJSON(ctx, p.client, p.url, v) }

// PostJSON posts v as JSON to url and fails on a non-2xx answer. Errors
// never contain the URL (a webhook URL is a secret).
func PostJSON(ctx context.Context, client *http.Client, url string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", RedactURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keywarden")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return RedactURL(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s: %s", resp.Status, strings.TrimSpace(HeaderText(string(msg))))
	}
	return nil
}
