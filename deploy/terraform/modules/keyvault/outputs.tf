output "id" {
  description = "Resource id of the Key Vault."
  value       = azurerm_key_vault.this.id
}

output "name" {
  description = "Name of the Key Vault (the Helm chart's SecretProviderClass keyvaultName)."
  value       = azurerm_key_vault.this.name
}

output "vault_uri" {
  description = "Data-plane URI of the Key Vault."
  value       = azurerm_key_vault.this.vault_uri
}

output "tenant_id" {
  description = "Tenant of the Key Vault (SecretProviderClass tenantId)."
  value       = azurerm_key_vault.this.tenant_id
}
