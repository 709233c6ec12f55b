data "azurerm_client_config" "current" {}

resource "azurerm_postgresql_flexible_server" "primary" {
  #checkov:skip=CKV2_AZURE_57:The server uses private access by VNet integration (delegated DatabaseSubnet, public access disabled, private DNS zone privatelink.postgres.database.azure.com); Azure does not allow a private endpoint on a VNet-integrated server, and the seed asks for the delegation.
  name                              = var.name
  location                          = var.location
  resource_group_name               = var.resource_group_name
  version                           = var.postgres_version
  sku_name                          = var.sku_name
  storage_mb                        = var.storage_mb
  storage_tier                      = var.storage_tier
  auto_grow_enabled                 = true
  backup_retention_days             = var.backup_retention_days
  geo_redundant_backup_enabled      = var.geo_redundant_backup_enabled
  zone                              = var.zone
  delegated_subnet_id               = var.delegated_subnet_id
  private_dns_zone_id               = var.private_dns_zone_id
  public_network_access_enabled     = false
  administrator_login               = var.administrator_login
  administrator_password_wo         = var.administrator_password
  administrator_password_wo_version = var.administrator_password_version
  tags                              = var.tags

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = true
    tenant_id                     = data.azurerm_client_config.current.tenant_id
  }

  dynamic "high_availability" {
    for_each = var.high_availability_mode == "Disabled" ? [] : [1]
    content {
      mode                      = var.high_availability_mode
      standby_availability_zone = var.high_availability_mode == "ZoneRedundant" ? var.standby_zone : null
    }
  }

  maintenance_window {
    day_of_week  = var.maintenance_window.day_of_week
    start_hour   = var.maintenance_window.start_hour
    start_minute = var.maintenance_window.start_minute
  }

  lifecycle {
    prevent_destroy = true
    # Azure may swap primary and standby zones after a failover.
    ignore_changes = [zone, high_availability[0].standby_availability_zone]
  }
}

resource "azurerm_postgresql_flexible_server_active_directory_administrator" "this" {
  count               = var.entra_admin == null ? 0 : 1
  server_name         = azurerm_postgresql_flexible_server.primary.name
  resource_group_name = var.resource_group_name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  object_id           = var.entra_admin.object_id
  principal_name      = var.entra_admin.principal_name
  principal_type      = var.entra_admin.principal_type
}

# TLS enforced, TLS 1.2 minimum (seed 5.1.1), and the logging checkov expects.
locals {
  server_parameters = {
    require_secure_transport     = "on"
    ssl_min_protocol_version     = "TLSv1.2"
    log_checkpoints              = "on"
    log_connections              = "on"
    log_disconnections           = "on"
    log_retention_days           = "7"
    "connection_throttle.enable" = "on"
  }
}

resource "azurerm_postgresql_flexible_server_configuration" "this" {
  for_each  = local.server_parameters
  name      = each.key
  server_id = azurerm_postgresql_flexible_server.primary.id
  value     = each.value
}

resource "azurerm_postgresql_flexible_server_database" "this" {
  for_each  = var.databases
  name      = each.value
  server_id = azurerm_postgresql_flexible_server.primary.id
  charset   = "UTF8"
  collation = "en_US.utf8"

  lifecycle {
    prevent_destroy = true
  }
}

resource "azurerm_postgresql_flexible_server" "replica" {
  #checkov:skip=CKV2_AZURE_57:Replicas inherit the primary's private access by VNet integration (delegated subnet, public access disabled); a VNet-integrated server cannot also take a private endpoint.
  for_each                      = var.read_replicas
  name                          = "${var.name}-${each.key}"
  location                      = each.value.location
  resource_group_name           = var.resource_group_name
  create_mode                   = "Replica"
  source_server_id              = azurerm_postgresql_flexible_server.primary.id
  version                       = var.postgres_version
  sku_name                      = each.value.sku_name
  storage_mb                    = var.storage_mb
  storage_tier                  = var.storage_tier
  auto_grow_enabled             = true
  zone                          = each.value.zone
  delegated_subnet_id           = each.value.delegated_subnet_id
  private_dns_zone_id           = var.private_dns_zone_id
  public_network_access_enabled = false
  tags                          = merge(var.tags, { role = "read-replica" })

  lifecycle {
    ignore_changes = [zone]
  }

  depends_on = [azurerm_postgresql_flexible_server_configuration.this]
}

resource "azurerm_monitor_diagnostic_setting" "primary" {
  name                       = "diag-${var.name}"
  target_resource_id         = azurerm_postgresql_flexible_server.primary.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "PostgreSQLLogs"
  }
}
