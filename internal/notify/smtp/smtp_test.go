package smtp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/notify/smtp"
	"github.com/keywarden/keywarden/internal/testenv"
)

// received is one message the test server accepted.
type received struct {
	from   string
	to     []string
	data   string
	tls    bool
	authAs string
}

// server is a real SMTP server (go-smtp) on a loopback port.
type server struct {
	addr     string
	port     int
	rootCAs  *x509.CertPool
	mu       sync.Mutex
	got      []received
	conns    int
	rejectTo string
}

func (s *server) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

type session struct {
	srv  *server
	conn *gosmtp.Conn
	cur  received
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "keywarden" || pass != "s3cret" {
			return errors.New("invalid credentials")
		}
		ss.cur.authAs = user
		return nil
	}), nil
}
func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	ss.cur.from = from
	_, ss.cur.tls = ss.conn.TLSConnectionState()
	return nil
}
func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if to == ss.srv.rejectTo {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.cur.to = append(ss.cur.to, to)
	return nil
}
func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.data = string(b)
	ss.srv.mu.Lock()
	ss.srv.got = append(ss.srv.got, ss.cur)
	ss.srv.mu.Unlock()
	ss.cur = received{authAs: ss.cur.authAs}
	return nil
}
func (ss *session) Reset()        { ss.cur = received{authAs: ss.cur.authAs} }
func (ss *session) Logout() error { return nil }

// startServer starts a server; withTLS offers STARTTLS with a certificate
// for 127.0.0.1 that rootCAs trusts.
func startServer(t *testing.T, withTLS bool) *server {
	t.Helper()
	s := &server{}
	be := gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	})
	srv := gosmtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if withTLS {
		cert, pool := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.rootCAs = pool
	} else {
		srv.AllowInsecureAuth = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(&countingListener{Listener: l, srv: s})
	t.Cleanup(func() { srv.Close() })
	s.addr = l.Addr().String()
	s.port = l.Addr().(*net.TCPAddr).Port
	return s
}

// countingListener counts the connections the server accepts.
type countingListener struct {
	net.Listener
	srv *server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.srv.mu.Lock()
		l.srv.conns++
		l.srv.mu.Unlock()
	}
	return c, err
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keywarden test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func message(id, to string) *notify.Message {
	return &notify.Message{Kind: notify.KindUser, ID: id, From: "Security <security@example.com>", To: []string{to},
		Subject: "[keywarden] 2 AWS credentials need your attention", Text: "Access key AKIAEXAMPLE is 85 days old.\n",
		HTML: "<p>Access key <code>AKIAEXAMPLE</code> of <b>alice&lt;x&gt;</b></p>", Date: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
}

func TestSendOverSTARTTLSWithAuth(t *testing.T) {
	s := startServer(t, true)
	ch := smtp.New(smtp.Options{Host: "127.0.0.1", Port: s.port, Username: "keywarden", Password: "s3cret", StartTLS: true,
		TLSConfig: &tls.Config{RootCAs: s.rootCAs}})
	ctx := context.Background()
	// The second carries a CSV, as a cut digest does.
	withCSV := message("r.u2", "Bob <bob@example.com>")
	withCSV.Attachments = []notify.Attachment{{Name: "keywarden-digest-2026-11-23.csv", Type: "text/csv", Data: []byte(".kind\r\n.\r\nfinding\n")}}
	for _, m := range []*notify.Message{message("r.u1", "alice@example.com"), withCSV} {
		if err := ch.Send(ctx, m); err != nil {
			t.Fatalf("Send(%s) error: %v", m.ID, err)
		}
	}
	if err := ch.Close(); err != nil {
		t.Errorf("Close() error: %v", err)
	}
	got := s.messages()
	if len(got) != 2 {
		t.Fatalf("server received %d messages; want 2", len(got))
	}
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections for 2 messages; want 1 (the connection is reused)", conns)
	}
	for i, want := range []string{"alice@example.com", "bob@example.com"} {
		r := got[i]
		if r.from != "security@example.com" || len(r.to) != 1 || r.to[0] != want || !r.tls || r.authAs != "keywarden" {
			t.Errorf("message %d: envelope from %q to %v, TLS %v, authenticated as %q; want security@example.com → %s over TLS as keywarden",
				i, r.from, r.to, r.tls, r.authAs, want)
		}
		m := testenv.ParseMail(t, r.data)
		if m.Subject != "[keywarden] 2 AWS credentials need your attention" || m.Header.Get("From") != `"Security" <security@example.com>` ||
			!strings.Contains(m.Header.Get("To"), want) || m.Header.Get("Message-Id") == "" || m.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("message %d headers: %v", i, m.Header)
		}
		parts, csv := "text/plain,text/html", ""
		if i == 1 {
			parts, csv = parts+",text/csv", ".kind\r\n.\r\nfinding\n"
		}
		if got := string(m.Attachments["keywarden-digest-2026-11-23.csv"]); got != csv {
			t.Errorf("message %d: attached CSV %q; want %q", i, got, csv)
		}
		if strings.Join(m.Parts, ",") != parts || m.Text != "Access key AKIAEXAMPLE is 85 days old.\n" ||
			!strings.Contains(m.HTML, "<b>alice&lt;x&gt;</b>") {
			t.Errorf("message %d parts %v: text %q, HTML %q", i, m.Parts, m.Text, m.HTML)
		}
	}
}

