# ---------------------------------------------------------------- the function

variable "name" {
  description = "Name of the function, and the prefix of everything else the module creates (role, schedule, table, queue, topic)."
  type        = string
  default     = "keywarden"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name: 1 to 40 letters, digits, - and _."
  }
}

variable "lambda_zip" {
  description = "Path of the Lambda bundle built by `make lambda` (dist/keywarden-lambda.zip: bootstrap for provided.al2023 on arm64)."
  type        = string
}

variable "timeout" {
  description = "Function timeout in seconds (at most 900). keywarden stops its run about 20 seconds before it, records what it did and answers."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.timeout >= 60 && var.timeout <= 900
    error_message = "timeout: 60 to 900 seconds."
  }
}

variable "memory_size" {
  description = "Function memory in MB."
  type        = number
  default     = 512
  nullable    = false
}

variable "environment_variables" {
  description = "More environment variables for the function, e.g. AWS_MAX_ATTEMPTS. Not for secrets: keywarden reads those from SSM (secret_parameters)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "log_retention_days" {
  description = "Days the function's CloudWatch log group keeps its logs."
  type        = number
  default     = 90
  nullable    = false
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
  nullable    = false
}

# ---------------------------------------------------------------- the schedule

variable "schedule_expression" {
  description = "EventBridge Scheduler expression: cron(minutes hours day-of-month month day-of-week year) or rate(…), in schedule_timezone."
  type        = string
  default     = "cron(0 7 * * ? *)"
  nullable    = false
}

variable "schedule_timezone" {
  description = "IANA time zone of schedule_expression, e.g. Europe/Berlin."
  type        = string
  default     = "UTC"
  nullable    = false
}

variable "schedule_enabled" {
  description = "Whether the schedule is enabled."
  type        = bool
  default     = true
  nullable    = false
}

variable "schedule_input" {
  description = "The event each scheduled run gets: dry_run (plan only: nothing sent, changed or recorded), apply (also remediate, in enforce.allowed_accounts, only when the config says enforce.mode: apply; with dry_run, the apply preview), as_of (only with dry_run), accounts. {} leaves it to the config's enforce.mode."
  type = object({
    dry_run  = optional(bool)
    apply    = optional(bool)
    as_of    = optional(string)
    accounts = optional(list(string))
  })
  default  = { dry_run = true }
  nullable = false

  validation {
    condition     = var.schedule_input.as_of == null || var.schedule_input.dry_run == true
    error_message = "schedule_input: as_of is taken only with dry_run = true (a run that sends, acts or records runs on the function's clock); drop as_of, or add dry_run = true."
  }
}

# ---------------------------------------------------------------- the config

variable "config_yaml" {
  description = "The keywarden config (YAML). The module stores it in the SSM parameter config_parameter_name. null: the parameter already exists (or config_s3_uri is used)."
  type        = string
  default     = null
}

variable "config_parameter_name" {
  description = "Name of the SSM parameter holding the config (KEYWARDEN_CONFIG_SSM): created from config_yaml, or an existing one when config_yaml is null."
  type        = string
  default     = "/keywarden/config"
  nullable    = false

  validation {
    condition     = startswith(var.config_parameter_name, "/")
    error_message = "config_parameter_name: want a full name with its leading slash, e.g. /keywarden/config."
  }
}

variable "config_parameter_type" {
  description = "Type of the parameter created from config_yaml: String or SecureString (encrypted with ssm_kms_key_arn, or the AWS managed aws/ssm key)."
  type        = string
  default     = "String"
  nullable    = false

  validation {
    condition     = contains(["String", "SecureString"], var.config_parameter_type)
    error_message = "config_parameter_type: want String or SecureString."
  }
}

variable "config_s3_uri" {
  description = "Read the config from this s3://BUCKET/KEY instead (KEYWARDEN_CONFIG_S3); config_yaml must then be null."
  type        = string
  default     = null

  validation {
    condition     = var.config_s3_uri == null || can(regex("^s3://[^/]+/.+$", var.config_s3_uri))
    error_message = "config_s3_uri: want s3://BUCKET/KEY."
  }
}

variable "ssm_kms_key_arn" {
  description = "Customer managed KMS key that encrypts the SecureString parameters (the config's, and secret_parameters): the function may kms:Decrypt with it. null: the AWS managed aws/ssm key, which needs no grant."
  type        = string
  default     = null
}

# ---------------------------------------------------------------- the state table

