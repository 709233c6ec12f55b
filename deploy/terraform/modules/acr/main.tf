resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_139:Seed section 9 builds and pushes images from GitHub-hosted runners, which have no VNet path; the public endpoint stays on but network_rule_set denies everything except the CI egress CIDRs, and AKS pulls over the private endpoint.
  #checkov:skip=CKV_AZURE_166:Quarantine blocks every pull until an external scanner releases the image; our pipeline scans with Trivy before push (seed 9) and no quarantine-release scanner exists, so enabling it would stop all deployments.
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku                           = var.sku
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = true
  zone_redundancy_enabled       = true
  data_endpoint_enabled         = true
  quarantine_policy_enabled     = false
  trust_policy_enabled          = true
  retention_policy_in_days      = var.untagged_retention_days
  network_rule_bypass_option    = "AzureServices"
  tags                          = var.tags

  network_rule_set {
    default_action = "Deny"

    dynamic "ip_rule" {
      for_each = toset(var.allowed_ip_ranges)
      content {
        action   = "Allow"
        ip_range = ip_rule.value
      }
    }
  }

  dynamic "georeplications" {
    for_each = toset(var.georeplication_locations)
    content {
      location                  = georeplications.value
      zone_redundancy_enabled   = true
      regional_endpoint_enabled = true
      tags                      = var.tags
    }
  }
}

resource "azurerm_private_endpoint" "registry" {
  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = azurerm_container_registry.this.id
    subresource_names              = ["registry"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "azurecr"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }
}

resource "azurerm_monitor_diagnostic_setting" "registry" {
  name                       = "diag-${var.name}"
  target_resource_id         = azurerm_container_registry.this.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category_group = "audit"
  }
}
