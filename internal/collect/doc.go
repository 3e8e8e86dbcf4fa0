// Package collect reads one AWS account's IAM users and credentials over the
// IAM API into an inventory.Snapshot, at the fewest calls: the credential
// report for every password, access key and signing certificate slot,
// GetAccountAuthorizationDetails pages for tags, groups and paths, the
// password policy, the alias, the account summary, one listing of every
// user's service-specific credentials, SSH public keys only for the users
// the opt-in rule selects, and ListAccessKeys and ListSigningCertificates
// only for the users whose credential IDs are needed.
package collect
