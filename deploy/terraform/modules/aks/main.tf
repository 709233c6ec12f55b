data "azurerm_client_config" "current" {}

resource "azurerm_kubernetes_cluster" "this" {
  #checkov:skip=CKV_AZURE_117:OS and data disks are encrypted at rest with platform-managed keys and encryption at host is on; the seed (7.1.1 L4) asks for encryption at rest, not customer-managed keys, and a disk encryption set would add a Key Vault key to every node boot path.
  #checkov:skip=CKV_AZURE_168:max_pods comes from var.system_pool, an object variable whose attributes checkov does not resolve; the value is 50 and the variable's validation rejects anything below 50.
  name                              = "aks-${var.name_prefix}"
  location                          = var.location
  resource_group_name               = var.resource_group_name
  dns_prefix                        = "aks-${var.name_prefix}"
  kubernetes_version                = var.kubernetes_version
  sku_tier                          = var.sku_tier
  support_plan                      = var.support_plan
  private_cluster_enabled           = true
  private_dns_zone_id               = "System"
  automatic_upgrade_channel         = "patch"
  node_os_upgrade_channel           = "NodeImage"
  local_account_disabled            = true
  role_based_access_control_enabled = true
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  azure_policy_enabled              = true
  image_cleaner_enabled             = true
  image_cleaner_interval_hours      = 48
  tags                              = var.tags

  lifecycle {
    ignore_changes = [
      default_node_pool[0].node_count,
    ]

    precondition {
      condition     = var.support_plan != "AKSLongTermSupport" || var.sku_tier == "Premium"
      error_message = "AKSLongTermSupport requires sku_tier Premium."
    }
  }

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_pool.vm_size
    node_count                   = var.system_pool.node_count
    auto_scaling_enabled         = true
    min_count                    = var.system_pool.min_count
    max_count                    = var.system_pool.max_count
    max_pods                     = var.system_pool.max_pods
    zones                        = var.zones
    vnet_subnet_id               = var.subnet_id
    only_critical_addons_enabled = true
    host_encryption_enabled      = true
    os_disk_type                 = "Ephemeral"
    os_disk_size_gb              = var.system_pool.os_disk_size_gb
    os_sku                       = "AzureLinux"
    temporary_name_for_rotation  = "systemtmp"
    tags                         = var.tags

    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  azure_active_directory_role_based_access_control {
    tenant_id              = data.azurerm_client_config.current.tenant_id
    azure_rbac_enabled     = true
    admin_group_object_ids = var.admin_group_object_ids
  }

  # Azure CNI in overlay mode: nodes take addresses from the /24 application
  # subnet, pods from pod_cidr, so 15 nodes x max_pods fit the seed's subnet.
  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_policy      = "azure"
    pod_cidr            = var.pod_cidr
    service_cidr        = var.service_cidr
    dns_service_ip      = cidrhost(var.service_cidr, 10)
    load_balancer_sku   = "standard"
    outbound_type       = "loadBalancer"
  }

  key_vault_secrets_provider {
    secret_rotation_enabled  = true
    secret_rotation_interval = var.secret_rotation_interval
  }

  oms_agent {
    log_analytics_workspace_id      = var.log_analytics_workspace_id
    msi_auth_for_monitoring_enabled = true
  }

  # Managed Prometheus (the metrics DCR is associated in the alerts module).
  monitor_metrics {}

  ingress_application_gateway {
    gateway_id = var.application_gateway_id
  }

  maintenance_window_auto_upgrade {
    frequency   = "Weekly"
    interval    = 1
    day_of_week = var.maintenance_window.day_of_week
    start_time  = var.maintenance_window.start_time
    utc_offset  = var.maintenance_window.utc_offset
    duration    = var.maintenance_window.duration
  }

  maintenance_window_node_os {
    frequency   = "Weekly"
    interval    = 1
    day_of_week = var.maintenance_window.day_of_week
    start_time  = var.maintenance_window.start_time
    utc_offset  = var.maintenance_window.utc_offset
    duration    = var.maintenance_window.duration
  }

}

resource "azurerm_kubernetes_cluster_node_pool" "application" {
  #checkov:skip=CKV_AZURE_168:max_pods comes from var.application_pool, an object variable whose attributes checkov does not resolve; the value is 110 and the variable's validation rejects anything below 50.
  name                    = var.application_pool.name
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.this.id
  vm_size                 = var.application_pool.vm_size
  mode                    = "User"
  node_count              = var.application_pool.node_count
  auto_scaling_enabled    = true
  min_count               = var.application_pool.min_count
  max_count               = var.application_pool.max_count
  max_pods                = var.application_pool.max_pods
  zones                   = var.zones
  vnet_subnet_id          = var.subnet_id
  node_taints             = var.application_pool.taints
  node_labels             = var.application_pool.labels
  host_encryption_enabled = true
  os_disk_type            = "Ephemeral"
  os_disk_size_gb         = var.application_pool.os_disk_size_gb
  os_sku                  = "AzureLinux"
  tags                    = var.tags

  upgrade_settings {
    max_surge = "33%"
  }

  lifecycle {
    ignore_changes = [node_count]
  }
}

# --- Role assignments -----------------------------------------------------------

resource "azurerm_role_assignment" "kubelet_acr_pull" {
  scope                            = var.acr_id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
  skip_service_principal_aad_check = true
}

# The control-plane identity joins nodes and load balancers to the subnet.
resource "azurerm_role_assignment" "cluster_subnet" {
  scope                = var.subnet_id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_kubernetes_cluster.this.identity[0].principal_id
}

locals {
  agic_object_id = azurerm_kubernetes_cluster.this.ingress_application_gateway[0].ingress_application_gateway_identity[0].object_id
}

resource "azurerm_role_assignment" "agic_gateway" {
  scope                = var.application_gateway_id
  role_definition_name = "Contributor"
  principal_id         = local.agic_object_id
}

resource "azurerm_role_assignment" "agic_gateway_subnet" {
  scope                = var.application_gateway_subnet_id
  role_definition_name = "Network Contributor"
  principal_id         = local.agic_object_id
}

resource "azurerm_role_assignment" "agic_gateway_identity" {
  scope                = var.application_gateway_identity_id
  role_definition_name = "Managed Identity Operator"
  principal_id         = local.agic_object_id
}

resource "azurerm_role_assignment" "agic_resource_group" {
  scope                = "/subscriptions/${data.azurerm_client_config.current.subscription_id}/resourceGroups/${var.resource_group_name}"
  role_definition_name = "Reader"
  principal_id         = local.agic_object_id
}

resource "azurerm_monitor_diagnostic_setting" "cluster" {
  name                       = "diag-aks-${var.name_prefix}"
  target_resource_id         = azurerm_kubernetes_cluster.this.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "kube-audit-admin"
  }

  enabled_log {
    category = "guard"
  }

  enabled_log {
    category = "cluster-autoscaler"
  }
}
