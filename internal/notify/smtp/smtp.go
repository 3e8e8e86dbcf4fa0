package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/keywarden/keywarden/internal/notify"
)

// Options configure a Channel.
type Options struct {
	Host string
	Port int
	// Username and Password authenticate (AUTH PLAIN); no authentication
	// when Username is empty.
	Username string
	Password string
	// StartTLS requires STARTTLS before authenticating or sending.
	StartTLS bool
	// TLSConfig verifies the server (nil: the system roots, ServerName Host).
	TLSConfig *tls.Config
	// LocalName is the EHLO name without STARTTLS (default "localhost").
	LocalName string
	// Dial opens the connection (default a net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds the connection's opening and each wait for the
	// server (the greeting, each command's reply, the message's
	// acceptance after DATA); default notify.SendTimeout. A server that
	// stops answering fails that message, which the next run sends again.
	Timeout time.Duration
}

// Channel sends mail over SMTP. It keeps one connection open between
// messages; Close ends it.
type Channel struct {
	o Options

	mu     sync.Mutex
	client *gosmtp.Client
}

var _ notify.Channel = (*Channel)(nil)

// New returns an SMTP channel.
func New(o Options) *Channel {
	if o.Port == 0 {
		o.Port = 587
	}
	if o.Timeout <= 0 {
		o.Timeout = notify.SendTimeout
	}
	return &Channel{o: o}
}

// Name implements notify.Channel.
func (c *Channel) Name() string { return "smtp" }

func (c *Channel) addr() string { return net.JoinHostPort(c.o.Host, strconv.Itoa(c.o.Port)) }

// connect opens and prepares a connection: STARTTLS, then AUTH.
func (c *Channel) connect(ctx context.Context) (*gosmtp.Client, error) {
	dial := c.o.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	raw, err := dial(dctx, "tcp", c.addr())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.addr(), err)
	}
	conn := boundConn(raw, c.o.Timeout)
	var cl *gosmtp.Client
	if c.o.StartTLS {
		tc := c.o.TLSConfig
		if tc == nil {
			tc = &tls.Config{}
		}
		tc = tc.Clone()
		if tc.ServerName == "" {
			tc.ServerName = c.o.Host
		}
		if tc.MinVersion == 0 {
			tc.MinVersion = tls.VersionTLS12
		}
		cl, err = gosmtp.NewClientStartTLS(conn, tc)
		if err != nil {
			conn.Close()
			if strings.Contains(err.Error(), "doesn't support STARTTLS") {
				return nil, fmt.Errorf("%s does not offer STARTTLS, and notify.smtp.starttls requires it", c.addr())
			}
			return nil, fmt.Errorf("%s: STARTTLS: %w", c.addr(), err)
		}
	} else {
		cl = gosmtp.NewClient(conn)
		if err := cl.Hello(c.localName()); err != nil {
			cl.Close()
			return nil, fmt.Errorf("%s: EHLO: %w", c.addr(), err)
		}
	}
	if c.o.Username != "" {
		_, secure := cl.TLSConnectionState()
		if !secure && !isLoopback(c.o.Host) {
			cl.Close()
			return nil, fmt.Errorf("refusing to send the SMTP password to %s without TLS; set notify.smtp.starttls: true", c.addr())
		}
		if c.o.Password == "" {
			cl.Close()
			return nil, errors.New("no SMTP password (set the variable notify.smtp.password_env names, or notify.smtp.password_ssm)")
		}
		if err := cl.Auth(sasl.NewPlainClient("", c.o.Username, c.o.Password)); err != nil {
			cl.Close()
			return nil, fmt.Errorf("%s: authenticate as %s: %w", c.addr(), c.o.Username, authError(err))
		}
	}
	return cl, nil
}

// authError is what of an AUTH failure may be shown: the reply's code
// and enhanced code, never its text, which a server may fill with the
// AUTH PLAIN line it got (the password, base64-encoded); a network error
// as it is; anything else (a malformed reply, which the client quotes) as
// a fixed text.
func authError(err error) error {
	var se *gosmtp.SMTPError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		code := strconv.Itoa(se.Code)
		if e := se.EnhancedCode; e != (gosmtp.EnhancedCode{}) && e != gosmtp.NoEnhancedCode {
			code += fmt.Sprintf(" %d.%d.%d", e[0], e[1], e[2])
		}
		return fmt.Errorf("the server answered %s (its text is not shown: it may repeat the credentials)", code)
	case errors.As(err, &ne):
		return err
	}
	return errors.New("the server's answer could not be read (it is not shown: it may repeat the credentials)")
}

// boundConn makes every wait on conn end within d: go-smtp sets its own
// deadlines (5 minutes a command, 12 for DATA) and clears them between
// steps (the greeting, STARTTLS), leaving the connection unbounded;
// here any deadline is at most d away, and a cleared one is d away.
func boundConn(conn net.Conn, d time.Duration) net.Conn {
	b := &deadlineConn{Conn: conn, d: d}
	_ = b.SetDeadline(time.Time{})
	return b
}

type deadlineConn struct {
	net.Conn
	d time.Duration
}

func (c *deadlineConn) bound(t time.Time) time.Time {
	if limit := time.Now().Add(c.d); t.IsZero() || t.After(limit) {
		return limit
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error     { return c.Conn.SetDeadline(c.bound(t)) }
func (c *deadlineConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.bound(t)) }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.bound(t))
}

func (c *Channel) localName() string {
	if c.o.LocalName != "" {
		return c.o.LocalName
	}
	return "localhost"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send implements notify.Channel. A failure drops the connection; the next
// Send opens a new one.
func (c *Channel) Send(ctx context.Context, m *notify.Message) error {
	raw, err := m.MIME()
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return fmt.Errorf("smtp: from %q: %w", m.From, err)
	}
	var to []string
	for _, a := range m.To {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return fmt.Errorf("smtp: to %q: %w", a, err)
		}
		to = append(to, addr.Address)
	}
	if len(to) == 0 {
		return fmt.Errorf("smtp: %s message %s has no recipient", m.Kind, m.ID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		cl, err := c.connect(ctx)
		if err != nil {
			return fmt.Errorf("smtp: %w", err)
		}
		c.client = cl
	} else if err := c.client.Reset(); err != nil {
		c.drop()
		cl, err := c.connect(ctx)
		if err != nil {
			return fmt.Errorf("smtp: %w", err)
		}
		c.client = cl
	}
	if err := c.client.SendMail(from.Address, to, bytes.NewReader(raw)); err != nil {
		c.drop()
		return fmt.Errorf("smtp: send %s to %v: %w", m.Kind, to, err)
	}
	return nil
}

func (c *Channel) drop() {
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
}

// Close ends the connection (QUIT).
func (c *Channel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		return nil
	}
	err := c.client.Quit()
	c.client.Close()
	c.client = nil
	return err
}
