output "id" {
  description = "Resource id of the Application Gateway (AGIC add-on target)."
  value       = azurerm_application_gateway.this.id
}

output "name" {
  description = "Name of the Application Gateway."
  value       = azurerm_application_gateway.this.name
}

output "public_ip_address" {
  description = "Static public IP of the gateway (point the DNS records / Front Door origin here)."
  value       = azurerm_public_ip.gateway.ip_address
}

output "identity_id" {
  description = "User-assigned identity of the gateway (AGIC needs Managed Identity Operator on it)."
  value       = azurerm_user_assigned_identity.gateway.id
}

output "waf_policy_id" {
  description = "Resource id of the WAF policy."
  value       = azurerm_web_application_firewall_policy.this.id
}

output "ssl_certificate_name" {
  description = "Name of the gateway's TLS certificate: the chart's ingress.appgwSslCertificate."
  value       = var.ssl_certificate_name
}
