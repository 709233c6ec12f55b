variable "name_prefix" {
  type        = string
  description = "Prefix for resource names, e.g. \"phonebill-prod\"."

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
  description = "Resource group of the gateway."
}

variable "subnet_id" {
  type        = string
  description = "Dedicated gateway subnet (seed 4.1.1: ApplicationGatewaySubnet, 10.0.4.0/24)."
}

variable "private_ip_address" {
  type        = string
  description = "Static private frontend address inside the gateway subnet (seed 4.2.1: 10.0.4.10)."

  validation {
    condition     = can(cidrhost("${var.private_ip_address}/32", 0))
    error_message = "private_ip_address must be an IPv4 address."
  }
}

variable "zones" {
  type        = list(string)
  description = "Availability zones of the gateway and its public IP (seed 4.2.1: 1, 2, 3)."

  validation {
    condition     = length(var.zones) > 0 && alltrue([for z in var.zones : contains(["1", "2", "3"], z)])
    error_message = "zones must be a non-empty subset of 1, 2, 3."
  }
}

variable "min_capacity" {
  type        = number
  description = "Autoscale minimum instance count (seed 4.2.1: 2)."

  validation {
    condition     = var.min_capacity >= 0 && var.min_capacity <= 125
    error_message = "min_capacity must be 0-125."
  }
}

variable "max_capacity" {
  type        = number
  description = "Autoscale maximum instance count."

  validation {
    condition     = var.max_capacity >= 2 && var.max_capacity <= 125
    error_message = "max_capacity must be 2-125."
  }
}

variable "waf_mode" {
  type        = string
  description = "WAF policy mode (seed 4.2.2: Prevention)."

  validation {
    condition     = contains(["Prevention", "Detection"], var.waf_mode)
    error_message = "waf_mode must be Prevention or Detection."
  }
}

variable "owasp_version" {
  type        = string
  description = "OWASP core rule set version (seed 4.2.2: 3.2)."

  validation {
    condition     = contains(["3.1", "3.2"], var.owasp_version)
    error_message = "owasp_version must be 3.1 or 3.2."
  }
}

variable "rate_limit_per_minute" {
  type        = number
  description = "Requests per minute per client IP before the RateLimiting custom rule blocks (seed 4.2.2: 100)."

  validation {
    condition     = var.rate_limit_per_minute >= 1
    error_message = "rate_limit_per_minute must be at least 1."
  }
}

variable "blocked_countries" {
  type        = list(string)
  description = "ISO country codes blocked by the GeoBlocking custom rule (seed 4.2.2: empty, adjust when needed). Empty omits the rule."
  default     = []

  validation {
    condition     = alltrue([for c in var.blocked_countries : can(regex("^[A-Z]{2}$", c))])
    error_message = "Country codes are two upper-case letters."
  }
}

variable "ssl_certificate_secret_id" {
  type        = string
  description = "Versionless Key Vault secret id of the wildcard TLS certificate (seed 7.4.1 ssl_wildcard_cert) used by https-listener."

  validation {
    condition     = can(regex("^https://[a-zA-Z0-9-]+\\.vault\\.azure\\.net/secrets/[a-zA-Z0-9-]+/?$", var.ssl_certificate_secret_id))
    error_message = "ssl_certificate_secret_id must be a versionless Key Vault secret URL."
  }
}

variable "ssl_certificate_name" {
  type        = string
  default     = "ssl-wildcard"
  description = "Name of the gateway's certificate object. The Helm chart's Ingress names it (ingress.appgwSslCertificate in values-prod.yaml, annotation appgw-ssl-certificate); scripts/check-deploy.sh checks both match the env's output appgw_ssl_certificate_name."

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,79}$", var.ssl_certificate_name))
    error_message = "ssl_certificate_name is 1-80 letters, digits, '_', '.' or '-'."
  }
}

variable "key_vault_id" {
  type        = string
  description = "Key Vault holding the certificate; the gateway identity gets Key Vault Secrets User on it."
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace for access and firewall logs."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