func TestSTARTTLSRequired(t *testing.T) {
	s := startServer(t, false)
	ch := smtp.New(smtp.Options{Host: "127.0.0.1", Port: s.port, StartTLS: true})
	err := ch.Send(context.Background(), message("r.u1", "alice@example.com"))
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS, and notify.smtp.starttls requires it") {
		t.Errorf("Send() to a server without STARTTLS = %v; want a refusal", err)
	}
	if n := len(s.messages()); n != 0 {
		t.Errorf("%d messages delivered without TLS", n)
	}
}

func TestNoPasswordInTheClear(t *testing.T) {
	s := startServer(t, false)
	// The host is not loopback (the dialer still reaches the test server).
	ch := smtp.New(smtp.Options{Host: "mail.example.com", Port: 587, Username: "keywarden", Password: "s3cret",
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, s.addr)
		}})
	err := ch.Send(context.Background(), message("r.u1", "alice@example.com"))
	if err == nil || !strings.Contains(err.Error(), "refusing to send the SMTP password to mail.example.com:587 without TLS") {
		t.Errorf("Send() with a password over plain SMTP = %v; want a refusal", err)
	}
	// On loopback (a local relay) it is allowed.
	local := smtp.New(smtp.Options{Host: "127.0.0.1", Port: s.port, Username: "keywarden", Password: "s3cret"})
	if err := local.Send(context.Background(), message("r.u2", "alice@example.com")); err != nil {
		t.Errorf("Send() to a loopback relay: %v", err)
	}
	if got := s.messages(); len(got) != 1 || got[0].tls || got[0].authAs != "keywarden" {
		t.Errorf("loopback relay received %+v; want one message, authenticated, without TLS", got)
	}
}

func TestSendErrors(t *testing.T) {
	s := startServer(t, true)
	s.rejectTo = "gone@example.com"
	opts := smtp.Options{Host: "127.0.0.1", Port: s.port, Username: "keywarden", Password: "wrong", StartTLS: true,
		TLSConfig: &tls.Config{RootCAs: s.rootCAs}}
	if err := smtp.New(opts).Send(context.Background(), message("r.u1", "alice@example.com")); err == nil ||
		!strings.Contains(err.Error(), "authenticate as keywarden") {
		t.Errorf("Send() with a wrong password = %v; want an authentication error", err)
	}
	opts.Password = "s3cret"
	ch := smtp.New(opts)
	err := ch.Send(context.Background(), message("r.u2", "gone@example.com"))
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("Send() to a rejected recipient = %v; want the server's 550", err)
	}
	// The channel recovers: the next message goes through.
	if err := ch.Send(context.Background(), message("r.u3", "alice@example.com")); err != nil {
		t.Errorf("Send() after a rejection: %v", err)
	}
	if got := s.messages(); len(got) != 1 || got[0].to[0] != "alice@example.com" {
		t.Errorf("received %+v; want only alice's message", got)
	}
	// An untrusted certificate fails the TLS handshake.
	bad := smtp.New(smtp.Options{Host: "127.0.0.1", Port: s.port, StartTLS: true})
	if err := bad.Send(context.Background(), message("r.u4", "alice@example.com")); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Send() to an untrusted server = %v; want a certificate error", err)
	}
}

// TestServerThatStopsAnswering: a server that takes DATA and never
// replies, or never even greets, fails the message within the channel's
// Timeout instead of go-smtp's 5 and 12 minutes; the channel then
// recovers.
func TestServerThatStopsAnswering(t *testing.T) {
	s := testenv.NewSMTPServer(t)
	s.SetFault(testenv.SMTPFault{Hang: true})
	ch := smtp.New(smtp.Options{Host: "127.0.0.1", Port: s.Port, Timeout: 300 * time.Millisecond})
	start := time.Now()
	err := ch.Send(context.Background(), message("r.u1", "alice@example.com"))
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("Send() to a server that never replies to DATA = %v after %v; want a timeout within 10 s", err, time.Since(start))
	}
	s.SetFault(testenv.SMTPFault{})
	if err := ch.Send(context.Background(), message("r.u2", "alice@example.com")); err != nil {
		t.Errorf("Send() after the server recovered: %v", err)
	}
	if got := s.Mailbox(); len(got) != 1 {
		t.Errorf("mailbox has %d messages; want 1 (the hung one was never taken)", len(got))
	}

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ch = smtp.New(smtp.Options{Host: "127.0.0.1", Port: silent.Addr().(*net.TCPAddr).Port, Timeout: 300 * time.Millisecond})
	start = time.Now()
	if err := ch.Send(context.Background(), message("r.u3", "alice@example.com")); err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("Send() to a server that never greets = %v after %v; want a timeout within 10 s", err, time.Since(start))
	}
}
