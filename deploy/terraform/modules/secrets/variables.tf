variable "key_vault_id" {
  type        = string
  description = "Key Vault that stores the application secrets."
}

variable "rotation_days" {
  type        = number
  description = "Secret rotation period (seed 7.4.1: 90 days). Every secret expires this many days after its rotation window starts."

  validation {
    condition     = var.rotation_days >= 1 && var.rotation_days <= 365
    error_message = "rotation_days must be 1-365."
  }
}

variable "jwt_signing_key_ids" {
  type        = list(string)
  description = "Key ids (kid) of the Ed25519 JWT signing keys to keep, oldest first; each becomes secret jwt-signing-key-<kid>. Add a kid to rotate, drop the oldest once tokens signed with it have expired."

  validation {
    condition     = length(var.jwt_signing_key_ids) >= 1 && alltrue([for k in var.jwt_signing_key_ids : can(regex("^[a-z0-9][a-z0-9-]{0,38}$", k))])
    error_message = "Give at least one kid of lower-case letters, digits and hyphens (max 39 characters)."
  }
}

variable "databases" {
  type        = map(string)
  description = "Database name keyed by the Helm chart's service name (auth, bill-inquiry, product-change, kos-mock); each gets secret <service>-database-url and login role <service>_svc."
}

variable "postgres_fqdn" {
  type        = string
  description = "FQDN of the PostgreSQL server."
}

variable "postgres_admin_login" {
  type        = string
  description = "Administrator login of the server (stored alongside its password for the role bootstrap job)."
}

variable "postgres_admin_password" {
  type        = string
  description = "Ephemeral administrator password, written to Key Vault write-only."
  sensitive   = true
  ephemeral   = true
}

variable "redis_hostname" {
  type        = string
  description = "Host name of the Redis cache."
}

variable "redis_ssl_port" {
  type        = number
  description = "TLS port of the Redis cache."
  default     = 6380
}

variable "redis_access_key" {
  type        = string
  description = "Redis access key used to build redis-url."
  sensitive   = true
}

variable "versions" {
  type = object({
    postgres_admin = number
    database_urls  = number
    redis_url      = number
    kos_api_key    = number
  })
  description = "Write-only versions: bump one to generate and store a new value (manual rotation)."
  default = {
    postgres_admin = 1
    database_urls  = 1
    redis_url      = 1
    kos_api_key    = 1
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every secret."
  default     = {}
}
