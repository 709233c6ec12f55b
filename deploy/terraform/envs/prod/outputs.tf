output "resource_group_name" {
  description = "Resource group of the environment."
  value       = azurerm_resource_group.this.name
}

output "aks_cluster_name" {
  description = "AKS cluster name (az aks get-credentials)."
  value       = module.aks.name
}

output "aks_oidc_issuer_url" {
  description = "OIDC issuer of the cluster."
  value       = module.aks.oidc_issuer_url
}

output "acr_login_server" {
  description = "Registry login server for the Helm chart's image.registry."
  value       = module.acr.login_server
}

output "key_vault_name" {
  description = "Key Vault name for the SecretProviderClass (keyvaultName)."
  value       = module.keyvault.name
}

output "key_vault_tenant_id" {
  description = "Tenant id for the SecretProviderClass (tenantId)."
  value       = module.keyvault.tenant_id
}

output "workload_identity_client_id" {
  description = "Client id for azure.workload.identity/client-id on the service accounts and the SecretProviderClass clientID."
  value       = module.workload_identity.client_id
}

output "key_vault_secret_names" {
  description = "Secrets the Helm chart mounts."
  value       = module.secrets.secret_names
}

output "postgres_fqdn" {
  description = "PostgreSQL primary FQDN."
  value       = module.postgres.fqdn
}

output "postgres_replica_fqdns" {
  description = "Read replica FQDNs."
  value       = module.postgres.replica_fqdns
}

output "redis_hostname" {
  description = "Redis host name (TLS 6380)."
  value       = module.redis.hostname
}

output "application_gateway_public_ip" {
  description = "Public IP of the Application Gateway."
  value       = module.appgw.public_ip_address
}

output "appgw_ssl_certificate_name" {
  description = "Certificate name the chart's Ingress references (values-prod.yaml ingress.appgwSslCertificate)."
  value       = module.appgw.ssl_certificate_name
}

output "application_insights_connection_string" {
  description = "Application Insights connection string."
  value       = module.monitoring.application_insights_connection_string
  sensitive   = true
}

output "workbook_id" {
  description = "Resource id of the services workbook."
  value       = module.alerts.workbook_id
}

output "runner_subnet_id" {
  description = "RunnerSubnet: where the self-hosted runner of release.yml runs (push to ACR over the private endpoint)."
  value       = azurerm_subnet.runner.id
}
