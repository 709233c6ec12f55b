variable "name_prefix" {
  type        = string
  description = "Prefix for resource names, e.g. \"phonebill-prod\" gives law-phonebill-prod and appi-phonebill-prod (seed 8.1.1)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name_prefix))
    error_message = "name_prefix must be 3-31 lower-case letters, digits or hyphens."
  }
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group for the monitoring resources."
}

variable "log_retention_days" {
  type        = number
  description = "Log Analytics retention in days (seed 8.1.1: 90)."

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be between 30 and 730."
  }
}

variable "log_daily_cap_gb" {
  type        = number
  description = "Log Analytics daily ingestion cap in GB (seed 8.1.1: 5)."

  validation {
    condition     = var.log_daily_cap_gb > 0
    error_message = "log_daily_cap_gb must be positive."
  }
}

variable "appinsights_sampling_percentage" {
  type        = number
  description = "Application Insights ingestion sampling percentage (seed 8.1.1: 10)."

  validation {
    condition     = var.appinsights_sampling_percentage > 0 && var.appinsights_sampling_percentage <= 100
    error_message = "appinsights_sampling_percentage must be in (0, 100]."
  }
}

variable "action_group_short_name" {
  type        = string
  description = "Short name of the ops action group (at most 12 characters)."
  default     = "pb-ops"

  validation {
    condition     = length(var.action_group_short_name) >= 1 && length(var.action_group_short_name) <= 12
    error_message = "action_group_short_name must be 1-12 characters."
  }
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail receivers of the ops action group (seed 8.1.2: Teams + Email)."
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Every alert e-mail must look like an e-mail address."
  }
}

variable "teams_webhook_url" {
  type        = string
  description = "Microsoft Teams (Workflows) webhook URL for alert notifications; supply via TF_VAR_teams_webhook_url, never commit it. Empty disables the receiver."
  default     = ""
  sensitive   = true

  validation {
    condition     = var.teams_webhook_url == "" || startswith(var.teams_webhook_url, "https://")
    error_message = "teams_webhook_url must be empty or an https:// URL."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
