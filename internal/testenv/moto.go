package testenv

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AccountID is the account moto serves by default (and the one its IAM users
// live in).
const AccountID = "123456789012"

// Region is the region the harness points clients at.
const Region = "us-east-1"

// TestCredential is the access key ID and secret the harness signs with by
// default. moto accepts any credentials.
const TestCredential = "testing"

// startTimeout bounds how long moto may take to answer after it starts.
const startTimeout = 60 * time.Second

// installHint says what a developer or CI needs for the moto-backed tests.
const installHint = "install moto's server (pip install 'moto[server]') and libfaketime (apt-get install faketime)"

//go:embed moto_server.py
var motoServerScript []byte

// MotoServer is a moto server shared by the tests of one package, running
// under libfaketime so that tests can create credentials in the past.
type MotoServer struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string

	cmd       *exec.Cmd
	dir       string // temporary directory: script, clock file, log
	clockFile string
	logFile   string
	exited    chan struct{} // closed when the process has exited
	client    *http.Client
}

// shared is the package's one server, started on first use.
var shared struct {
	mu   sync.Mutex
	srv  *MotoServer
	skip string // non-empty: moto or libfaketime is missing, and why
	err  error  // the server could not be started
}

// Main wraps testing.M for packages that use moto: it runs the tests, stops
// the shared server and removes its files, and returns the exit code for
// os.Exit. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// A TestMain with its own files to remove does so before os.Exit, which
// runs no deferred calls.
func Main(m *testing.M) int {
	code := m.Run()
	stopShared()
	return code
}

// MainWithBinary is Main for the packages that test the keywarden binary:
// it builds the Go package pkg (such as "." or "../cmd/keywarden") into a
// temporary directory, sets *binary to the executable's path, runs the
// tests with Main and removes the directory. A failed build is printed and
// fails the package.
func MainWithBinary(m *testing.M, pkg string, binary *string) int {
	dir, err := os.MkdirTemp("", "keywarden-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*binary = filepath.Join(dir, "keywarden")
	if out, err := exec.Command("go", "build", "-o", *binary, pkg).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
		return 1
	}
	return Main(m)
}

// Moto returns the package's shared moto server, starting it on first use
// (on a free 127.0.0.1 port, under libfaketime), reset for this test
// (POST /moto-api/reset) and with its clock back at +0.
//
// It skips the test when python3 with moto's server or libfaketime is
// missing, unless the environment variable CI is set: then the test fails
// and says what to install. Tests that call Moto must not run in parallel
// with each other: they share one server.
func Moto(t testing.TB) *MotoServer {
	t.Helper()
	m := sharedServer(t)
	m.SetClock(t, "+0")
	if err := m.post("/moto-api/reset", nil); err != nil {
		t.Fatalf("reset moto: %v\n%s", err, m.logTail())
	}
	t.Cleanup(func() {
		// Leave the clock at +0 for whatever runs next; the server itself
		// is stopped by Main.
		_ = m.writeClock("+0")
	})
	return m
}

func sharedServer(t testing.TB) *MotoServer {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.skip == "" && shared.err == nil {
		shared.srv, shared.skip, shared.err = start()
	}
	switch {
	case shared.skip != "" && os.Getenv("CI") != "":
		t.Fatalf("moto-backed test cannot run: %s; %s", shared.skip, installHint)
	case shared.skip != "":
		t.Skipf("moto-backed test skipped: %s (%s; set CI=1 to make this a failure)", shared.skip, installHint)
	case shared.err != nil:
		t.Fatalf("start moto: %v", shared.err)
	}
	return shared.srv
}

func stopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.stop()
		shared.srv = nil
	}
}

