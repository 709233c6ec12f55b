variable "name" {
  type        = string
  description = "Server name; the FQDN becomes <name>.postgres.database.azure.com (seed 4.4: phonebill-postgresql)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "Server names are 3-63 lower-case letters, digits and hyphens."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the primary server."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the server."
}

variable "postgres_version" {
  type        = string
  description = "PostgreSQL major version."
  default     = "16"

  validation {
    condition     = contains(["14", "15", "16", "17"], var.postgres_version)
    error_message = "postgres_version must be 14, 15, 16 or 17."
  }
}

variable "sku_name" {
  type        = string
  description = "Compute SKU (seed 5.1.1: GeneralPurpose Standard_D4s_v3 = GP_Standard_D4s_v3)."

  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_", var.sku_name))
    error_message = "sku_name looks like GP_Standard_D4s_v3."
  }
}

variable "storage_mb" {
  type        = number
  description = "Storage size in MB (seed 5.1.1: 256 GB = 262144)."

  validation {
    condition     = contains([32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408], var.storage_mb)
    error_message = "storage_mb must be one of the sizes Flexible Server offers."
  }
}

variable "storage_tier" {
  type        = string
  description = "Premium SSD performance tier (P15 is the default for 256 GB)."
  default     = null
}

variable "backup_retention_days" {
  type        = number
  description = "Backup and PITR retention (seed 5.1.1 and 5.3.1: 35 days)."

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be 7-35."
  }
}

variable "geo_redundant_backup_enabled" {
  type        = bool
  description = "Geo-redundant backup to the paired region (seed 5.1.1 and 5.3.1: enabled, Korea South)."
}

variable "high_availability_mode" {
  type        = string
  description = "HA mode (seed 5.1.1: ZoneRedundant); \"Disabled\" for none."

  validation {
    condition     = contains(["ZoneRedundant", "SameZone", "Disabled"], var.high_availability_mode)
    error_message = "high_availability_mode must be ZoneRedundant, SameZone or Disabled."
  }
}

variable "zone" {
  type        = string
  description = "Availability zone of the primary."
  default     = "1"
}

variable "standby_zone" {
  type        = string
  description = "Availability zone of the HA standby (seed 5.1.1: a different zone)."
  default     = "2"
}

variable "delegated_subnet_id" {
  type        = string
  description = "Delegated database subnet (seed 4.1.1: 10.0.2.0/24)."
}

variable "private_dns_zone_id" {
  type        = string
  description = "Private DNS zone for the server (privatelink.postgres.database.azure.com, linked to every VNet that connects)."
}

variable "administrator_login" {
  type        = string
  description = "Administrator login name (not a secret)."
  default     = "pbadmin"

  validation {
    condition     = !contains(["admin", "administrator", "root", "postgres", "azure_superuser", "guest", "public"], var.administrator_login)
    error_message = "administrator_login cannot be a reserved name."
  }
}

variable "administrator_password" {
  type        = string
  description = "Administrator password, write-only (never stored in state); pass an ephemeral value."
  sensitive   = true
  ephemeral   = true
}

variable "administrator_password_version" {
  type        = number
  description = "Bump to push a new administrator_password to the server."
  default     = 1

  validation {
    condition     = var.administrator_password_version >= 1
    error_message = "administrator_password_version starts at 1."
  }
}

variable "entra_admin" {
  type = object({
    object_id      = string
    principal_name = string
    principal_type = string
  })
  description = "Entra ID administrator of the server (a group is recommended); null skips it."
  default     = null
}

variable "databases" {
  type        = map(string)
  description = "Databases to create, keyed by service: one database per service."

  validation {
    condition     = alltrue([for d in values(var.databases) : can(regex("^[a-z_][a-z0-9_]{0,62}$", d))])
    error_message = "Database names are lower-case identifiers."
  }
}

variable "read_replicas" {
  type = map(object({
    location            = string
    sku_name            = string
    delegated_subnet_id = string
    zone                = optional(string)
  }))
  description = "Read replicas (seed 5.1.2: one in Korea South, one in Korea Central, both GP Standard_D2s_v3)."
  default     = {}
}

variable "maintenance_window" {
  type = object({
    day_of_week  = number
    start_hour   = number
    start_minute = number
  })
  description = "Maintenance window in UTC (seed 10.2.1: Sunday 02:00 KST = Saturday 17:00 UTC, day 6)."
  default = {
    day_of_week  = 6
    start_hour   = 17
    start_minute = 0
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace for server logs."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
