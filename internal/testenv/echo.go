package testenv

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Echo is a loopback server whose error answers repeat the secret a
// client sent it, as some services, misconfigured servers and proxies do:
// a test checks that keywarden reports the failure without the secret.
type Echo struct {
	// Port is the server's port on 127.0.0.1.
	Port int
	// URL is, for EchoingWebhook, the URL to post to: its path is the
	// secret the answers repeat.
	URL string

	mu       sync.Mutex
	requests int
}

// Requests counts the requests the server has refused: webhook posts,
// SMTP AUTH commands.
func (e *Echo) Requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests
}

func (e *Echo) count() {
	e.mu.Lock()
	e.requests++
	e.mu.Unlock()
}

// EchoingWebhook is an HTTP server that refuses every request with a 400
// whose status line and body repeat the request's path, which ends in
// secret.
func EchoingWebhook(t testing.TB, secret string) *Echo {
	t.Helper()
	e := &Echo{}
	e.Port = serveTCP(t, func(c net.Conn) {
		// The whole request is read before the answer, as a server does:
		// answering while the client still writes its body can reach the
		// client as a broken pipe instead of the 400.
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		e.count()
		path := req.URL.Path
		body := fmt.Sprintf(`{"error": "no such hook: %s"}`, path)
		fmt.Fprintf(c, "HTTP/1.1 400 Bad hook %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			path, len(body), body)
	})
	e.URL = fmt.Sprintf("http://127.0.0.1:%d/hook/%s", e.Port, secret)
	return e
}

// EchoingSMTP is an SMTP server that answers AUTH with a 535 reply that
// repeats the client's AUTH PLAIN line and the credentials it decodes.
func EchoingSMTP(t testing.TB) *Echo {
	t.Helper()
	e := &Echo{}
	e.Port = serveTCP(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		fmt.Fprint(c, "220 fake ESMTP\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch strings.ToUpper(strings.Fields(line + " x")[0]) {
			case "EHLO", "HELO":
				fmt.Fprint(c, "250-fake\r\n250 AUTH PLAIN\r\n")
			case "AUTH":
				e.count()
				f := strings.Fields(line)
				raw, _ := base64.StdEncoding.DecodeString(f[len(f)-1])
				fmt.Fprintf(c, "535 5.7.8 Authentication failed: %s (%s)\r\n", line, strings.ReplaceAll(string(raw), "\x00", " "))
			case "QUIT":
				fmt.Fprint(c, "221 bye\r\n")
				return
			default:
				fmt.Fprint(c, "250 ok\r\n")
			}
		}
	})
	return e
}

// serveTCP serves each connection to a loopback listener with handle,
// until the test ends, and returns the listener's port.
func serveTCP(t testing.TB, handle func(net.Conn)) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}
