// Package lambda runs keywarden as an AWS Lambda function: the same binary,
// started by the Lambda runtime (AWS_LAMBDA_RUNTIME_API), serves Handler.
// The config comes from KEYWARDEN_CONFIG (inline YAML), KEYWARDEN_CONFIG_SSM
// (a parameter) or KEYWARDEN_CONFIG_S3 (s3://BUCKET/KEY), loaded once per
// container by the first invocation that can (one that fails to load it
// fails, and the next tries again); each invocation — an EventBridge Scheduler event with optional
// overrides (dry_run, apply, as_of, accounts) — is one `keywarden run`,
// logged as JSON, stopped before the function's deadline, and answered with
// a summary that lists what the deadline cut short.
package lambda
