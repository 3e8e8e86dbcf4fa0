package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// MIME renders m as an RFC 5322 message: headers, then a
// multipart/alternative body with the plain-text part first and the HTML
// part second (a part is left out when it is empty); with attachments, a
// multipart/mixed of that body and each file (base64). The boundaries are
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

	sum := sha256.Sum256([]byte("keywarden|" + m.ID))
	altBoundary := "keywarden-" + hex.EncodeToString(sum[:12])
	if len(m.Attachments) == 0 {
		h("Content-Type", `multipart/alternative; boundary="`+altBoundary+`"`)
		b.WriteString("\r\n")
		if err := writeAlternative(&b, m, altBoundary); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	// multipart/mixed: the text and HTML alternatives, then each file.
	mixed := multipart.NewWriter(&b)
	if err := mixed.SetBoundary("keywarden-mixed-" + hex.EncodeToString(sum[:12])); err != nil {
		return nil, err
	}
	h("Content-Type", `multipart/mixed; boundary="`+mixed.Boundary()+`"`)
	b.WriteString("\r\n")
	pw, err := mixed.CreatePart(textproto.MIMEHeader{"Content-Type": {`multipart/alternative; boundary="` + altBoundary + `"`}})
	if err != nil {
		return nil, err
	}
	if err := writeAlternative(pw, m, altBoundary); err != nil {
		return nil, err
	}
	for _, f := range m.Attachments {
		name := headerToken(f.Name)
		pw, err := mixed.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {f.Type + `; name="` + name + `"`},
			"Content-Disposition":       {`attachment; filename="` + name + `"`},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeBase64(pw, f.Data); err != nil {
			return nil, err
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeAlternative writes m's text and HTML as the body of a
// multipart/alternative with boundary: the plain-text part first and the
// HTML part second (a part is left out when it is empty).
func writeAlternative(w io.Writer, m *Message, boundary string) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		if part.body == "" {
			continue
		}
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(crlf(part.body))); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
	}
	return mw.Close()
}

// writeBase64 writes data base64-encoded in lines of 76 characters.
func writeBase64(w io.Writer, data []byte) error {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		if _, err := io.WriteString(w, enc[:76]+"\r\n"); err != nil {
			return err
		}
		enc = enc[76:]
	}
	_, err := io.WriteString(w, enc+"\r\n")
	return err
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
