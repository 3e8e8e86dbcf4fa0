output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.keywarden.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.keywarden.arn
}

output "role_name" {
  description = "Name of the function's execution role (the runner role member accounts trust)."
  value       = aws_iam_role.runner.name
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.runner.arn
}

output "keywarden_policy_json" {
  description = "The execution role's keywarden policy: compare it with `keywarden iam-policy` for the config."
  value       = module.policy.json
}

output "deployment_policy_json" {
  description = "The execution role's deployment policy: its log group, its dead-letter queue, the table's KMS key."
  value       = data.aws_iam_policy_document.deployment.json
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule."
  value       = aws_scheduler_schedule.keywarden.arn
}

output "scheduler_role_arn" {
  description = "ARN of the role the schedule invokes the function with."
  value       = aws_iam_role.scheduler.arn
}

output "state_table_name" {
  description = "Name of the DynamoDB state table."
  value       = aws_dynamodb_table.state.name
}

output "state_table_arn" {
  description = "ARN of the DynamoDB state table."
  value       = aws_dynamodb_table.state.arn
}

output "state_url" {
  description = "The state.url the config must have: dynamodb://TABLE."
  value       = "dynamodb://${aws_dynamodb_table.state.name}"
}

output "config_parameter_name" {
  description = "The SSM parameter the function reads its config from (null when it reads config_s3_uri)."
  value       = var.config_s3_uri == null ? var.config_parameter_name : null
}

output "stop_parameter_arn" {
  description = "ARN of the emergency stop parameter the module created (null when it created none): give whoever may stop keywarden ssm:PutParameter on it."
  value       = var.stop_parameter != "" && var.create_stop_parameter ? aws_ssm_parameter.stop[0].arn : null
}

output "digest_topic_arn" {
  description = "ARN of the digest topic (created or given); put it in notify.admins.sns_topic_arn. Empty: none."
  value       = local.topic_arn
}

output "ses_identity_dkim_tokens" {
  description = "DKIM tokens of the created SES domain identity: publish a CNAME TOKEN._domainkey.DOMAIN → TOKEN.dkim.amazonses.com for each."
  value       = var.ses_identity == "" ? [] : aws_sesv2_email_identity.sender[0].dkim_signing_attributes[0].tokens
}

output "dead_letter_queue_arn" {
  description = "ARN of the SQS queue that receives the events of runs that failed after Lambda's retries."
  value       = aws_sqs_queue.dlq.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "log_group_name" {
  description = "The function's CloudWatch log group (JSON lines)."
  value       = aws_cloudwatch_log_group.lambda.name
}
