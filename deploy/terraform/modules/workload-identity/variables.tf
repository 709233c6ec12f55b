variable "name" {
  type        = string
  description = "Name of the user-assigned identity shared by the services (seed 7.2.1: phonebill-services)."

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$", var.name))
    error_message = "Identity names are 3-128 letters, digits, hyphens or underscores."
  }
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the identity."
}

variable "oidc_issuer_url" {
  type        = string
  description = "OIDC issuer URL of the AKS cluster."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the services (seed 4.4: phonebill-prod)."

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label."
  }
}

variable "service_accounts" {
  type        = list(string)
  description = "Kubernetes service accounts federated with the identity (seed 7.2.2: <service>-sa)."

  validation {
    condition     = length(var.service_accounts) > 0
    error_message = "At least one service account is required."
  }
}

variable "key_vault_id" {
  type        = string
  description = "Key Vault whose secrets the services read (Key Vault Secrets User)."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
