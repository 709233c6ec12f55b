variable "name" {
  type        = string
  description = "Globally unique registry name (5-50 alphanumerics)."

  validation {
    condition     = can(regex("^[a-zA-Z0-9]{5,50}$", var.name))
    error_message = "ACR names are 5-50 letters or digits."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the registry's home replica."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the registry."
}

variable "sku" {
  type        = string
  description = "Registry SKU (seed 9: Premium, required for geo-replication and private endpoints)."
  default     = "Premium"

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.sku)
    error_message = "sku must be Basic, Standard or Premium."
  }
}

variable "georeplication_locations" {
  type        = list(string)
  description = "Extra regions the registry replicates to (seed 9 and 10.1.1: geo-replication to the DR region koreasouth). Premium only."
  default     = []
}

variable "untagged_retention_days" {
  type        = number
  description = "Days untagged manifests are kept before purge."
  default     = 7

  validation {
    condition     = var.untagged_retention_days >= 0 && var.untagged_retention_days <= 365
    error_message = "untagged_retention_days must be 0-365."
  }
}

variable "allowed_ip_ranges" {
  type        = list(string)
  description = "Public CIDRs (CI runners) allowed to push; everything else is denied. AKS pulls through the private endpoint."
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_ip_ranges : can(cidrhost(c, 0))])
    error_message = "Every entry must be a valid IPv4 CIDR block."
  }
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet for the registry's private endpoint (application subnet)."
}

variable "private_dns_zone_id" {
  type        = string
  description = "Id of privatelink.azurecr.io."
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace that receives registry audit logs."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
