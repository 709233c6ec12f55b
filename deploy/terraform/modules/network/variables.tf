variable "name_prefix" {
  type        = string
  description = "Prefix for resource names, e.g. \"phonebill-prod\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name_prefix))
    error_message = "name_prefix must be 3-31 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the virtual network (the seed uses koreacentral)."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group that holds the network resources."
}

variable "address_space" {
  type        = string
  description = "Address space of the VNet (seed 4.1.1: 10.0.0.0/16)."

  validation {
    condition     = can(cidrhost(var.address_space, 0))
    error_message = "address_space must be a valid IPv4 CIDR block."
  }
}

variable "subnets" {
  type = object({
    application = object({ name = string, cidr = string })
    database    = object({ name = string, cidr = string })
    cache       = object({ name = string, cidr = string })
    gateway     = object({ name = string, cidr = string })
  })
  description = "The four subnets of seed 4.1.1: AKS application, PostgreSQL (delegated), Redis private endpoints and Application Gateway."

  validation {
    condition = alltrue([
      for s in [var.subnets.application, var.subnets.database, var.subnets.cache, var.subnets.gateway] :
      can(cidrhost(s.cidr, 0)) && tonumber(split("/", s.cidr)[1]) <= 27
    ])
    error_message = "Every subnet cidr must be a valid IPv4 CIDR no smaller than /27."
  }
}

variable "application_subnet_service_endpoints" {
  type        = list(string)
  description = "Service endpoints on the application subnet (seed: ContainerRegistry)."
  default     = ["Microsoft.ContainerRegistry"]

  validation {
    condition     = alltrue([for s in var.application_subnet_service_endpoints : startswith(s, "Microsoft.")])
    error_message = "Service endpoint names start with \"Microsoft.\"."
  }
}

variable "cache_ports" {
  type        = list(string)
  description = "TLS ports Redis Premium (clustered) listens on behind its private endpoint: 6380 and the shard range 15000-15999."
  default     = ["6380", "15000-15999"]

  validation {
    condition     = length(var.cache_ports) > 0
    error_message = "At least one cache port is required."
  }
}

variable "database_extra_source_cidrs" {
  type        = list(string)
  description = "Extra CIDRs allowed to reach PostgreSQL on 5432 (for example the DR VNet subnet that hosts a cross-region read replica)."
  default     = []

  validation {
    condition     = alltrue([for c in var.database_extra_source_cidrs : can(cidrhost(c, 0))])
    error_message = "Every entry must be a valid IPv4 CIDR block."
  }
}

variable "private_dns_zones" {
  type        = list(string)
  description = "Private DNS zones to create and link to the VNet (seed 7.3.1 plus ACR and blob)."
  default = [
    "privatelink.postgres.database.azure.com",
    "privatelink.redis.cache.windows.net",
    "privatelink.vaultcore.azure.net",
    "privatelink.azurecr.io",
    "privatelink.blob.core.windows.net",
  ]

  validation {
    condition     = alltrue([for z in var.private_dns_zones : startswith(z, "privatelink.")])
    error_message = "Private DNS zone names must start with \"privatelink.\"."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
