// Package accounts decides which AWS accounts a scan covers and how each is
// reached: the caller's own account (the default), an explicit list of
// {id, role_arn, external_id}, or every ACTIVE account of the caller's AWS
// Organization (organizations:ListAccounts, or the accounts under chosen
// organizational units, recursively), less the excluded ones. An account
// other than the caller's is reached through sts:AssumeRole, with the
// credentials cached and refreshed by the SDK; Check proves them before
// anything else is read.
package accounts
