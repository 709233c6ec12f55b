output "client_id" {
  description = "Client id for the service accounts' azure.workload.identity/client-id annotation and the SecretProviderClass clientID."
  value       = azurerm_user_assigned_identity.services.client_id
}

output "principal_id" {
  description = "Object id of the identity."
  value       = azurerm_user_assigned_identity.services.principal_id
}

output "id" {
  description = "Resource id of the identity."
  value       = azurerm_user_assigned_identity.services.id
}
