package testenv

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// replayMode is what a Proxy does with moto's answers.
type replayMode int

const (
	// live: every request not answered by a fault goes to moto, and
	// nothing is kept.
	live replayMode = iota
	// recording: as live, and moto's answers are kept by request
	// identity.
	recording
	// replaying: requests with a kept answer get it without reaching
	// moto; the others go to moto and are counted as misses.
	replaying
)

// answer is one kept moto answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// write sends the answer, as moto sent it, with its length.
func (a *answer) write(w http.ResponseWriter) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// unkeptHeaders are answer headers not replayed: the ones about the
// connection and transfer, which the proxy's server sets for the answer it
// sends, and Date, which would be stale (the SDK estimates clock skew from
// it).
var unkeptHeaders = []string{"Date", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Trailer", "Upgrade", "Proxy-Connection"}

func keptAnswer(status int, header http.Header, body []byte) *answer {
	h := header.Clone()
	for _, k := range unkeptHeaders {
		h.Del(k)
	}
	return &answer{status: status, header: h, body: bytes.Clone(body)}
}

// Record makes the proxy keep moto's answer (status, headers, body) to
// every request it forwards, by the request's identity: the account it
// acts in (Op.Account; the signing key when the account is not known),
// service, operation, and its parameters without the volatile parts (the
// signature, its date and token, which travel in headers or in the
// X-Amz-* query parameters: for the query protocol the sorted form or
// query parameters, for JSON the body with its keys sorted, for REST the
// method, path, sorted query and body). When an identity is answered more
// than once, the latest answer is kept: the state moto settled in (a
// GenerateCredentialReport STARTED, then COMPLETE, keeps COMPLETE).
// Answers the proxy made itself (faults) and moto's 5xx answers are not
// kept. Answers kept earlier stay.
func (p *Proxy) Record() { p.setMode(recording) }

// Replay makes the proxy answer every request whose identity was recorded
// (see Record) with the kept answer, after the proxy's delay and faults,
// without forwarding it to moto: moto's own time no longer counts, only
// the proxy's delay does. Requests with no kept answer are forwarded to
// moto and listed by Missed. A replayed sts:AssumeRole answer gives the
// recorded temporary credentials, and the proxy attributes their
// requests to the role's account as it does live. Those credentials
// expire when the recorded ones did (moto: an hour after the AssumeRole),
// so replay soon after recording.
func (p *Proxy) Replay() { p.setMode(replaying) }

// Live stops recording and replaying: every request goes to moto again.
// The kept answers stay, for a later Replay.
func (p *Proxy) Live() { p.setMode(live) }

func (p *Proxy) setMode(m replayMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if p.answers == nil {
		p.answers = map[string]*answer{}
	}
}

// Recorded is how many distinct request identities have a kept answer.
func (p *Proxy) Recorded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.answers)
}

// Missed returns the requests that, while replaying, had no kept answer
// and went to moto, since the last Reset.
func (p *Proxy) Missed() []Op {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Op(nil), p.missed...)
}

// keep stores moto's answer to the request of identity key.
func (p *Proxy) keep(key string, a *answer) {
	if a.status >= 500 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[key] = a
}

// volatileParams are query parameters that change from one signing of
// the same request to the next (SigV4 in the query string).
var volatileParams = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Security-Token", "X-Amz-Signature", "X-Amz-SignedHeaders"}

// identity is the request's replay key (see Record).
func identity(op Op) string {
	var s strings.Builder
	if op.Account != "" {
		s.WriteString(op.Account)
	} else {
		s.WriteString("key:" + op.AccessKeyID)
	}
	s.WriteString("\x00" + op.Service + "\x00" + op.Operation + "\x00")
	if op.Params != nil {
		s.WriteString(stable(op.Params))
		return s.String()
	}
	// JSON and REST protocols: for REST, the method, path and query name
	// the operation's target (JSON requests are all POST /).
	s.WriteString(op.method + " " + op.path + "?" + stable(op.query) + "\x00")
	s.Write(canonicalJSON(op.Body))
	return s.String()
}

// stable is v without the volatile parameters, sorted by key.
func stable(v url.Values) string {
	if v == nil {
		return ""
	}
	c := url.Values{}
	for k, vs := range v {
		c[k] = vs
	}
	for _, k := range volatileParams {
		c.Del(k)
	}
	return c.Encode()
}

// canonicalJSON is body with its object keys sorted, so that two
// encodings of the same request are one identity; body itself when it is
// not JSON.
func canonicalJSON(body []byte) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber() // numbers as written, not rounded to float64
	if len(body) == 0 || d.Decode(&v) != nil || d.More() {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}
