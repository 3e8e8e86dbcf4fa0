# An example root module: keywarden in one account, daily at 07:00 Berlin
# time, mail through SES, the digest to an SNS topic and an admin address.
#
#   make lambda                      # → dist/keywarden-lambda.zip
#   cd examples/terraform
#   terraform init && terraform apply
#
# Start with the schedule in dry-run (the default here); see docs/deploy.md
# for the steps to notifying and then to --apply.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "region" {
  description = "Region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "sender_domain" {
  description = "Domain keywarden sends from; the module creates its SES identity."
  type        = string
  default     = "example.com"
}

variable "admin_email" {
  description = "Address that gets the admin digest by mail and by SNS."
  type        = string
  default     = "security@example.com"
}

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

locals {
  name = "keywarden"
  # enforce.allowed_accounts, for the config and the function's policy
  # alike: no write is granted (nor made) until an account is listed here.
  allowed_accounts = []
  # enforce.stop_parameter: the module creates it holding go; put stop in it
  # to halt every action (docs/deploy.md, "The emergency stop").
  stop_parameter = "/keywarden/stop"
  sender         = "security@${var.sender_domain}"
  # The topic's ARN is known before it exists, so the config can name it.
  digest_topic_arn = "arn:aws:sns:${var.region}:${data.aws_caller_identity.current.account_id}:${local.name}-digest"
  config_yaml = templatefile("${path.module}/keywarden.yaml.tftpl", {
    sender           = local.sender
    domain           = var.sender_domain
    admin            = var.admin_email
    digest_topic_arn = local.digest_topic_arn
    state_url        = "dynamodb://${local.name}-state"
    allowed_accounts = local.allowed_accounts
    stop_parameter   = local.stop_parameter
  })
}

module "keywarden" {
  source = "../../deploy/terraform"

  name        = local.name
  lambda_zip  = "${path.module}/../../dist/keywarden-lambda.zip"
  config_yaml = local.config_yaml

  schedule_expression = "cron(0 7 * * ? *)"
  schedule_timezone   = "Europe/Berlin"
  # Step 1: dry runs (nothing sent, changed or recorded; the plan is in the
  # logs). Step 2: {} (owners and admins are told; enforce.mode decides the
  # rest). Step 3: enforce.mode: apply and enforce.allowed_accounts in the
  # config (an event may ask a run for less than its config allows, never
  # more).
  schedule_input = { dry_run = true }

  # What the config's rules and notify settings need (`keywarden iam-policy`).
  remediation                = ["delete", "delete_signing_certificates", "delete_service_credentials"]
  allowed_accounts           = local.allowed_accounts
  stop_parameter             = local.stop_parameter
  ses_from                   = local.sender
  ses_identity               = var.sender_domain
  create_digest_topic        = true
  digest_email_subscriptions = [var.admin_email]

  tags = { app = "keywarden" }
}

output "config_yaml" {
  description = "The config stored in SSM."
  value       = local.config_yaml
}

output "keywarden_policy_json" {
  description = "Compare with: keywarden iam-policy --config <config> --config-ssm /keywarden/config --runner-account <this account>"
  value       = module.keywarden.keywarden_policy_json
}

output "function_name" {
  description = "Invoke it by hand with: aws lambda invoke --function-name NAME --payload '{\"dry_run\":true}' --cli-binary-format raw-in-base64-out out.json"
  value       = module.keywarden.function_name
}

output "ses_dkim_tokens" {
  description = "Publish these as CNAME records to verify the sender domain."
  value       = module.keywarden.ses_identity_dkim_tokens
}
