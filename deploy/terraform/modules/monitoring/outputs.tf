output "log_analytics_workspace_id" {
  description = "Resource id of the Log Analytics workspace."
  value       = azurerm_log_analytics_workspace.this.id
}

output "log_analytics_workspace_name" {
  description = "Name of the Log Analytics workspace."
  value       = azurerm_log_analytics_workspace.this.name
}

output "application_insights_id" {
  description = "Resource id of Application Insights."
  value       = azurerm_application_insights.this.id
}

output "application_insights_connection_string" {
  description = "Application Insights connection string (not a secret with local auth disabled, still marked sensitive)."
  value       = azurerm_application_insights.this.connection_string
  sensitive   = true
}

output "monitor_workspace_id" {
  description = "Resource id of the Azure Monitor (managed Prometheus) workspace."
  value       = azurerm_monitor_workspace.this.id
}

output "monitor_workspace_query_endpoint" {
  description = "PromQL query endpoint of the Azure Monitor workspace."
  value       = azurerm_monitor_workspace.this.query_endpoint
}

output "action_group_id" {
  description = "Resource id of the ops action group."
  value       = azurerm_monitor_action_group.ops.id
}
