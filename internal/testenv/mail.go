package testenv

import (
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"testing"
)

// Mail is a parsed MIME message: its headers and its plain-text and HTML
// parts (decoded).
type Mail struct {
	Header mail.Header
	// Subject is the decoded Subject header.
	Subject string
	Text    string
	HTML    string
	// Parts lists the parts' media types in order (a nested multipart's
	// parts in its place).
	Parts []string
	// Attachments are the attached files' contents (decoded), by file
	// name.
	Attachments map[string][]byte
}

// ParseMail parses raw (RFC 5322) with a single or multipart body
// (multipart/alternative, or a multipart/mixed of it and attachments),
// decoding quoted-printable and base64 parts. It fails the test on malformed
// input.
func ParseMail(t testing.TB, raw string) Mail {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, raw)
	}
	m := Mail{Header: msg.Header}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject %q: %v", msg.Header.Get("Subject"), err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("parse Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	m.Attachments = map[string][]byte{}
	m.addPart(t, mt, params, msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
	return m
}

// addPart adds a part of media type mt (its parameters params) to m,
// walking into a multipart.
func (m *Mail) addPart(t testing.TB, mt string, params map[string]string, cte, disposition string, body io.Reader) {
	t.Helper()
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("read multipart: %v", err)
			}
			pt, pp, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if err != nil {
				t.Fatalf("part Content-Type %q: %v", p.Header.Get("Content-Type"), err)
			}
			m.addPart(t, pt, pp, p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p)
		}
	}
	switch {
	case strings.EqualFold(cte, "quoted-printable"):
		body = quotedprintable.NewReader(body)
	case strings.EqualFold(cte, "base64"):
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read %s part: %v", mt, err)
	}
	m.Parts = append(m.Parts, mt)
	if disposition != "" {
		_, dp, err := mime.ParseMediaType(disposition)
		if err != nil {
			t.Fatalf("part Content-Disposition %q: %v", disposition, err)
		}
		m.Attachments[dp["filename"]] = b
		return
	}
	switch mt {
	case "text/plain":
		m.Text = strings.ReplaceAll(string(b), "\r\n", "\n")
	case "text/html":
		m.HTML = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
}

// SentEmail is one message moto's SES recorded.
type SentEmail struct {
	Source string
	// Destinations are the recipients, each once.
	Destinations []string
	Raw          string
}

// SESSent lists the raw messages SES (v1 or v2, SendEmail with raw
// content) accepted, from /moto-api/data.json (m.Data): ses.RawMessage.
func SESSent(t testing.TB, data map[string]any) []SentEmail {
	t.Helper()
	ses, _ := data["ses"].(map[string]any)
	raw, _ := ses["RawMessage"].([]any)
	var out []SentEmail
	for _, r := range raw {
		e, _ := r.(map[string]any)
		s := SentEmail{Raw: str(e["raw_data"]), Source: str(e["source"])}
		dests, _ := e["destinations"].([]any)
		for _, d := range dests {
			a := str(d)
			if addr, err := mail.ParseAddress(a); err == nil {
				a = addr.Address
			}
			if !slices.Contains(s.Destinations, a) {
				s.Destinations = append(s.Destinations, a)
			}
		}
		out = append(out, s)
	}
	return out
}

// SNSPublished is one message published to an SNS topic.
type SNSPublished struct {
	Subject string
	Message string
}

// SNSSent lists what was published to topicARN, from /moto-api/data.json
// (m.Data): sns.Topic[].sent_notifications.
func SNSSent(t testing.TB, data map[string]any, topicARN string) []SNSPublished {
	t.Helper()
	sns, _ := data["sns"].(map[string]any)
	topics, _ := sns["Topic"].([]any)
	var out []SNSPublished
	for _, tp := range topics {
		topic, _ := tp.(map[string]any)
		if str(topic["arn"]) != topicARN {
			continue
		}
		sent, _ := topic["sent_notifications"].([]any)
		for _, s := range sent {
			n, _ := s.([]any) // [id, message, subject, attributes, group]
			if len(n) < 3 {
				t.Fatalf("unexpected sent_notifications entry %v", s)
			}
			out = append(out, SNSPublished{Message: str(n[1]), Subject: str(n[2])})
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
