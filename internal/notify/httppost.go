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
// never contain the URL (a webhook URL is a secret), nor anything of the
// answer but its status code: services echo the request's URL in their
// error bodies and reason phrases, so the error gives the code, its
// standard text and a fixed reason (answerReason).
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
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // let the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered HTTP %s: %s (the answer is not shown: it may repeat the URL)",
			strings.TrimSpace(fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))), answerReason(resp.StatusCode))
	}
	return nil
}

// answerReason is a fixed reading of an HTTP error status.
func answerReason(code int) string {
	switch {
	case code == http.StatusBadRequest, code == http.StatusUnprocessableEntity:
		return "the service refused the message"
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return "the service refused the URL: it is wrong, revoked or expired"
	case code == http.StatusNotFound, code == http.StatusGone:
		return "no such webhook: the URL is wrong or was deleted"
	case code == http.StatusRequestEntityTooLarge:
		return "the message is too large for the service"
	case code == http.StatusTooManyRequests:
		return "the service is rate limiting; the next run tries again"
	case code/100 == 5:
		return "the service failed; the next run tries again"
	case code/100 == 3:
		return "the service redirected; set the URL it redirects to"
	}
	return "an unexpected answer"
}
