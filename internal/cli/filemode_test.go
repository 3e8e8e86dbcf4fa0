package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOutputFilesFollowTheUmask: reports and other files written with
// --output (and config init's) get 0666 less the umask, like any file a
// command creates; they used to be forced to 0644, readable by every
// local user even under umask 077. Outputs replaced in place get the
// mode too.
func TestOutputFilesFollowTheUmask(t *testing.T) {
	report := writeReportFile(t)
	for _, umask := range []int{0o077, 0o027, 0o022, 0o002} {
		t.Run(fmt.Sprintf("%03o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			t.Cleanup(func() { syscall.Umask(old) })
			dir := t.TempDir()
			want := os.FileMode(0o666 &^ umask)
			for _, tt := range []struct {
				file string
				args []string
			}{
				{"scan.json", []string{"scan", "--credential-report", report, "--as-of", "2026-11-23"}},
				{"scan.html", []string{"scan", "--credential-report", report, "--as-of", "2026-11-23"}},
				{"forecast.ics", []string{"forecast", "--credential-report", report, "--as-of", "2026-11-23"}},
				{"keywarden.yml", []string{"config", "init", "--force"}},
			} {
				path := filepath.Join(dir, tt.file)
				for range 2 { // created, then replaced
					f, _, errOut := testFactory(false)
					if code := Main(context.Background(), f, append(tt.args, "-o", path)); code != 0 {
						t.Fatalf("%v exit %d: %s", tt.args, code, errOut)
					}
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s mode = %v; want %v", tt.file, got, want)
				}
			}
		})
	}
}
