data "azurerm_client_config" "current" {}

locals {
  persist = var.persistence.mode != "none"
  rdb     = var.persistence.mode == "rdb"
  aof     = var.persistence.mode == "aof"
  # Managed-identity persistence: the connection string names the endpoint only, no key.
  persistence_connection = local.persist ? "BlobEndpoint=${azurerm_storage_account.persistence[0].primary_blob_endpoint}" : null
}

# --- Persistence storage ---------------------------------------------------------

resource "azurerm_storage_account" "persistence" {
  count = local.persist ? 1 : 0

  #checkov:skip=CKV2_AZURE_1:Redis persistence files are encrypted with Microsoft-managed keys; a customer-managed key would add a Key Vault key dependency to cache rehydration for no requirement in the seed.
  #checkov:skip=CKV2_AZURE_38:Microsoft warns that soft delete on a Redis persistence account multiplies storage cost because every snapshot overwrite is retained; the files are replaced hourly and are not a backup.
  #checkov:skip=CKV_AZURE_59:Redis persistence writes from the cache service's own infrastructure, not through our VNet, and only reaches a firewalled account as a trusted Azure service; the public endpoint therefore stays on with default_action Deny and only the AzureServices bypass.
  #checkov:skip=CKV_AZURE_33:The account holds only blob containers for Redis persistence; the queue service is unused, so queue logging has nothing to record.
  name                            = var.persistence_storage_account_name
  location                        = var.location
  resource_group_name             = var.resource_group_name
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = "GZRS"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  shared_access_key_enabled       = false
  allow_nested_items_to_be_public = false
  public_network_access_enabled   = true
  default_to_oauth_authentication = true
  tags                            = var.tags

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }

  sas_policy {
    expiration_period = "0.01:00:00"
    expiration_action = "Log"
  }
}

resource "azurerm_private_endpoint" "persistence_blob" {
  count               = local.persist ? 1 : 0
  name                = "pe-${var.persistence_storage_account_name}-blob"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.persistence_storage_account_name}-blob"
    private_connection_resource_id = azurerm_storage_account.persistence[0].id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "blob"
    private_dns_zone_ids = [var.private_dns_zone_ids.blob]
  }
}

# --- Cache (seed 5.2.1) ------------------------------------------------------------

resource "azurerm_redis_cache" "this" {
  name                               = var.name
  location                           = var.location
  resource_group_name                = var.resource_group_name
  sku_name                           = var.sku_name
  family                             = var.family
  capacity                           = var.capacity
  shard_count                        = var.sku_name == "Premium" && var.shard_count > 0 ? var.shard_count : null
  replicas_per_primary               = var.sku_name == "Premium" ? var.replicas_per_primary : null
  zones                              = length(var.zones) > 0 ? var.zones : null
  redis_version                      = "6"
  minimum_tls_version                = "1.2"
  non_ssl_port_enabled               = false
  public_network_access_enabled      = false
  access_keys_authentication_enabled = true
  tags                               = var.tags

  identity {
    type = "SystemAssigned"
  }

  redis_configuration {
    authentication_enabled                 = true
    maxmemory_policy                       = "volatile-lru"
    data_persistence_authentication_method = local.persist ? "ManagedIdentity" : null
    storage_account_subscription_id        = local.persist ? data.azurerm_client_config.current.subscription_id : null
    rdb_backup_enabled                     = local.rdb ? true : null
    rdb_backup_frequency                   = local.rdb ? var.persistence.rdb_frequency_minutes : null
    rdb_backup_max_snapshot_count          = local.rdb ? var.persistence.rdb_max_snapshot_count : null
    rdb_storage_connection_string          = local.rdb ? local.persistence_connection : null
    aof_backup_enabled                     = local.aof ? true : null
    aof_storage_connection_string_0        = local.aof ? local.persistence_connection : null
  }

  patch_schedule {
    day_of_week        = var.maintenance_window_utc.day_of_week
    start_hour_utc     = var.maintenance_window_utc.start_hour_utc
    maintenance_window = "PT5H"
  }

  lifecycle {
    precondition {
      condition     = length(var.zones) <= var.replicas_per_primary + 1
      error_message = "Zone-redundant Premium caches need replicas_per_primary >= number of zones - 1."
    }
  }
}

# The cache's identity writes persistence files.
resource "azurerm_role_assignment" "cache_persistence" {
  count                = local.persist ? 1 : 0
  scope                = azurerm_storage_account.persistence[0].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_redis_cache.this.identity[0].principal_id
}

resource "azurerm_private_endpoint" "cache" {
  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = azurerm_redis_cache.this.id
    subresource_names              = ["redisCache"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "redis"
    private_dns_zone_ids = [var.private_dns_zone_ids.redis]
  }
}

resource "azurerm_monitor_diagnostic_setting" "cache" {
  name                       = "diag-${var.name}"
  target_resource_id         = azurerm_redis_cache.this.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "ConnectedClientList"
  }
}
