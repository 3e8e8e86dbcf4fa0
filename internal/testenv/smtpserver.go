package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// SMTPFault is how an SMTPServer misbehaves; the zero value accepts
// every message.
type SMTPFault struct {
	// Code refuses each message at MAIL FROM with that reply (421, 451,
	// 554…): the message is not taken.
	Code int
	// DropAfterData takes the message into the mailbox, then closes the
	// connection without the reply to DATA: a delivery whose answer was
	// lost.
	DropAfterData bool
	// Hang never replies to DATA (the message is not taken) until the
	// client gives up or the test ends.
	Hang bool
}

// SMTPServer is a plain SMTP server (no TLS, no authentication) on
// 127.0.0.1 that keeps what it accepts, with faults (SetFault).
type SMTPServer struct {
	// Port is the server's port on 127.0.0.1.
	Port int

	mu      sync.Mutex
	fault   SMTPFault
	mailbox []SMTPMail
	closed  chan struct{}
}

// SMTPMail is one message an SMTPServer accepted.
type SMTPMail struct {
	From string
	To   []string
	Raw  string
}

// NewSMTPServer starts a server that runs until the test ends.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	s := &SMTPServer{closed: make(chan struct{})}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		close(s.closed)
		srv.Close()
	})
	return s
}

// SetFault changes how the server answers from now on.
func (s *SMTPServer) SetFault(f SMTPFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

func (s *SMTPServer) currentFault() SMTPFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

// Mailbox lists the messages accepted so far, in order.
func (s *SMTPServer) Mailbox() []SMTPMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMail(nil), s.mailbox...)
}

type smtpSession struct {
	srv  *SMTPServer
	conn *gosmtp.Conn
	cur  SMTPMail
}

func (ss *smtpSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if f := ss.srv.currentFault(); f.Code != 0 {
		return &gosmtp.SMTPError{Code: f.Code, EnhancedCode: gosmtp.NoEnhancedCode, Message: "refused by the test server"}
	}
	ss.cur = SMTPMail{From: from}
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f := ss.srv.currentFault()
	if f.Hang {
		<-ss.srv.closed
		return io.ErrUnexpectedEOF
	}
	ss.cur.Raw = string(b)
	ss.srv.mu.Lock()
	ss.srv.mailbox = append(ss.srv.mailbox, ss.cur)
	ss.srv.mu.Unlock()
	ss.cur = SMTPMail{}
	if f.DropAfterData {
		ss.conn.Conn().Close()
	}
	return nil
}

func (ss *smtpSession) Reset()        { ss.cur = SMTPMail{} }
func (ss *smtpSession) Logout() error { return nil }
