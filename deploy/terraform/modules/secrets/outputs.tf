output "secret_names" {
  description = "Names of every Key Vault secret the Helm chart's SecretProviderClass may mount."
  value = concat(
    [for s in azurerm_key_vault_secret.jwt_signing_key : s.name],
    [for s in azurerm_key_vault_secret.database_url : s.name],
    [azurerm_key_vault_secret.redis_url.name, azurerm_key_vault_secret.kos_api_key.name],
  )
}

output "jwt_signing_secret_names" {
  description = "JWT signing key secret names keyed by kid."
  value       = { for k, s in azurerm_key_vault_secret.jwt_signing_key : k => s.name }
}

output "kos_api_key_expires_at" {
  description = "When the automatically rotated kos-api-key is replaced next (RFC 3339)."
  value       = time_rotating.kos_api_key.rotation_rfc3339
}
