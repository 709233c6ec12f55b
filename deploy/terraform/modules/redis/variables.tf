variable "name" {
  type        = string
  description = "Cache name; host becomes <name>.redis.cache.windows.net (seed 4.4: phonebill-redis)."

  validation {
    condition     = can(regex("^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$", var.name)) && !strcontains(var.name, "--")
    error_message = "Cache names are 1-63 letters, digits and single hyphens."
  }
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the cache."
}

variable "sku_name" {
  type        = string
  description = "Cache tier (seed 5.2.1: Premium)."

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.sku_name)
    error_message = "sku_name must be Basic, Standard or Premium."
  }
}

variable "family" {
  type        = string
  description = "SKU family: P for Premium, C for Basic/Standard."

  validation {
    condition     = contains(["C", "P"], var.family)
    error_message = "family must be C or P."
  }
}

variable "capacity" {
  type        = number
  description = "Size within the family (seed 5.2.1: P2 means family P, capacity 2)."

  validation {
    condition     = var.capacity >= 0 && var.capacity <= 6
    error_message = "capacity must be 0-6."
  }
}

variable "shard_count" {
  type        = number
  description = "Cluster shards (seed 5.2.1: 3). 0 disables clustering. Premium only."

  validation {
    condition     = var.shard_count >= 0 && var.shard_count <= 30
    error_message = "shard_count must be 0-30."
  }
}

variable "replicas_per_primary" {
  type        = number
  description = "Replicas per shard (seed 5.2.1: 1). Premium only."

  validation {
    condition     = var.replicas_per_primary >= 1 && var.replicas_per_primary <= 3
    error_message = "replicas_per_primary must be 1-3."
  }
}

variable "zones" {
  type        = list(string)
  description = "Availability zones (seed 5.2.1: zone redundant). Azure needs replicas_per_primary >= zones - 1."
  default     = []

  validation {
    condition     = alltrue([for z in var.zones : contains(["1", "2", "3"], z)])
    error_message = "zones must be a subset of 1, 2, 3."
  }
}

variable "persistence" {
  type = object({
    mode                   = string
    rdb_frequency_minutes  = optional(number, 60)
    rdb_max_snapshot_count = optional(number, 1)
  })
  description = "Data persistence. Azure Cache for Redis Premium accepts RDB or AOF, not both at once; the seed's RDB every 60 minutes (5.2.1, 5.3.1) is the default. mode is rdb, aof or none."
  default = {
    mode = "rdb"
  }

  validation {
    condition     = contains(["rdb", "aof", "none"], var.persistence.mode)
    error_message = "persistence.mode must be rdb, aof or none."
  }

  validation {
    condition     = contains([15, 30, 60, 360, 720, 1440], var.persistence.rdb_frequency_minutes)
    error_message = "rdb_frequency_minutes must be 15, 30, 60, 360, 720 or 1440."
  }
}

variable "persistence_storage_account_name" {
  type        = string
  description = "Storage account that receives RDB/AOF files (3-24 lower-case alphanumerics)."

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.persistence_storage_account_name))
    error_message = "Storage account names are 3-24 lower-case letters or digits."
  }
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet for the private endpoints (seed 7.3.1: cache subnet)."
}

variable "private_dns_zone_ids" {
  type = object({
    redis = string
    blob  = string
  })
  description = "Ids of privatelink.redis.cache.windows.net and privatelink.blob.core.windows.net."
}

variable "maintenance_window_utc" {
  type = object({
    day_of_week    = string
    start_hour_utc = number
  })
  description = "Patch window in UTC (seed 10.2.1: Sunday 02:00 KST = Saturday 17:00 UTC)."
  default = {
    day_of_week    = "Saturday"
    start_hour_utc = 17
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace for cache diagnostics."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
