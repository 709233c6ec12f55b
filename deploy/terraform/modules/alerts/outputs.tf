output "workbook_id" {
  description = "Resource id of the services workbook."
  value       = azurerm_application_insights_workbook.services.id
}

output "prometheus_rule_group_ids" {
  description = "Ids of the Prometheus alert rule groups."
  value = [
    azurerm_monitor_alert_prometheus_rule_group.application.id,
    azurerm_monitor_alert_prometheus_rule_group.nodes.id,
  ]
}
