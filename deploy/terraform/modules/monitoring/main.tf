resource "azurerm_log_analytics_workspace" "this" {
  name                = "law-${var.name_prefix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  daily_quota_gb      = var.log_daily_cap_gb
  tags                = var.tags
}

resource "azurerm_application_insights" "this" {
  name                          = "appi-${var.name_prefix}"
  location                      = var.location
  resource_group_name           = var.resource_group_name
  workspace_id                  = azurerm_log_analytics_workspace.this.id
  application_type              = "web"
  sampling_percentage           = var.appinsights_sampling_percentage
  retention_in_days             = var.log_retention_days
  local_authentication_disabled = true
  tags                          = var.tags
}

# Azure Monitor workspace: managed Prometheus store for the services' /actuator/prometheus metrics.
resource "azurerm_monitor_workspace" "this" {
  name                = "amw-${var.name_prefix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_monitor_action_group" "ops" {
  name                = "ag-${var.name_prefix}-ops"
  resource_group_name = var.resource_group_name
  short_name          = var.action_group_short_name
  tags                = var.tags

  dynamic "email_receiver" {
    for_each = toset(var.alert_emails)
    content {
      name                    = "email-${replace(email_receiver.value, "/[^a-zA-Z0-9]/", "-")}"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }

  dynamic "webhook_receiver" {
    for_each = var.teams_webhook_url == "" ? [] : [1]
    content {
      name                    = "teams"
      service_uri             = var.teams_webhook_url
      use_common_alert_schema = true
    }
  }
}
