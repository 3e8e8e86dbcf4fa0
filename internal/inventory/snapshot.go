package inventory

import "time"

// RootUserName is the name the credential report gives the account's root user.
const RootUserName = "<root_account>"

// Snapshot is everything keywarden knows about one account's credentials at
// one moment. Times are UTC; a zero time means "never" or "not applicable".
type Snapshot struct {
	AccountID    string
	AccountAlias string
	// CallerARN is the identity that read the account
	// (sts:GetCallerIdentity): remediation never acts on its own key.
	CallerARN string
	// ReportGeneratedAt is when AWS generated the credential report.
	ReportGeneratedAt time.Time
	// Users are the IAM users, sorted by name. The root user is not among
	// them; it is in Root.
	Users []User
	// Root is the root user's row of the credential report, or nil when the
	// report has none (some emulators omit it).
	Root *User
	// PasswordPolicy is the account password policy, or nil when the account
	// has none (or it is unknown, as in offline mode; see PasswordPolicyKnown).
	PasswordPolicy *PasswordPolicy
	// PasswordPolicyKnown is false when the password policy was not read
	// (offline mode), so evaluation falls back to the configured max_age.
	PasswordPolicyKnown bool

	// ServiceCredentialsRead is true when the account's service-specific
	// credentials were listed (ListServiceSpecificCredentials, AllUsers):
	// every user's ServiceCredentials is then complete. False offline: no
	// rule about them applies.
	ServiceCredentialsRead bool
	// Summary is the account summary (GetAccountSummary), read live: the
	// credential report can be up to four hours old. nil offline.
	Summary *AccountSummary
	// SSHKeyCalls is the number of ListSSHPublicKeys calls the scan made
	// (one per user the opt-in ssh_key_age rule selects).
	SSHKeyCalls int
}

// AccountSummary is the part of GetAccountSummary keywarden uses: the root
// user's credentials as IAM sees them now.
type AccountSummary struct {
	RootMFAEnabled          bool // AccountMFAEnabled
	RootAccessKeysPresent   bool // AccountAccessKeysPresent
	RootSigningCertsPresent bool // AccountSigningCertificatesPresent
}

// User is one IAM user: the credential report's row joined with the user's
// tags, groups and path from GetAccountAuthorizationDetails.
type User struct {
	Name      string
	ARN       string
	Path      string // "/" when unknown
	CreatedAt time.Time
	Tags      map[string]string
	Groups    []string

	// PasswordEnabled reports whether the user has a console password. The
	// password dates below are meaningful only when it is true.
	PasswordEnabled     bool
	PasswordLastUsed    time.Time // zero: never used (or no information)
	PasswordLastChanged time.Time
	// PasswordNextRotation is when the account policy makes the password
	// expire, when the report says so (zero otherwise).
	PasswordNextRotation time.Time
	MFAActive            bool

	// AccessKeys are the report's access key slots that hold a key (at most
	// two), in slot order.
	AccessKeys []AccessKey
	// SigningCerts are the report's X.509 signing certificate slots
	// (cert_1_*, cert_2_*) that hold a certificate, in slot order.
	SigningCerts []SigningCert
	// ServiceCredentials are the user's service-specific credentials
	// (CodeCommit, Keyspaces, Bedrock API keys), sorted by service then
	// creation; complete only when Snapshot.ServiceCredentialsRead.
	ServiceCredentials []ServiceCredential
	// SSHKeys are the user's SSH public keys (CodeCommit); read only for
	// the users the opt-in ssh_key_age rule selects (SSHKeysRead).
	SSHKeys     []SSHKey
	SSHKeysRead bool
}

// SigningCert is one signing certificate slot of the credential report.
type SigningCert struct {
	Slot int // 1 or 2
	// ID is the certificate ID. The credential report does not carry it;
	// it is resolved with ListSigningCertificates only for certificates
	// that have a finding.
	ID        string
	Active    bool
	CreatedAt time.Time // the report's cert_N_last_rotated (upload date)
}

// Service-specific credential statuses (IAM's statusType plus Expired).
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
	StatusExpired  = "Expired"
)

// ServiceCredential is one service-specific credential
// (ListServiceSpecificCredentials).
type ServiceCredential struct {
	ID              string // ServiceSpecificCredentialId
	ServiceName     string // e.g. codecommit.amazonaws.com, bedrock.amazonaws.com
	ServiceUserName string // the name the service knows the user by
	Status          string // Active, Inactive or Expired
	CreatedAt       time.Time
	// ExpiresAt is when the credential expires (Bedrock API keys may have
	// one); zero: it never expires.
	ExpiresAt time.Time
}

// SSHKey is one SSH public key of a user (ListSSHPublicKeys).
type SSHKey struct {
	ID         string // SSHPublicKeyId
	Active     bool
	UploadedAt time.Time
}

// AccessKey is one access key slot of the credential report.
type AccessKey struct {
	Slot int // 1 or 2
	// ID is the access key ID. The credential report does not carry it; it is
	// resolved with ListAccessKeys only for keys that have a finding.
	ID              string
	Active          bool
	CreatedAt       time.Time // the report's access_key_N_last_rotated
	LastUsedAt      time.Time // zero: never used
	LastUsedRegion  string
	LastUsedService string
}

// PasswordPolicy is the part of the account password policy keywarden uses.
type PasswordPolicy struct {
	// MaxPasswordAge is the number of days a password is valid; 0 means
	// passwords never expire.
	MaxPasswordAge int
	HardExpiry     bool
	// MinimumLength is MinimumPasswordLength (IAM's default, 8, when the
	// policy does not set it).
	MinimumLength int
	// ReusePrevention is PasswordReusePrevention: how many previous
	// passwords cannot be reused (0: not set).
	ReusePrevention int
}

// IsRoot reports whether u is the account's root user.
func (u *User) IsRoot() bool { return u.Name == RootUserName }
