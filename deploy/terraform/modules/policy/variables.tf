# Each input mirrors what `keywarden iam-policy` reads from the config file or
# from its flags; the README says which config key or flag.

variable "role" {
  description = "Whose policy: \"runner\" (the identity keywarden runs as: --role runner) or \"member\" (the role it assumes in member accounts: --role member; IAM only, and with rotation the secrets it writes there)."
  type        = string
  default     = "runner"
  nullable    = false

  validation {
    condition     = contains(["runner", "member"], var.role)
    error_message = "role: want runner or member."
  }
}

variable "partition" {
  description = "The AWS partition of every ARN (--partition, accounts.partition): aws, aws-us-gov or aws-cn."
  type        = string
  default     = "aws"
  nullable    = false

  validation {
    condition     = contains(["aws", "aws-us-gov", "aws-cn"], var.partition)
    error_message = "partition: want aws, aws-us-gov or aws-cn."
  }
}

variable "allowed_accounts" {
  description = "enforce.allowed_accounts: the account IDs where keywarden may act. The write actions and their re-checks are granted on the users of those the config reaches, and only there. Empty: read-only."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for a in var.allowed_accounts : can(regex("^[0-9]{12}$", a))])
    error_message = "allowed_accounts: 12-digit account IDs."
  }
}

variable "runner_account" {
  description = "The account keywarden runs in, when known (--runner-account): the runner's writes name it alone, and the member role's leave it out. Empty: unknown."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.runner_account == "" || can(regex("^[0-9]{12}$", var.runner_account))
    error_message = "runner_account: a 12-digit account ID, or empty."
  }
}

variable "remediation" {
  description = "The changes the config's rules can call for: any of \"disable\" (an access_key_age stage or access_key_unused with action: disable), \"delete\" (an access_key_age stage with action: delete; it disables an active key first), \"remove_password\" (password_unused with action: remove_password), \"disable_signing_certificates\" and \"delete_signing_certificates\" (a signing_certificate_age stage with action: disable, or delete), \"disable_service_credentials\" and \"delete_service_credentials\" (a service_credential_age stage with action: disable, or delete). Empty: read-only."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for r in var.remediation : contains(["disable", "delete", "remove_password", "disable_signing_certificates", "delete_signing_certificates", "disable_service_credentials", "delete_service_credentials"], r)])
    error_message = "remediation: each item is disable, delete, remove_password, disable_signing_certificates, delete_signing_certificates, disable_service_credentials or delete_service_credentials."
  }
}

variable "rotation" {
  description = "The config's rotate settings, when an access_key_age stage has action: rotate (null: none): secret_name (rotate.secret_name, default keywarden/{user}) and create_secret (rotate.create_secret). Grants iam:CreateAccessKey, the writes of the Secrets Manager secrets and SSM parameters the name allows (their creation only with create_secret), and kms:GenerateDataKey/kms:Encrypt through those two services, in the accounts where the identity acts; a rotation also retires the old key (the disable and delete of remediation)."
  type = object({
    secret_name   = optional(string, "keywarden/{user}")
    create_secret = optional(bool, false)
  })
  default = null

  validation {
    condition     = var.rotation == null || can(regex("^[A-Za-z0-9/_+=.@{}-]+$", var.rotation.secret_name))
    error_message = "rotation.secret_name: a secret name pattern such as keywarden/{user}."
  }
}

variable "ssh_key_age" {
  description = "Whether the config turns rules.ssh_key_age on: keywarden then reads the selected users' SSH public keys (iam:ListSSHPublicKeys)."
  type        = bool
  default     = false
  nullable    = false
}

variable "organization" {
  description = "accounts.organization: role_name (the member role keywarden assumes), ous (accounts.organization.ous; only whether it is empty matters to the policy) and exclude (accounts.organization.exclude: never acted in). null: no organization."
  type = object({
    role_name = string
    ous       = optional(list(string), [])
    exclude   = optional(list(string), [])
  })
  default = null

  validation {
    condition     = var.organization == null || can(regex("^[\\w+=,.@-]{1,64}$", var.organization.role_name))
    error_message = "organization.role_name: want an IAM role name (not an ARN), e.g. KeywardenAudit."
  }
}

variable "listed_accounts" {
  description = "accounts.list[].id: every listed account, with or without a role_arn."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "listed_role_arns" {
  description = "accounts.list[].role_arn: the roles keywarden assumes in listed accounts."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "ses_from" {
  description = "notify.from, when notify.users.via is ses (\"security@example.com\" or \"Security <security@example.com>\"). Empty: no SES."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.ses_from == "" || can(regex("^[^@<>\\s]+@[^@<>\\s]+$", try(regex("<([^<>]+)>\\s*$", var.ses_from)[0], trimspace(var.ses_from))))
    error_message = "ses_from: want an address, e.g. security@example.com or \"Security <security@example.com>\"."
  }
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

variable "sns_topic_arn" {
  description = "notify.admins.sns_topic_arn (empty: none)."
  type        = string
  default     = ""
  nullable    = false
}

variable "secret_parameters" {
  description = "Names (or ARNs) of the SSM parameters keywarden reads secrets from: notify.admins.slack_webhook_ssm, notify.admins.webhook_url_ssm, and notify.smtp.password_ssm only when notify.users.via is smtp and notify.smtp.username is set."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "stop_parameter" {
  description = "enforce.stop_parameter: the SSM parameter (name or ARN) of the emergency stop, which the runner reads before each action. ssm:GetParameter on it alone, granted to the runner only where the policy can act (a write action and an account to take it in). Empty: none."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.stop_parameter == "" || can(regex("^(arn:aws(-[a-z]+)*:ssm:[a-z0-9-]+:[0-9]{12}:parameter)?/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.stop_parameter))
    error_message = "stop_parameter: want an SSM parameter name (/keywarden/stop) or ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/keywarden/stop)."
  }
}

variable "config_ssm" {
  description = "The SSM parameter the Lambda reads its config from (KEYWARDEN_CONFIG_SSM; --config-ssm). Empty: none."
  type        = string
  default     = ""
  nullable    = false
}

variable "config_s3" {
  description = "The s3://BUCKET/KEY the Lambda reads its config from (KEYWARDEN_CONFIG_S3; --config-s3). Empty: none."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.config_s3 == "" || can(regex("^s3://[^/]+/.+$", var.config_s3))
    error_message = "config_s3: want s3://BUCKET/KEY."
  }
}

variable "kms_key_arns" {
  description = "Customer managed KMS keys that encrypt the SSM SecureString parameters above (--kms-key): kms:Decrypt, granted only when a parameter is read. The AWS managed aws/ssm key needs none."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "dynamodb_table" {
  description = "The state table's name, when state.url is dynamodb://TABLE. Empty: no DynamoDB state."
  type        = string
  default     = ""
  nullable    = false
}

variable "security_hub" {
  description = "Grant what `keywarden scan --security-hub` needs (--security-hub)."
  type        = bool
  default     = false
  nullable    = false
}
