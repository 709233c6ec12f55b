# Development environment: the production topology of physical-architecture-prod.md
# at smaller sizes (single zone, no HA, no replicas, no geo features). Same
# modules, so a change is exercised here before it reaches prod.

locals {
  environment = "dev"
  name_prefix = "phonebill-dev"
  location    = "koreacentral"
  namespace   = "phonebill-dev"

  tags = {
    project     = "phonebill"
    environment = local.environment
    managed-by  = "terraform"
  }

  databases = {
    auth             = "phonebill_auth"
    "bill-inquiry"   = "phonebill_bill"
    "product-change" = "phonebill_product"
    "kos-mock"       = "phonebill_kos"
  }

  # Seed 7.2.2: <binary>-sa, as the Helm chart creates them.
  service_accounts = [
    "auth-service-sa",
    "bill-inquiry-service-sa",
    "product-change-service-sa",
    "kos-mock-service-sa",
    # the migration hook Jobs (templates/migration-job.yaml) read their owner-role URL from Key Vault
    "auth-service-sa-migrate",
    "bill-inquiry-service-sa-migrate",
    "product-change-service-sa-migrate",
    "kos-mock-service-sa-migrate",
  ]
}

data "azuread_client_config" "current" {}

data "azuread_group" "admins" {
  display_name     = var.aks_admin_group_name
  security_enabled = true
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${local.name_prefix}"
  location = local.location
  tags     = local.tags
}

module "network" {
  source              = "../../modules/network"
  name_prefix         = local.name_prefix
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  address_space       = "10.10.0.0/16"

  subnets = {
    application = { name = "ApplicationSubnet", cidr = "10.10.1.0/24" }
    database    = { name = "DatabaseSubnet", cidr = "10.10.2.0/24" }
    cache       = { name = "CacheSubnet", cidr = "10.10.3.0/24" }
    gateway     = { name = "ApplicationGatewaySubnet", cidr = "10.10.4.0/24" }
  }

  tags = local.tags
}

module "monitoring" {
  source                          = "../../modules/monitoring"
  name_prefix                     = local.name_prefix
  location                        = local.location
  resource_group_name             = azurerm_resource_group.this.name
  log_retention_days              = 30
  log_daily_cap_gb                = 1
  appinsights_sampling_percentage = 10
  alert_emails                    = var.alert_emails
  teams_webhook_url               = var.teams_webhook_url
  tags                            = local.tags
}

module "keyvault" {
  source                     = "../../modules/keyvault"
  name                       = var.key_vault_name
  location                   = local.location
  resource_group_name        = azurerm_resource_group.this.name
  sku_name                   = "standard"
  soft_delete_retention_days = 7
  private_endpoint_subnet_id = module.network.subnet_ids.application
  private_dns_zone_id        = module.network.private_dns_zone_ids["privatelink.vaultcore.azure.net"]
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  secret_officer_principal_ids = {
    deployer = data.azuread_client_config.current.object_id
  }
  tags = local.tags
}

module "acr" {
  source                     = "../../modules/acr"
  name                       = var.acr_name
  location                   = local.location
  resource_group_name        = azurerm_resource_group.this.name
  sku                        = "Premium"
  georeplication_locations   = []
  allowed_ip_ranges          = var.ci_egress_cidrs
  private_endpoint_subnet_id = module.network.subnet_ids.application
  private_dns_zone_id        = module.network.private_dns_zone_ids["privatelink.azurecr.io"]
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  tags                       = local.tags
}

module "appgw" {
  source                     = "../../modules/appgw"
  name_prefix                = local.name_prefix
  location                   = local.location
  resource_group_name        = azurerm_resource_group.this.name
  subnet_id                  = module.network.subnet_ids.gateway
  private_ip_address         = "10.10.4.10"
  zones                      = ["1"]
  min_capacity               = 0
  max_capacity               = 2
  waf_mode                   = "Prevention"
  owasp_version              = "3.2"
  rate_limit_per_minute      = 100
  ssl_certificate_secret_id  = var.ssl_certificate_secret_id
  key_vault_id               = module.keyvault.id
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  tags                       = local.tags
}

module "aks" {
  source              = "../../modules/aks"
  name_prefix         = local.name_prefix
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  kubernetes_version  = "1.29"
  sku_tier            = "Free"
  subnet_id           = module.network.subnet_ids.application
  zones               = ["1"]

  system_pool = {
    vm_size         = "Standard_D2s_v3"
    node_count      = 1
    min_count       = 1
    max_count       = 2
    max_pods        = 50
    os_disk_size_gb = 48 # ephemeral, fits the D2s_v3 cache (50 GiB)
  }

