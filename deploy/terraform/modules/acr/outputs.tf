output "id" {
  description = "Resource id of the registry (scope of the AKS AcrPull role)."
  value       = azurerm_container_registry.this.id
}

output "login_server" {
  description = "Login server, e.g. acrphonebillprod.azurecr.io (Helm image.registry)."
  value       = azurerm_container_registry.this.login_server
}