variable "state_table_name" {
  description = "Name of the DynamoDB state table the module creates; the config's state.url must be dynamodb://NAME. null: NAME-state."
  type        = string
  default     = null
}

variable "state_table_kms_key_arn" {
  description = "Customer managed KMS key for the table's encryption at rest. null: the AWS owned key."
  type        = string
  default     = null
}

variable "state_table_deletion_protection" {
  description = "Whether the table has deletion protection (turn it off before destroying the module)."
  type        = bool
  default     = true
  nullable    = false
}

# ---------------------------------------------------------------- what the config does (mirrors `keywarden iam-policy`)

variable "remediation" {
  description = "The changes the config's rules can call for: any of disable, delete and remove_password (access keys, passwords), disable_signing_certificates, delete_signing_certificates, disable_service_credentials and delete_service_credentials (see `keywarden iam-policy`). [] grants read-only IAM; the default rules (disable at 80 days, delete at 90, for access keys, signing certificates and service-specific credentials) need [\"delete\", \"delete_signing_certificates\", \"delete_service_credentials\"] (a delete includes its disable)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "rotation" {
  description = "The config's rotate settings when an access_key_age stage has action: rotate (null: none): secret_name (rotate.secret_name, default keywarden/{user}) and create_secret (rotate.create_secret). The function may then create access keys and write the matching Secrets Manager secrets and SSM parameters (create them only with create_secret) where it acts with its own credentials, and use their customer managed KMS keys through those services (see the policy module)."
  type = object({
    secret_name   = optional(string, "keywarden/{user}")
    create_secret = optional(bool, false)
  })
  default = null
}

variable "ssh_key_age" {
  description = "Whether the config turns rules.ssh_key_age on (keywarden then reads SSH public keys: iam:ListSSHPublicKeys)."
  type        = bool
  default     = false
  nullable    = false
}

variable "allowed_accounts" {
  description = "enforce.allowed_accounts of the config. The function may change credentials in this account only if it is listed here (the member accounts' writes are the member role's: member-role.yaml, or the policy module with role = \"member\"). [] grants no write at all."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "stop_parameter" {
  description = "enforce.stop_parameter of the config: the SSM parameter (a name, or an ARN) of the emergency stop. The function may read it (ssm:GetParameter), never write it, and only where it can act. Empty: no emergency stop."
  type        = string
  default     = ""
  nullable    = false
}

variable "create_stop_parameter" {
  description = "Create stop_parameter (a name, not an ARN) as a String parameter holding go. Terraform never changes its value afterwards: whoever may write it sets stop or go. false: the parameter exists already (it must: one keywarden cannot read counts as stop)."
  type        = bool
  default     = true
  nullable    = false
}

variable "organization" {
  description = "accounts.organization of the config: role_name, ous and exclude. null: no organization."
  type = object({
    role_name = string
    ous       = optional(list(string), [])
    exclude   = optional(list(string), [])
  })
  default = null
}

variable "listed_accounts" {
  description = "accounts.list[].id of the config: every listed account, with or without a role_arn."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "listed_role_arns" {
  description = "accounts.list[].role_arn of the config."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "ses_from" {
  description = "notify.from, when notify.users.via is ses. Empty: no SES."
  type        = string
  default     = ""
  nullable    = false
}

variable "ses_region" {
  description = "notify.ses.region (empty: any region)."
  type        = string
  default     = ""
  nullable    = false
}

variable "ses_configuration_set" {
  description = "notify.ses.configuration_set (empty: none)."
  type        = string
  default     = ""
  nullable    = false
}

variable "ses_identity" {
  description = "Create this SES email identity (a domain such as example.com, or an address) in the provider's region. Empty: create none (the identity exists already)."
  type        = string
  default     = ""
  nullable    = false
}

variable "create_digest_topic" {
  description = "Create an SNS topic NAME-digest for the admin digest; the config's notify.admins.sns_topic_arn must be its ARN (output digest_topic_arn)."
  type        = bool
  default     = false
  nullable    = false
}

variable "digest_topic_arn" {
  description = "notify.admins.sns_topic_arn, when it names a topic the module does not create. Empty: none."
  type        = string
  default     = ""
  nullable    = false
}

variable "digest_email_subscriptions" {
  description = "Email addresses subscribed to the created digest topic (each must confirm)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "secret_parameters" {
  description = "SSM parameter names of the config's secrets: notify.admins.slack_webhook_ssm, notify.admins.webhook_url_ssm, notify.smtp.password_ssm (only when SMTP logs in)."
  type        = list(string)
  default     = []
  nullable    = false
}
