package run

import (
	"context"
	"log/slog"

	"github.com/keywarden/keywarden/internal/awsapi"
)

// callerKey is the access key the caller's own credentials sign with
// ("" when unknown). The caller holds s.mu.
func (s *accountSet) callerKey(ctx context.Context, log *slog.Logger) string {
	if s.base == nil || s.base.Credentials == nil {
		return ""
	}
	creds, err := s.base.Credentials.Retrieve(ctx)
	if err != nil {
		log.Warn("cannot tell which access key keywarden runs with", "error", err)
		return ""
	}
	return creds.AccessKeyID
}

// sourceKeys lists the access keys behind the caller's credentials — the
// source credentials of each role the SDK's shared config assumes for it
// (a role_arn with source_profile or credential_source), the source
// user's key among them — with the role each assumes: never acted on, in
// any account. A source that cannot be retrieved again (a credential
// process that fails now) is logged, and its key is not known.
func (s *accountSet) sourceKeys(ctx context.Context, log *slog.Logger) map[string]string {
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if base == nil {
		return nil
	}
	keys, err := awsapi.ChainOf(*base).SourceKeys(ctx)
	if err != nil {
		log.Warn("cannot tell every access key behind keywarden's credentials", "error", err)
	}
	for k, role := range keys {
		log.Debug("access key behind keywarden's credentials: never acted on", "key_id", k, "assumes", role)
	}
	return keys
}
