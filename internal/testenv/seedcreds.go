package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"sync"
	"time"
)

// certKey is the RSA key that signs the seed's certificates: generating one
// per certificate would cost more than the seeding; each certificate still
// differs (serial number, subject).
var certKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// selfSignedCertificatePEM returns a new self-signed X.509 certificate for
// user, PEM-encoded, as UploadSigningCertificate takes it.
func selfSignedCertificatePEM(user string) (string, error) {
	key, err := certKey()
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: user, Organization: []string{"keywarden test"}},
		NotBefore:    now.AddDate(-30, 0, 0), // valid at any seeded date
		NotAfter:     now.AddDate(30, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// sshRSAPublicKey returns a new 2048-bit RSA public key in OpenSSH's
// authorized_keys format ("ssh-rsa AAAA... comment"), as UploadSSHPublicKey
// takes it. IAM rejects a key it already holds, so each is generated anew.
func sshRSAPublicKey(comment string) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	// RFC 4253 6.6: string "ssh-rsa", mpint e, mpint n.
	var b []byte
	str := func(p []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	mpint := func(n *big.Int) {
		p := n.Bytes()
		if len(p) > 0 && p[0]&0x80 != 0 {
			p = append([]byte{0}, p...) // positive
		}
		str(p)
	}
	str([]byte("ssh-rsa"))
	mpint(big.NewInt(int64(key.PublicKey.E)))
	mpint(key.PublicKey.N)
	return "ssh-rsa " + base64.StdEncoding.EncodeToString(b) + " " + comment, nil
}
