output "id" {
  description = "Resource id of the primary server."
  value       = azurerm_postgresql_flexible_server.primary.id
}

output "fqdn" {
  description = "FQDN of the primary server (host part of every DATABASE_URL)."
  value       = azurerm_postgresql_flexible_server.primary.fqdn
}

output "administrator_login" {
  description = "Administrator login name."
  value       = azurerm_postgresql_flexible_server.primary.administrator_login
}

output "database_names" {
  description = "Database names keyed by service."
  value       = { for k, d in azurerm_postgresql_flexible_server_database.this : k => d.name }
}

output "replica_fqdns" {
  description = "Read replica FQDNs keyed by replica name."
  value       = { for k, r in azurerm_postgresql_flexible_server.replica : k => r.fqdn }
}
