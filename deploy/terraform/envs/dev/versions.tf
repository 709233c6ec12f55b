terraform {
  # Write-only attributes (value_wo, administrator_password_wo) and ephemeral
  # resources need Terraform 1.11 or later.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.30"
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 3.4"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.1"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13"
    }
  }

  # Remote state in Azure Storage. Settings come from a partial configuration:
  #   terraform init -backend-config=backend.hcl
  # (copy backend.hcl.example). Authentication is Entra ID (use_azuread_auth),
  # so no storage key or SAS token is ever written down.
  backend "azurerm" {}
}