  application_pool = {
    name            = "app" # Helm values-prod nodeSelector agentpool: app
    vm_size         = "Standard_D2s_v3"
    node_count      = 1
    min_count       = 1
    max_count       = 3
    max_pods        = 110
    os_disk_size_gb = 48 # ephemeral, fits the VM cache (50 GiB)
    taints          = ["application-workload=true:NoSchedule"]
    labels          = { "workload" = "application" }
  }

  admin_group_object_ids          = [data.azuread_group.admins.object_id]
  application_gateway_id          = module.appgw.id
  application_gateway_subnet_id   = module.network.subnet_ids.gateway
  application_gateway_identity_id = module.appgw.identity_id
  acr_id                          = module.acr.id
  log_analytics_workspace_id      = module.monitoring.log_analytics_workspace_id
  tags                            = local.tags
}

ephemeral "random_password" "postgres_admin" {
  length      = 40
  special     = false
  min_upper   = 4
  min_lower   = 4
  min_numeric = 4
}

module "postgres" {
  source                         = "../../modules/postgres"
  name                           = "phonebill-postgresql-dev"
  location                       = local.location
  resource_group_name            = azurerm_resource_group.this.name
  sku_name                       = "B_Standard_B2s"
  storage_mb                     = 32768
  backup_retention_days          = 7
  geo_redundant_backup_enabled   = true
  high_availability_mode         = "Disabled"
  zone                           = "1"
  delegated_subnet_id            = module.network.subnet_ids.database
  private_dns_zone_id            = module.network.private_dns_zone_ids["privatelink.postgres.database.azure.com"]
  administrator_password         = ephemeral.random_password.postgres_admin.result
  administrator_password_version = var.secret_versions.postgres_admin
  databases                      = local.databases
  log_analytics_workspace_id     = module.monitoring.log_analytics_workspace_id

  entra_admin = {
    object_id      = data.azuread_group.admins.object_id
    principal_name = data.azuread_group.admins.display_name
    principal_type = "Group"
  }

  read_replicas = {}
  tags          = local.tags
}

module "redis" {
  source               = "../../modules/redis"
  name                 = "phonebill-redis-dev"
  location             = local.location
  resource_group_name  = azurerm_resource_group.this.name
  sku_name             = "Standard"
  family               = "C"
  capacity             = 1
  shard_count          = 0
  replicas_per_primary = 1
  zones                = []

  persistence = {
    mode = "none"
  }

  persistence_storage_account_name = "stphonebillredisdev"
  private_endpoint_subnet_id       = module.network.subnet_ids.cache
  private_dns_zone_ids = {
    redis = module.network.private_dns_zone_ids["privatelink.redis.cache.windows.net"]
    blob  = module.network.private_dns_zone_ids["privatelink.blob.core.windows.net"]
  }
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  tags                       = local.tags
}

module "workload_identity" {
  source              = "../../modules/workload-identity"
  name                = "id-phonebill-services-dev"
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  oidc_issuer_url     = module.aks.oidc_issuer_url
  namespace           = local.namespace
  service_accounts    = local.service_accounts
  key_vault_id        = module.keyvault.id
  tags                = local.tags
}

module "secrets" {
  source                  = "../../modules/secrets"
  key_vault_id            = module.keyvault.id
  rotation_days           = 90
  jwt_signing_key_ids     = var.jwt_signing_key_ids
  databases               = local.databases
  postgres_fqdn           = module.postgres.fqdn
  postgres_admin_login    = module.postgres.administrator_login
  postgres_admin_password = ephemeral.random_password.postgres_admin.result
  redis_hostname          = module.redis.hostname
  redis_ssl_port          = module.redis.ssl_port
  redis_access_key        = module.redis.primary_access_key
  versions                = var.secret_versions
  tags                    = local.tags
}

module "alerts" {
  source                     = "../../modules/alerts"
  name_prefix                = local.name_prefix
  location                   = local.location
  resource_group_name        = azurerm_resource_group.this.name
  cluster_id                 = module.aks.id
  cluster_name               = module.aks.name
  namespace                  = local.namespace
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  monitor_workspace_id       = module.monitoring.monitor_workspace_id
  action_group_id            = module.monitoring.action_group_id

  thresholds = {
    error_rate_ratio     = 0.05
    error_rate_window    = "5m"
    avg_response_seconds = 3
    response_window      = "5m"
    pod_restarts         = 5
    pod_restart_window   = "10m"
    node_cpu_percent     = 85
    node_cpu_window      = "10m"
    node_memory_percent  = 90
    node_memory_window   = "5m"
    kos_p95_seconds      = 1
    kos_window           = "5m"
  }

  tags = local.tags
}
