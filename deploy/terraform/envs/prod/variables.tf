variable "subscription_id" {
  type        = string
  description = "Azure subscription that hosts production."

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "tenant_id" {
  type        = string
  description = "Entra ID tenant (seed 7.2.1 calls it phonebill-tenant)."

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
  }
}

variable "aks_admin_group_name" {
  type        = string
  description = "Entra ID group whose members are cluster administrators (also PostgreSQL Entra administrator)."
  default     = "phonebill-prod-admins"

  validation {
    condition     = length(var.aks_admin_group_name) > 0
    error_message = "aks_admin_group_name must not be empty."
  }
}

variable "key_vault_name" {
  type        = string
  description = "Globally unique Key Vault name."
  default     = "kv-phonebill-prod"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.key_vault_name))
    error_message = "Key Vault names are 3-24 letters, digits and hyphens."
  }
}

variable "acr_name" {
  type        = string
  description = "Globally unique container registry name."
  default     = "acrphonebillprod"

  validation {
    condition     = can(regex("^[a-zA-Z0-9]{5,50}$", var.acr_name))
    error_message = "ACR names are 5-50 letters or digits."
  }
}

variable "ci_egress_cidrs" {
  type        = list(string)
  description = "Public egress CIDRs of the CI runners that push images to ACR."
  default     = []

  validation {
    condition     = alltrue([for c in var.ci_egress_cidrs : can(cidrhost(c, 0))])
    error_message = "Every entry must be a valid IPv4 CIDR block."
  }
}

variable "ssl_certificate_secret_id" {
  type        = string
  description = "Versionless Key Vault secret id of the imported wildcard certificate, e.g. https://kv-phonebill-prod.vault.azure.net/secrets/ssl-wildcard-cert."

  validation {
    condition     = can(regex("^https://[a-zA-Z0-9-]+\\.vault\\.azure\\.net/secrets/[a-zA-Z0-9-]+/?$", var.ssl_certificate_secret_id))
    error_message = "ssl_certificate_secret_id must be a versionless Key Vault secret URL."
  }
}

variable "alert_emails" {
  type        = list(string)
  description = "Ops e-mail addresses for alerts."
  default     = []
}

variable "teams_webhook_url" {
  type        = string
  description = "Teams webhook for alerts; pass as TF_VAR_teams_webhook_url from the pipeline's secret store, never commit it."
  default     = ""
  sensitive   = true
}

variable "jwt_signing_key_ids" {
  type        = list(string)
  description = "kids of the JWT signing keys kept in Key Vault, oldest first (rotation: append a new kid, later drop the oldest)."
  default     = ["1"] # Helm values: kid key-1 -> secret jwt-signing-key-1
}

variable "secret_versions" {
  type = object({
    postgres_admin = number
    database_urls  = number
    redis_url      = number
    kos_api_key    = number
  })
  description = "Bump an entry to generate and write a new value (see docs/infrastructure.md, secret rotation)."
  default = {
    postgres_admin = 1
    database_urls  = 1
    redis_url      = 1
    kos_api_key    = 1
  }
}

variable "appgw_ssl_certificate_name" {
  type        = string
  default     = "ssl-wildcard"
  description = "Name of the Application Gateway certificate; must equal ingress.appgwSslCertificate in deploy/helm/phonebill/values-prod.yaml (scripts/check-deploy.sh compares them)."
}

variable "runner_subnet_cidr" {
  type        = string
  default     = "10.0.5.0/24"
  description = "RunnerSubnet of the self-hosted release runner (reaches ACR over its private endpoint)."

  validation {
    condition     = can(cidrhost(var.runner_subnet_cidr, 0))
    error_message = "runner_subnet_cidr must be a CIDR."
  }
}
