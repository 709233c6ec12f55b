output "vnet_id" {
  description = "Resource id of the virtual network."
  value       = azurerm_virtual_network.this.id
}

output "vnet_name" {
  description = "Name of the virtual network."
  value       = azurerm_virtual_network.this.name
}

output "subnet_ids" {
  description = "Subnet ids keyed application, database, cache, gateway."
  value = {
    application = azurerm_subnet.application.id
    database    = azurerm_subnet.database.id
    cache       = azurerm_subnet.cache.id
    gateway     = azurerm_subnet.gateway.id
  }
}

output "private_dns_zone_ids" {
  description = "Private DNS zone ids keyed by zone name."
  value       = { for k, z in azurerm_private_dns_zone.this : k => z.id }
}

output "private_dns_zone_names" {
  description = "Private DNS zone names keyed by zone name (for linking other VNets)."
  value       = { for k, z in azurerm_private_dns_zone.this : k => z.name }
}
