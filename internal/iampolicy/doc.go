// Package iampolicy derives, from a configuration, the least-privilege IAM
// policy keywarden needs: read-only IAM for a scan, the write actions only
// for the remediation its rules can take, and the exact notify, state and
// cross-account resources it names. `keywarden iam-policy` prints it, and
// the Terraform module and CloudFormation templates grant the same.
package iampolicy
