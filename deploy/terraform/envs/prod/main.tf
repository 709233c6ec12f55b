# Production topology of physical-architecture-prod.md. Every literal below
# comes from that document (section numbers in comments); tests/test_seed_numbers.py
# asserts the key ones so they cannot drift silently.

locals {
  environment = "prod"
  name_prefix = "phonebill-prod"
  location    = "koreacentral" # seed 3.2.1: Korea Central, 3 zones
  dr_location = "koreasouth"   # seed 10.1.1: DR region Korea South
  namespace   = "phonebill-prod"

  tags = {
    project     = "phonebill"
    environment = local.environment
    managed-by  = "terraform"
  }

  # One database per service (docs/api.md §7), keyed by the Helm chart's service name:
  # the Key Vault secret is "<key>-database-url" (deploy/helm values secretEnv).
  databases = {
    auth             = "phonebill_auth"
    "bill-inquiry"   = "phonebill_bill"
    "product-change" = "phonebill_product"
    "kos-mock"       = "phonebill_kos"
  }

  # Seed 7.2.2: one service account per service, <binary>-sa, as the Helm chart
  # creates them (templates/serviceaccount.yaml), KOS mock included.
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

# 1. Network (seed 4.1) ------------------------------------------------------------

module "network" {
  source              = "../../modules/network"
  name_prefix         = local.name_prefix
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  address_space       = "10.0.0.0/16"

  subnets = {
    application = { name = "ApplicationSubnet", cidr = "10.0.1.0/24" }
    database    = { name = "DatabaseSubnet", cidr = "10.0.2.0/24" }
    cache       = { name = "CacheSubnet", cidr = "10.0.3.0/24" }
    gateway     = { name = "ApplicationGatewaySubnet", cidr = "10.0.4.0/24" }
  }

  application_subnet_service_endpoints = ["Microsoft.ContainerRegistry"]
  database_extra_source_cidrs          = ["10.1.2.0/24"]
  tags                                 = local.tags
}

# Self-hosted GitHub Actions runner for .github/workflows/release.yml (issue 19). The
# registry admits only ci_egress_cidrs on its public endpoint, and GitHub-hosted runners have
# no fixed range; a runner in this subnet reaches the registry over its private endpoint
# (privatelink.azurecr.io is linked to this VNet), so ci_egress_cidrs can stay empty. The runner
# itself (a VM scale set with the GitHub runner agent, labels self-hosted/linux/x64/
# phonebill-vnet) is registered outside Terraform: docs/deployment.md "Release".
resource "azurerm_subnet" "runner" {
  name                 = "RunnerSubnet"
  resource_group_name  = azurerm_resource_group.this.name
  virtual_network_name = module.network.vnet_name
  address_prefixes     = [var.runner_subnet_cidr]
}

resource "azurerm_network_security_group" "runner" {
  name                = "nsg-${local.name_prefix}-runner"
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags

  # Nothing may connect to the runner: it only polls GitHub and pushes to the registry.
  security_rule {
    name                       = "DenyAllInbound"
    priority                   = 4000
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefix      = "*"
    destination_address_prefix = "*"
  }

  security_rule {
    name                       = "HttpsOutbound"
    priority                   = 100
    direction                  = "Outbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "443"
    source_address_prefix      = var.runner_subnet_cidr
    destination_address_prefix = "*"
  }
}

resource "azurerm_subnet_network_security_group_association" "runner" {
  subnet_id                 = azurerm_subnet.runner.id
  network_security_group_id = azurerm_network_security_group.runner.id
}

# DR network in Korea South for the cross-region read replica (seed 5.1.2
# replica_1). The seed gives no range for it; 10.1.0.0/16 mirrors the primary.
resource "azurerm_virtual_network" "dr" {
  name                = "vnet-${local.name_prefix}-dr"
  location            = local.dr_location
  resource_group_name = azurerm_resource_group.this.name
  address_space       = ["10.1.0.0/16"]
  tags                = local.tags
}

resource "azurerm_subnet" "dr_database" {
  name                 = "DatabaseSubnet"
  resource_group_name  = azurerm_resource_group.this.name
  virtual_network_name = azurerm_virtual_network.dr.name
  address_prefixes     = ["10.1.2.0/24"]

  delegation {
    name = "postgresql-flexible"

    service_delegation {
      name    = "Microsoft.DBforPostgreSQL/flexibleServers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_network_security_group" "dr_database" {
  name                = "nsg-${local.name_prefix}-dr-database"
  location            = local.dr_location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags

  security_rule {
    name                       = "PostgresFromPrimary"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "5432"
    source_address_prefixes    = ["10.0.1.0/24", "10.0.2.0/24"]
    destination_address_prefix = "10.1.2.0/24"
  }

  security_rule {
    name                       = "DenyOtherVnetInbound"
    priority                   = 4000
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefix      = "VirtualNetwork"
    destination_address_prefix = "*"
  }
}

resource "azurerm_subnet_network_security_group_association" "dr_database" {
  subnet_id                 = azurerm_subnet.dr_database.id
  network_security_group_id = azurerm_network_security_group.dr_database.id
}

resource "azurerm_virtual_network_peering" "primary_to_dr" {
  name                      = "peer-primary-to-dr"
  resource_group_name       = azurerm_resource_group.this.name
  virtual_network_name      = module.network.vnet_name
  remote_virtual_network_id = azurerm_virtual_network.dr.id
  allow_forwarded_traffic   = false
}

resource "azurerm_virtual_network_peering" "dr_to_primary" {
  name                      = "peer-dr-to-primary"
  resource_group_name       = azurerm_resource_group.this.name
  virtual_network_name      = azurerm_virtual_network.dr.name
  remote_virtual_network_id = module.network.vnet_id
  allow_forwarded_traffic   = false
}

resource "azurerm_private_dns_zone_virtual_network_link" "dr_postgres" {
  name                  = "link-${local.name_prefix}-dr"
  resource_group_name   = azurerm_resource_group.this.name
  private_dns_zone_name = module.network.private_dns_zone_names["privatelink.postgres.database.azure.com"]
  virtual_network_id    = azurerm_virtual_network.dr.id
  registration_enabled  = false
  tags                  = local.tags
}

# 2. Monitoring (seed 8.1.1) ---------------------------------------------------------

module "monitoring" {
  source                          = "../../modules/monitoring"
  name_prefix                     = local.name_prefix # law-phonebill-prod, appi-phonebill-prod
  location                        = local.location
  resource_group_name             = azurerm_resource_group.this.name
  log_retention_days              = 90
  log_daily_cap_gb                = 5
  appinsights_sampling_percentage = 10
  alert_emails                    = var.alert_emails
  teams_webhook_url               = var.teams_webhook_url
  tags                            = local.tags
}

# 3. Key Vault (seed 7.4.1) -------------------------------------------------------------

module "keyvault" {
  source                     = "../../modules/keyvault"
  name                       = var.key_vault_name
  location                   = local.location
  resource_group_name        = azurerm_resource_group.this.name
  sku_name                   = "premium"
  soft_delete_retention_days = 90
  private_endpoint_subnet_id = module.network.subnet_ids.application
  private_dns_zone_id        = module.network.private_dns_zone_ids["privatelink.vaultcore.azure.net"]
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  secret_officer_principal_ids = {
    deployer = data.azuread_client_config.current.object_id
  }
  tags = local.tags
}

# 4. Container registry (seed 9) -----------------------------------------------------------

module "acr" {
  source                     = "../../modules/acr"
  name                       = var.acr_name
  location                   = local.location
  resource_group_name        = azurerm_resource_group.this.name
  sku                        = "Premium"
  georeplication_locations   = [local.dr_location]
  allowed_ip_ranges          = var.ci_egress_cidrs
  private_endpoint_subnet_id = module.network.subnet_ids.application
  private_dns_zone_id        = module.network.private_dns_zone_ids["privatelink.azurecr.io"]
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  tags                       = local.tags
}

# 5. Application Gateway + WAF (seed 4.2.1, 4.2.2) ------------------------------------------

module "appgw" {
  source                     = "../../modules/appgw"
  name_prefix                = local.name_prefix
  location                   = local.location
  resource_group_name        = azurerm_resource_group.this.name
  subnet_id                  = module.network.subnet_ids.gateway
  private_ip_address         = "10.0.4.10"
  zones                      = ["1", "2", "3"]
  min_capacity               = 2
  max_capacity               = 10
  waf_mode                   = "Prevention"
  owasp_version              = "3.2"
  rate_limit_per_minute      = 100
  blocked_countries          = []
  ssl_certificate_secret_id  = var.ssl_certificate_secret_id
  ssl_certificate_name       = var.appgw_ssl_certificate_name
  key_vault_id               = module.keyvault.id
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  tags                       = local.tags
}

# 6. AKS (seed 3.1) ----------------------------------------------------------------------------

module "aks" {
  source              = "../../modules/aks"
  name_prefix         = local.name_prefix
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  kubernetes_version  = "1.29"
  sku_tier            = "Standard"
  subnet_id           = module.network.subnet_ids.application
  zones               = ["1", "2", "3"]

  system_pool = {
    vm_size         = "Standard_D2s_v3"
    node_count      = 3
    min_count       = 3
    max_count       = 5
    max_pods        = 50
    os_disk_size_gb = 48 # ephemeral, fits the D2s_v3 cache (50 GiB)
  }

  application_pool = {
    name            = "app" # Helm values-prod nodeSelector agentpool: app
    vm_size         = "Standard_D4s_v3"
    node_count      = 3
    min_count       = 3
    max_count       = 10
    max_pods        = 110
    os_disk_size_gb = 96 # ephemeral, fits the VM cache (100 GiB)
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

# 7. PostgreSQL Flexible Server (seed 5.1) -------------------------------------------------------

ephemeral "random_password" "postgres_admin" {
  length      = 40
  special     = false
  min_upper   = 4
  min_lower   = 4
  min_numeric = 4
}

module "postgres" {
  source                         = "../../modules/postgres"
  name                           = "phonebill-postgresql"
  location                       = local.location
  resource_group_name            = azurerm_resource_group.this.name
  sku_name                       = "GP_Standard_D4s_v3"
  storage_mb                     = 262144
  storage_tier                   = "P15"
  backup_retention_days          = 35
  geo_redundant_backup_enabled   = true
  high_availability_mode         = "ZoneRedundant"
  zone                           = "1"
  standby_zone                   = "2"
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

  read_replicas = {
    # replica_1: Korea South, read load distribution.
    replica-krs = {
      location            = local.dr_location
      sku_name            = "GP_Standard_D2s_v3"
      delegated_subnet_id = azurerm_subnet.dr_database.id
    }
    # replica_2: Korea Central, disaster recovery.
    replica-krc = {
      location            = local.location
      sku_name            = "GP_Standard_D2s_v3"
      delegated_subnet_id = module.network.subnet_ids.database
      zone                = "3"
    }
  }

  tags = local.tags

  depends_on = [
    azurerm_private_dns_zone_virtual_network_link.dr_postgres,
    azurerm_subnet_network_security_group_association.dr_database,
  ]
}

# 8. Redis Premium (seed 5.2) --------------------------------------------------------------------

module "redis" {
  source               = "../../modules/redis"
  name                 = "phonebill-redis"
  location             = local.location
  resource_group_name  = azurerm_resource_group.this.name
  sku_name             = "Premium"
  family               = "P"
  capacity             = 2
  shard_count          = 3
  replicas_per_primary = 1
  # Zone redundant: with 1 replica per shard Azure places the 2 nodes in 2 zones.
  zones = ["1", "2"]

  persistence = {
    mode                   = "rdb"
    rdb_frequency_minutes  = 60
    rdb_max_snapshot_count = 1
  }

  persistence_storage_account_name = "stphonebillredisprod"
  private_endpoint_subnet_id       = module.network.subnet_ids.cache
  private_dns_zone_ids = {
    redis = module.network.private_dns_zone_ids["privatelink.redis.cache.windows.net"]
    blob  = module.network.private_dns_zone_ids["privatelink.blob.core.windows.net"]
  }
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  tags                       = local.tags
}

# 9. Workload identity + application secrets (seed 7.2.1, 7.4.1) -----------------------------------

module "workload_identity" {
  source              = "../../modules/workload-identity"
  name                = "id-phonebill-services"
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

# 10. Alerts, managed Prometheus and the workbook (seed 8.1.2, 6.1.3) ----------------------------------

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
    error_rate_ratio     = 0.05 # failed_requests > 5 %
    error_rate_window    = "5m"
    avg_response_seconds = 3 # avg_response_time > 3 s
    response_window      = "5m"
    pod_restarts         = 5 # pod_restarts > 5 in 10 min
    pod_restart_window   = "10m"
    node_cpu_percent     = 85 # cpu_utilization > 85 %
    node_cpu_window      = "10m"
    node_memory_percent  = 90 # memory_utilization > 90 %
    node_memory_window   = "5m"
    kos_p95_seconds      = 1 # seed 6.1.3 high_response_time 1000 ms
    kos_window           = "5m"
  }

  tags = local.tags
}
