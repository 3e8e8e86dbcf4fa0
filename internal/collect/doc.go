// Package collect reads one AWS account's IAM users and credentials over the
// IAM API into an inventory.Snapshot, at the fewest calls: the credential
// report for every password and key slot, GetAccountAuthorizationDetails
// pages for tags, groups and paths, the password policy and the alias, and
// ListAccessKeys only for the users whose key IDs are needed.
package collect
