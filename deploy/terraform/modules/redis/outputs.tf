output "id" {
  description = "Resource id of the cache."
  value       = azurerm_redis_cache.this.id
}

output "hostname" {
  description = "Host name of the cache (TLS port 6380)."
  value       = azurerm_redis_cache.this.hostname
}

output "ssl_port" {
  description = "TLS port of the cache."
  value       = azurerm_redis_cache.this.ssl_port
}

output "primary_access_key" {
  description = "Primary access key; only fed into the redis-url Key Vault secret."
  value       = azurerm_redis_cache.this.primary_access_key
  sensitive   = true
}
