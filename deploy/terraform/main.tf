# keywarden as a scheduled AWS Lambda function: the function and its
# execution role, an EventBridge Scheduler schedule, the DynamoDB state
# table, the config as an SSM parameter, a log group, a dead-letter queue,
# and optionally an SNS topic for the admin digest, an SES identity and the
# emergency stop parameter.
#
# The execution role has two inline policies:
#   keywarden   — exactly what `keywarden iam-policy` gives for the
#                 equivalent config, computed by ./modules/policy;
#   deployment  — what this deployment itself needs: writing to its log
#                 group, sending failed events to its dead-letter queue, and
#                 (with state_table_kms_key_arn) the table's key through
#                 DynamoDB.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  table_name = coalesce(var.state_table_name, "${var.name}-state")
  config_env = var.config_s3_uri != null ? { KEYWARDEN_CONFIG_S3 = var.config_s3_uri } : { KEYWARDEN_CONFIG_SSM = var.config_parameter_name }
  topic_arn  = var.create_digest_topic ? aws_sns_topic.digest[0].arn : var.digest_topic_arn
  # The region, from an ARN the module creates (independent of the provider
  # version's aws_region attributes).
  region = split(":", aws_dynamodb_table.state.arn)[3]
  # The config's state.url and enforce.stop_parameter, when the module is
  # given the YAML.
  config_state_url      = try(yamldecode(var.config_yaml).state.url, "")
  config_stop_parameter = try(yamldecode(var.config_yaml).enforce.stop_parameter, "")
  config_enforce_mode   = try(yamldecode(var.config_yaml).enforce.mode, "dry_run")
}

# ---------------------------------------------------------------- policy

module "policy" {
  source = "./modules/policy"

  role        = "runner"
  partition   = data.aws_partition.current.partition
  remediation = var.remediation
  rotation    = var.rotation
  ssh_key_age = var.ssh_key_age
  # The function runs in this account: it acts there with its own
  # credentials only if this account is allowed, and elsewhere through
  # the member role (keywarden iam-policy --runner-account ACCOUNT).
  allowed_accounts      = var.allowed_accounts
  runner_account        = data.aws_caller_identity.current.account_id
  organization          = var.organization
  listed_accounts       = var.listed_accounts
  listed_role_arns      = var.listed_role_arns
  ses_from              = var.ses_from
  ses_region            = var.ses_region
  ses_configuration_set = var.ses_configuration_set
  sns_topic_arn         = local.topic_arn
  secret_parameters     = var.secret_parameters
  stop_parameter        = var.stop_parameter
  config_ssm            = var.config_s3_uri == null ? var.config_parameter_name : ""
  config_s3             = var.config_s3_uri == null ? "" : var.config_s3_uri
  kms_key_arns          = var.ssm_kms_key_arn == null ? [] : [var.ssm_kms_key_arn]
  dynamodb_table        = local.table_name
  # The function runs `keywarden run`, which does not import into Security
  # Hub; a cron job running `keywarden scan --security-hub` uses the policy
  # module with security_hub = true.
  security_hub = false
}

