package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
)

// checkTemplates reads the message templates file's config names (paths
// relative to the file) and renders every template against sample data.
// Each problem reads FILE:LINE: notify.templates.KEY: … with the line of
// the key in the config file, and the template's own file and line in the
// message (template: mail/user.html:3: …).
func checkTemplates(file string, cfg *config.Config) error {
	err := notify.CheckTemplates(cfg.Notify.Templates, filepath.Dir(file))
	if err == nil {
		return nil
	}
	data, _ := os.ReadFile(file)
	var errs []error
	for _, e := range unjoin(err) {
		var te *notify.TemplateError
		if !errors.As(e, &te) {
			errs = append(errs, e)
			continue
		}
		if line := config.KeyLine(data, te.Key); line > 0 && te.File != "" {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, line, te))
		} else {
			errs = append(errs, fmt.Errorf("%s: %w", file, te))
		}
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
