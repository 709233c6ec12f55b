variable "name" {
  type        = string
  description = "Globally unique Key Vault name (3-24 characters)."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.name))
    error_message = "Key Vault names are 3-24 characters: letters, digits and hyphens, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the vault."
}

variable "sku_name" {
  type        = string
  description = "Key Vault SKU (seed 7.4.1: Premium (HSM))."
  default     = "premium"

  validation {
    condition     = contains(["standard", "premium"], var.sku_name)
    error_message = "sku_name must be standard or premium."
  }
}

variable "soft_delete_retention_days" {
  type        = number
  description = "Soft-delete retention in days."
  default     = 90

  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "soft_delete_retention_days must be 7-90."
  }
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet for the vault's private endpoint (seed 7.3.1: application subnet)."
}

variable "private_dns_zone_id" {
  type        = string
  description = "Id of privatelink.vaultcore.azure.net."
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace that receives the vault's audit logs."
}

variable "allowed_ip_ranges" {
  type        = list(string)
  description = "Public CIDRs allowed through the vault firewall. Only used while public_network_access_enabled is true (break-glass)."
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_ip_ranges : can(cidrhost(c, 0))])
    error_message = "Every entry must be a valid IPv4 CIDR block."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  description = "Seed 7.4.1 says private endpoint only, so this stays false; set true only for a break-glass apply from outside the VNet."
  default     = false
}

variable "secret_officer_principal_ids" {
  type        = map(string)
  description = "Principals (keyed by a stable label) that may write secrets and certificates, e.g. the deployment service principal."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
