package testenv

import "testing"

// SelfSignedCertificate is a PEM self-signed X.509 certificate for cn,
// as a user uploads one with UploadSigningCertificate (the seed's).
func SelfSignedCertificate(t testing.TB, cn string) string {
	t.Helper()
	pem, err := selfSignedCertificatePEM(cn)
	if err != nil {
		t.Fatal(err)
	}
	return pem
}