// findLibfaketime returns the path of libfaketime's multi-threaded preload
// library.
func findLibfaketime() (string, error) {
	candidates := []string{"/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"}
	for _, pattern := range []string{"/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1", "/usr/local/lib/faketime/libfaketimeMT.so.1"} {
		matches, _ := filepath.Glob(pattern)
		candidates = append(candidates, matches...)
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", errors.New("libfaketimeMT.so.1 not found under /usr/lib/*/faketime/")
}

// start launches moto. A non-empty skip means a component is missing.
func start() (srv *MotoServer, skip string, err error) {
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, "python3 not found", nil
	}
	if out, err := exec.Command(python, "-c", "import moto.server").CombinedOutput(); err != nil {
		return nil, fmt.Sprintf("python3 cannot import moto.server (%s)", lastLine(out)), nil
	}
	lib, err := findLibfaketime()
	if err != nil {
		return nil, err.Error(), nil
	}

	dir, err := os.MkdirTemp("", "keywarden-moto-")
	if err != nil {
		return nil, "", err
	}
	m := &MotoServer{
		dir:       dir,
		clockFile: filepath.Join(dir, "faketime"),
		logFile:   filepath.Join(dir, "moto.log"),
		exited:    make(chan struct{}),
		client:    &http.Client{Timeout: 30 * time.Second},
	}
	script := filepath.Join(dir, "moto_server.py")
	if err := os.WriteFile(script, motoServerScript, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	if err := m.writeClock("+0"); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	m.URL = "http://127.0.0.1:" + strconv.Itoa(port)

	logf, err := os.Create(m.logFile)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	defer logf.Close()
	cmd := exec.Command(python, script, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(),
		"LD_PRELOAD="+lib,
		"FAKETIME_TIMESTAMP_FILE="+m.clockFile,
		"FAKETIME_NO_CACHE=1",
		// Not FAKETIME_DONT_FAKE_MONOTONIC=1: with it, libfaketime 0.9.10
		// stalls concurrent requests for up to seconds each (Python's
		// GIL waits on a monotonic condition variable).
		"PYTHONUNBUFFERED=1",
	)
	// Its own process group, so stop can kill moto and anything it
	// started; and killed with the test binary should Main not run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("run %s: %w", python, err)
	}
	m.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(m.exited)
	}()

	if err := m.waitReady(); err != nil {
		log := m.logTail()
		m.stop()
		return nil, "", fmt.Errorf("moto server on %s: %w\nmoto log:\n%s", m.URL, err, log)
	}
	return m, "", nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (m *MotoServer) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		resp, err := m.client.Get(m.URL + "/moto-api/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /moto-api/: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", startTimeout, err)
		}
		select {
		case <-m.exited:
			return fmt.Errorf("exited before it was ready (%s)", m.cmd.ProcessState)
		case <-time.After(delay):
		}
	}
}

// stop kills the server's process group and removes its files.
func (m *MotoServer) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		pgid := m.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-m.exited
		}
	}
	os.RemoveAll(m.dir)
}

// logTail returns the end of moto's log, for failure messages.
func (m *MotoServer) logTail() string {
	b, err := os.ReadFile(m.logFile)
	if err != nil {
		return fmt.Sprintf("(no moto log: %v)", err)
	}
	const max = 8 << 10
	if len(b) > max {
		b = append([]byte("…"), b[len(b)-max:]...)
	}
	return string(b)
}

// SetClock shifts moto's clock by offset, a libfaketime relative offset such
// as "-400d", "-36h" or "+0" (see faketime(1)). It applies to the next
// request: libfaketime rereads the file on every clock read
// (FAKETIME_NO_CACHE=1).
func (m *MotoServer) SetClock(t testing.TB, offset string) {
	t.Helper()
	if err := m.writeClock(offset); err != nil {
		t.Fatalf("set moto clock to %s: %v", offset, err)
	}
}

// writeClock replaces the clock file atomically, so that libfaketime never
// reads a half-written offset.
func (m *MotoServer) writeClock(offset string) error {
	if offset == "" || !strings.ContainsAny(offset[:1], "+-@") {
		return fmt.Errorf("offset %q: want +N or -N with an optional unit (s, m, h, d, y)", offset)
	}
	tmp := m.clockFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(offset+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, m.clockFile)
}

// DaysAgo is the libfaketime offset for n days in the past ("-nd"), "+0" for
// n <= 0.
func DaysAgo(n int) string {
	if n <= 0 {
		return "+0"
	}
	return "-" + strconv.Itoa(n) + "d"
}

// Env is the environment for a child process (the keywarden binary) that
// should talk to this server and nothing else. Append it to os.Environ():
// later entries win, and it blanks the profile and role settings a
// developer's shell may carry.
func (m *MotoServer) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + m.URL,
		"AWS_ACCESS_KEY_ID=" + TestCredential,
		"AWS_SECRET_ACCESS_KEY=" + TestCredential,
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_PROFILE=",
		"AWS_DEFAULT_PROFILE=",
		"AWS_ROLE_ARN=",
		"AWS_WEB_IDENTITY_TOKEN_FILE=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// Config is an SDK configuration pointed at the server, signing with the
// static credentials "testing". It reads nothing from the environment or
// shared config files.
func (m *MotoServer) Config(t testing.TB) aws.Config {
	t.Helper()
	return m.ConfigWithKey(t, TestCredential, TestCredential)
}

// ConfigWithKey is like Config but signs with the given access key, so that
// moto records the key as used (at moto's possibly shifted clock).
func (m *MotoServer) ConfigWithKey(t testing.TB, keyID, secret string) aws.Config {
	t.Helper()
	return aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		BaseEndpoint:     aws.String(m.URL),
		RetryMaxAttempts: 3,
	}
}

// Data returns moto's recorded state, GET /moto-api/data.json (sent SES mail
// and the like).
func (m *MotoServer) Data(t testing.TB) map[string]any {
	t.Helper()
	resp, err := m.client.Get(m.URL + "/moto-api/data.json")
	if err != nil {
		t.Fatalf("get moto data: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read moto data: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get moto data: %s: %s", resp.Status, body)
	}
	var data map[string]any
	if err := json.Unmarshal(body, &data); err != nil {
		t.Fatalf("decode moto data: %v", err)
	}
	return data
}

// MarkPasswordUsed sets user's password_last_used to moto's current
// (possibly shifted) time. moto has no API for this; the harness's wrapper
// around moto.server adds a test-only endpoint.
func (m *MotoServer) MarkPasswordUsed(t testing.TB, user string) {
	t.Helper()
	if err := m.markPasswordUsed(AccountID, user); err != nil {
		t.Fatalf("mark password of %s used: %v", user, err)
	}
}

func (m *MotoServer) markPasswordUsed(account, user string) error {
	return m.post("/_keywarden/iam/password-used?"+url.Values{"user": {user}, "account": {account}}.Encode(), nil)
}

// ExpireCredentialReport makes the default account's credential report, if
// it has one, expired (as IAM's are four hours after they were generated),
// and makes IAM take build to build each of the account's reports from now
// on (0: at once, as plain moto does), until the next Moto reset. So the
// next scan finds its report to be generated, as the first scan of the day
// does: GenerateCredentialReport answers STARTED, then INPROGRESS while the
// report is built; GetCredentialReport answers ReportExpired before it
// starts and ReportInProgress while it is built. moto has no API for this;
// the harness's wrapper around moto.server adds a test-only endpoint.
func (m *MotoServer) ExpireCredentialReport(t testing.TB, build time.Duration) {
	t.Helper()
	q := url.Values{"build": {strconv.FormatFloat(build.Seconds(), 'f', -1, 64)}, "expire": {"true"}}
	if err := m.post("/_keywarden/iam/credential-report?"+q.Encode(), nil); err != nil {
		t.Fatalf("expire the credential report: %v", err)
	}
}

func (m *MotoServer) post(path string, body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, m.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// CPUTime is the processor time (user and system, all threads) moto's
// process has used so far, from /proc/PID/stat; 0 where that cannot be
// read. The difference over a scan is moto's own work in it.
func (m *MotoServer) CPUTime() time.Duration {
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	// Clock ticks of USER_HZ, 100 a second on Linux.
	return time.Duration(utime+stime) * (time.Second / 100)
}

// Root is the account's root user as the test server shows it in the
// credential report's first row and in GetAccountSummary (the wrapper's
// POST /_keywarden/iam/root; see moto_server.py). The zero Root is the
// server's default: MFA active, a password never used, no access key, no
// signing certificate, the account created 1000 days ago. Days count back
// from moto's "now" (under SetClock, the shifted clock).
type Root struct {
	NoMFA           bool // mfa_active false, AccountMFAEnabled 0
	PasswordRemoved bool // password_enabled false (root credentials removed)
	// PasswordUsed is how many days ago root's password was last used
	// (Used(n)); nil: never (no_information).
	PasswordUsed *int
	// CreatedDaysAgo is the account's (root's) age in days; 0: 1000.
	CreatedDaysAgo int
	// Key1 is root's access key 1: RootActive, RootInactive, or ""
	// (none); KeyAgeDays its age; KeyUsed how many days ago it was last
	// used (nil: never). AccountAccessKeysPresent is 1 with a key.
	Key1       string
	KeyAgeDays int
	KeyUsed    *int
	// Cert1 is root's signing certificate 1: RootActive, RootInactive, or
	// "" (none); CertAgeDays its age. AccountSigningCertificatesPresent is
	// 1 with a certificate.
	Cert1       string
	CertAgeDays int
	// SummaryOnly changes GetAccountSummary only: the credential report's
	// root row stays as it was (a report generated before the change).
	SummaryOnly bool
}

// The states of root's access key 1 and signing certificate 1 (Root.Key1,
// Root.Cert1).
const (
	RootActive   = "active"
	RootInactive = "inactive"
)

// Used is a Root's PasswordUsed or KeyUsed: n days ago.
func Used(n int) *int { return &n }

// SetRoot replaces the root user of account (AccountID when empty) with r,
// in the credential report (unless r.SummaryOnly) and in GetAccountSummary,
// until the next Moto reset. moto has no root user; the harness's wrapper
// around moto.server adds one and a test-only endpoint to set it.
func (m *MotoServer) SetRoot(t testing.TB, account string, r Root) {
	t.Helper()
	if err := m.setRoot(account, r); err != nil {
		t.Fatalf("set the root user of account %s: %v", cmp.Or(account, AccountID), err)
	}
}

func (m *MotoServer) setRoot(account string, r Root) error {
	q := url.Values{"account": {cmp.Or(account, AccountID)}}
	if r.NoMFA {
		q.Set("mfa", "false")
	}
	if r.PasswordRemoved {
		q.Set("password", "removed")
	}
	if r.PasswordUsed != nil {
		q.Set("password_used", strconv.Itoa(*r.PasswordUsed))
	}
	if r.CreatedDaysAgo != 0 {
		q.Set("created", strconv.Itoa(r.CreatedDaysAgo))
	}
	if r.Key1 != "" {
		q.Set("key1", r.Key1)
		q.Set("key1_age", strconv.Itoa(r.KeyAgeDays))
		if r.KeyUsed != nil {
			q.Set("key1_used", strconv.Itoa(*r.KeyUsed))
		}
	}
	if r.Cert1 != "" {
		q.Set("cert1", r.Cert1)
		q.Set("cert1_age", strconv.Itoa(r.CertAgeDays))
	}
	if r.SummaryOnly {
		q.Set("summary_only", "true")
	}
	return m.post("/_keywarden/iam/root?"+q.Encode(), nil)
}