data "aws_iam_policy_document" "deployment" {
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }
  statement {
    sid       = "SendToDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
  dynamic "statement" {
    for_each = var.state_table_kms_key_arn == null ? [] : [var.state_table_kms_key_arn]
    content {
      sid       = "UseStateTableKey"
      actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }
}

# ---------------------------------------------------------------- execution role

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "runner" {
  name               = "${var.name}-runner"
  description        = "keywarden's execution role: its policy is `keywarden iam-policy` for the config."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "keywarden" {
  name   = "keywarden"
  role   = aws_iam_role.runner.id
  policy = module.policy.json
}

resource "aws_iam_role_policy" "deployment" {
  name   = "deployment"
  role   = aws_iam_role.runner.id
  policy = data.aws_iam_policy_document.deployment.json
}

# ---------------------------------------------------------------- function

resource "aws_cloudwatch_log_group" "lambda" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq"
  message_retention_seconds = 1209600 # 14 days, the most SQS keeps
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_lambda_function" "keywarden" {
  function_name    = var.name
  description      = "keywarden run: stale IAM credentials, told and (with apply) remediated"
  role             = aws_iam_role.runner.arn
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["arm64"]
  timeout          = var.timeout
  memory_size      = var.memory_size
  tags             = var.tags

  environment {
    variables = merge(var.environment_variables, local.config_env)
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  depends_on = [
    aws_cloudwatch_log_group.lambda,
    aws_iam_role_policy.keywarden,
    aws_iam_role_policy.deployment,
    aws_ssm_parameter.stop, # never a run before its emergency stop exists
  ]

  lifecycle {
    precondition {
      condition     = !(var.config_yaml != null && var.config_s3_uri != null)
      error_message = "Set config_yaml (stored in SSM) or config_s3_uri, not both."
    }
    precondition {
      condition     = var.config_yaml == null || local.config_state_url == "dynamodb://${local.table_name}"
      error_message = "The config's state.url must be dynamodb://${local.table_name} (the table this module creates): a SQLite file is lost with the function's container."
    }
    precondition {
      condition     = var.config_yaml == null || var.schedule_input.apply != true || var.schedule_input.dry_run == true || local.config_enforce_mode == "apply"
      error_message = "schedule_input asks the runs to apply, and the config's enforce.mode is ${jsonencode(local.config_enforce_mode)}: the function refuses an event that asks for more than its config allows. Set enforce.mode: apply in the config (the schedule input may then be {})."
    }
    precondition {
      condition     = !(var.create_digest_topic && var.digest_topic_arn != "")
      error_message = "Set create_digest_topic or digest_topic_arn, not both."
    }
    precondition {
      condition     = var.config_yaml == null || local.config_stop_parameter == var.stop_parameter
      error_message = "The config's enforce.stop_parameter is ${jsonencode(local.config_stop_parameter)} and stop_parameter is ${jsonencode(var.stop_parameter)}: make them the same. The function may read only stop_parameter, and a stop it cannot read stops every action."
    }
    precondition {
      condition     = !(var.create_stop_parameter && startswith(var.stop_parameter, "arn:"))
      error_message = "create_stop_parameter creates a parameter by its name: stop_parameter is an ARN (a parameter that exists, perhaps in another region or account), so set create_stop_parameter = false, or give the name."
    }
  }
}

# ---------------------------------------------------------------- config

resource "aws_ssm_parameter" "config" {
  count       = var.config_yaml == null ? 0 : 1
  name        = var.config_parameter_name
  description = "keywarden config (YAML), read by the ${var.name} function"
  type        = var.config_parameter_type
  value       = var.config_yaml
  key_id      = var.config_parameter_type == "SecureString" ? var.ssm_kms_key_arn : null
  tier        = length(var.config_yaml) > 4096 ? "Advanced" : "Standard"
  tags        = var.tags
}

# The emergency stop (docs/enforcement.md): keywarden reads it before each
# action and acts only while it does not hold stop. Terraform creates it
# holding go and never changes it afterwards (ignore_changes), so an apply
# never lifts a stop an admin has set. The function may read it, not write
# it: give ssm:PutParameter on it (output stop_parameter_arn) to the admins.
resource "aws_ssm_parameter" "stop" {
  count       = var.stop_parameter != "" && var.create_stop_parameter ? 1 : 0
  name        = var.stop_parameter
  description = "keywarden emergency stop: stop halts every action; anything else lets keywarden act"
  type        = "String"
  value       = "go"
  tags        = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}

# ---------------------------------------------------------------- state

resource "aws_dynamodb_table" "state" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.state_table_deletion_protection
  tags                        = var.tags

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "gsi1pk"
    type = "S"
  }
  attribute {
    name = "gsi1sk"
    type = "S"
  }

  global_secondary_index {
    name            = "gsi1"
    hash_key        = "gsi1pk"
    range_key       = "gsi1sk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = var.state_table_kms_key_arn != null
    kms_key_arn = var.state_table_kms_key_arn
  }
}

# ---------------------------------------------------------------- schedule

data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeKeywarden"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.keywarden.arn]
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  description        = "EventBridge Scheduler: may invoke the ${var.name} function, nothing else."
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-${var.name}"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "keywarden" {
  name                         = var.name
  description                  = "Runs keywarden"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.keywarden.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ for k, v in var.schedule_input : k => v if v != null })
  }

  depends_on = [aws_iam_role_policy.scheduler]
}

# ---------------------------------------------------------------- notify

resource "aws_sns_topic" "digest" {
  count = var.create_digest_topic ? 1 : 0
  name  = "${var.name}-digest"
  tags  = var.tags
}

resource "aws_sns_topic_subscription" "digest_email" {
  for_each  = var.create_digest_topic ? toset(var.digest_email_subscriptions) : toset([])
  topic_arn = aws_sns_topic.digest[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sesv2_email_identity" "sender" {
  count          = var.ses_identity == "" ? 0 : 1
  email_identity = var.ses_identity
  tags           = var.tags
}
