# One user-assigned identity for the application pods (seed 7.2.1), federated with
# each service account so the Secrets Store CSI driver can read Key Vault with
# workload identity (no client secret anywhere).

resource "azurerm_user_assigned_identity" "services" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "service_account" {
  for_each            = toset(var.service_accounts)
  name                = "fic-${each.value}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.services.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${each.value}"
}

resource "azurerm_role_assignment" "key_vault_secrets_user" {
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.services.principal_id
}
