# Application secrets that the Helm chart mounts through the Secrets Store CSI
# driver. Values are write-only (value_wo): they are sent to Key Vault but never
# stored in Terraform state or plan files.
#
# Rotation (seed 7.4.1: secrets every 90 days): every secret gets an
# expiration_date of "last write + rotation_days", so Key Vault raises
# SecretNearExpiry 30 days before and the portal shows overdue secrets.
# - kos-api-key rotates by itself: time_rotating rolls after rotation_days and
#   the next apply writes a new value.
# - database URLs, redis-url and the admin password rotate when their entry in
#   var.versions is bumped (they need a coordinated role/key change).
# - JWT keys rotate by adding a kid to var.jwt_signing_key_ids.

locals {
  rotation_hours = "${var.rotation_days * 24}h"
  # Login role per service: auth -> auth_svc, bill-inquiry -> bill_inquiry_svc.
  db_roles = { for svc, _ in var.databases : svc => "${replace(svc, "-", "_")}_svc" }
}

# --- JWT signing keys (Ed25519, PKCS#8 PEM) ----------------------------------------

resource "time_static" "jwt" {
  for_each = toset(var.jwt_signing_key_ids)
}

ephemeral "tls_private_key" "jwt" {
  for_each  = toset(var.jwt_signing_key_ids)
  algorithm = "ED25519"
}

# A kid's key never changes (value_wo_version stays 1): rotation adds a new kid.
resource "azurerm_key_vault_secret" "jwt_signing_key" {
  for_each         = toset(var.jwt_signing_key_ids)
  name             = "jwt-signing-key-${each.value}"
  key_vault_id     = var.key_vault_id
  value_wo         = ephemeral.tls_private_key.jwt[each.value].private_key_pem
  value_wo_version = 1
  content_type     = "application/x-pem-file; alg=EdDSA; kid=${each.value}"
  expiration_date  = timeadd(time_static.jwt[each.value].rfc3339, local.rotation_hours)
  tags             = merge(var.tags, { kid = each.value, purpose = "jwt-signing" })
}

# --- PostgreSQL -------------------------------------------------------------------------

resource "time_static" "postgres_admin" {
  triggers = {
    version = var.versions.postgres_admin
  }
}

resource "azurerm_key_vault_secret" "postgres_admin_password" {
  name             = "postgres-admin-password"
  key_vault_id     = var.key_vault_id
  value_wo         = var.postgres_admin_password
  value_wo_version = var.versions.postgres_admin
  content_type     = "text/plain; login=${var.postgres_admin_login}"
  expiration_date  = timeadd(time_static.postgres_admin.rfc3339, local.rotation_hours)
  tags             = merge(var.tags, { purpose = "postgres-admin" })
}

resource "time_static" "database_urls" {
  triggers = {
    version = var.versions.database_urls
  }
}

ephemeral "random_password" "database" {
  for_each    = var.databases
  length      = 40
  special     = false
  min_upper   = 4
  min_lower   = 4
  min_numeric = 4
}

resource "azurerm_key_vault_secret" "database_url" {
  for_each         = var.databases
  name             = "${each.key}-database-url"
  key_vault_id     = var.key_vault_id
  value_wo         = "postgres://${local.db_roles[each.key]}:${ephemeral.random_password.database[each.key].result}@${var.postgres_fqdn}:5432/${each.value}?sslmode=require"
  value_wo_version = var.versions.database_urls
  content_type     = "text/plain; format=postgres-url; role=${local.db_roles[each.key]}"
  expiration_date  = timeadd(time_static.database_urls.rfc3339, local.rotation_hours)
  tags             = merge(var.tags, { service = each.key, database = each.value })
}

# --- Redis --------------------------------------------------------------------------------

resource "time_static" "redis_url" {
  triggers = {
    version = var.versions.redis_url
  }
}

resource "azurerm_key_vault_secret" "redis_url" {
  name             = "redis-url"
  key_vault_id     = var.key_vault_id
  value_wo         = "rediss://:${var.redis_access_key}@${var.redis_hostname}:${var.redis_ssl_port}"
  value_wo_version = var.versions.redis_url
  content_type     = "text/plain; format=redis-url"
  expiration_date  = timeadd(time_static.redis_url.rfc3339, local.rotation_hours)
  tags             = merge(var.tags, { purpose = "redis" })
}

# --- KOS API key (shared by kos-mock-service and its callers) -------------------------------

resource "time_rotating" "kos_api_key" {
  rotation_days = var.rotation_days
}

ephemeral "random_password" "kos_api_key" {
  length  = 48
  special = false
}

resource "azurerm_key_vault_secret" "kos_api_key" {
  name             = "kos-api-key"
  key_vault_id     = var.key_vault_id
  value_wo         = ephemeral.random_password.kos_api_key.result
  value_wo_version = var.versions.kos_api_key * 100000000 + tonumber(formatdate("YYYYMMDD", time_rotating.kos_api_key.id))
  content_type     = "text/plain"
  expiration_date  = time_rotating.kos_api_key.rotation_rfc3339
  tags             = merge(var.tags, { purpose = "kos-api-key" })
}
