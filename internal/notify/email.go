package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// MIME renders m as an RFC 5322 message: headers, then a
// multipart/alternative body with the plain-text part first and the HTML
// part second (a part is left out when it is empty). The boundary is
// derived from the ID, so the same message renders to the same bytes.
func (m *Message) MIME() ([]byte, error) {
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("message %s: from %q: %w", m.ID, m.From, err)
	}
	var to []string
	for _, a := range m.To {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("message %s: to %q: %w", m.ID, a, err)
		}
		to = append(to, addr.String())
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("message " + m.ID + ": no body")
	}
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from.String())
	if len(to) > 0 {
		h("To", strings.Join(to, ", "))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", HeaderText(m.Subject)))
	if !m.Date.IsZero() {
		h("Date", m.Date.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	}
	h("Message-ID", "<"+headerToken(m.ID)+"@"+domainOf(from.Address)+">")
	h("MIME-Version", "1.0")
	h("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	h("X-Keywarden-Kind", string(m.Kind))

	mw := multipart.NewWriter(&b)
	sum := sha256.Sum256([]byte("keywarden|" + m.ID))
	if err := mw.SetBoundary("keywarden-" + hex.EncodeToString(sum[:12])); err != nil {
		return nil, err
	}
	h("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		if part.body == "" {
			continue
		}
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(crlf(part.body))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// HeaderText makes s safe for a one-line header: control characters
// (CR and LF included, against header injection) become spaces, runs of
// spaces one, and the ends are trimmed.
func HeaderText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// headerToken keeps the characters allowed in a Message-ID's local part.
func headerToken(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".-_+", r):
			return r
		}
		return '-'
	}, s)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return "keywarden.invalid"
}

// crlf turns every line ending into CRLF, as mail requires.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}
