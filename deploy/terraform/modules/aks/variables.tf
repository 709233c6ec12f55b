variable "name_prefix" {
  type        = string
  description = "Prefix for resource names, e.g. \"phonebill-prod\" gives aks-phonebill-prod."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name_prefix))
    error_message = "name_prefix must be 3-31 lower-case letters, digits or hyphens."
  }
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the cluster."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version (seed 3.1.1: 1.29). Patch upgrades follow automatic_upgrade_channel."

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version is a minor version such as 1.29."
  }
}

variable "sku_tier" {
  type        = string
  description = "AKS control plane tier (seed 3.1.1: Standard)."

  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.sku_tier)
    error_message = "sku_tier must be Free, Standard or Premium."
  }
}

variable "support_plan" {
  type        = string
  description = "KubernetesOfficial, or AKSLongTermSupport (needs sku_tier Premium) to stay on a minor version after its community support ends, as 1.29 has."
  default     = "KubernetesOfficial"

  validation {
    condition     = contains(["KubernetesOfficial", "AKSLongTermSupport"], var.support_plan)
    error_message = "support_plan must be KubernetesOfficial or AKSLongTermSupport."
  }
}

variable "subnet_id" {
  type        = string
  description = "Node subnet (seed 4.1.1: application subnet 10.0.1.0/24)."
}

variable "zones" {
  type        = list(string)
  description = "Availability zones of both node pools (seed 3.1.2: 1, 2, 3)."

  validation {
    condition     = length(var.zones) > 0 && alltrue([for z in var.zones : contains(["1", "2", "3"], z)])
    error_message = "zones must be a non-empty subset of 1, 2, 3."
  }
}

variable "system_pool" {
  type = object({
    vm_size         = string
    node_count      = number
    min_count       = number
    max_count       = number
    max_pods        = number
    os_disk_size_gb = number
  })
  description = "System node pool (seed 3.1.2: Standard_D2s_v3, 3 nodes, autoscale 3-5). OS disks are ephemeral, so os_disk_size_gb must fit the VM's cache (50 GiB on D2s_v3)."

  validation {
    condition     = var.system_pool.min_count >= 1 && var.system_pool.min_count <= var.system_pool.node_count && var.system_pool.node_count <= var.system_pool.max_count
    error_message = "system_pool needs 1 <= min_count <= node_count <= max_count."
  }

  validation {
    condition     = var.system_pool.max_pods >= 50 && var.system_pool.max_pods <= 250
    error_message = "system_pool.max_pods must be 50-250."
  }
}

variable "application_pool" {
  type = object({
    name            = string
    vm_size         = string
    node_count      = number
    min_count       = number
    max_count       = number
    max_pods        = number
    os_disk_size_gb = number
    taints          = list(string)
    labels          = map(string)
  })
  description = "Application node pool (seed 3.1.2: Standard_D4s_v3, 3 nodes, autoscale 3-10, taint application-workload=true:NoSchedule). OS disks are ephemeral: os_disk_size_gb must fit the VM's cache (100 GiB on D4s_v3)."

  validation {
    condition     = var.application_pool.min_count >= 0 && var.application_pool.min_count <= var.application_pool.node_count && var.application_pool.node_count <= var.application_pool.max_count
    error_message = "application_pool needs 0 <= min_count <= node_count <= max_count."
  }

  validation {
    condition     = var.application_pool.max_pods >= 50 && var.application_pool.max_pods <= 250
    error_message = "application_pool.max_pods must be 50-250."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{0,11}$", var.application_pool.name))
    error_message = "application_pool.name must be 1-12 lower-case alphanumerics starting with a letter."
  }

  validation {
    condition     = alltrue([for t in var.application_pool.taints : can(regex("^[^=]+=[^:]*:(NoSchedule|PreferNoSchedule|NoExecute)$", t))])
    error_message = "Taints look like key=value:NoSchedule."
  }
}

variable "pod_cidr" {
  type        = string
  description = "Overlay pod CIDR (Azure CNI Overlay); must not overlap the VNet."
  default     = "192.168.0.0/16"

  validation {
    condition     = can(cidrhost(var.pod_cidr, 0))
    error_message = "pod_cidr must be a valid IPv4 CIDR block."
  }
}

variable "service_cidr" {
  type        = string
  description = "Kubernetes service CIDR; must not overlap the VNet or pod CIDR."
  default     = "172.16.0.0/16"

  validation {
    condition     = can(cidrhost(var.service_cidr, 0))
    error_message = "service_cidr must be a valid IPv4 CIDR block."
  }
}

variable "admin_group_object_ids" {
  type        = list(string)
  description = "Entra ID groups that get cluster-admin through Azure RBAC (seed 3.1.1: Azure AD integrated RBAC)."
  default     = []

  validation {
    condition     = alltrue([for g in var.admin_group_object_ids : can(regex("^[0-9a-fA-F-]{36}$", g))])
    error_message = "Group object ids are GUIDs."
  }
}

variable "application_gateway_id" {
  type        = string
  description = "Application Gateway that the AGIC add-on manages (seed 3.1.1: Application Gateway Ingress Controller)."
}

variable "application_gateway_subnet_id" {
  type        = string
  description = "Gateway subnet; the AGIC identity needs Network Contributor on it."
}

variable "application_gateway_identity_id" {
  type        = string
  description = "User-assigned identity of the gateway; AGIC needs Managed Identity Operator on it."
}

variable "acr_id" {
  type        = string
  description = "Container registry the kubelet identity may pull from (AcrPull)."
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace for Container Insights and control-plane diagnostics."
}

variable "secret_rotation_interval" {
  type        = string
  description = "How often the Key Vault CSI driver re-reads mounted secrets."
  default     = "2m"

  validation {
    condition     = can(regex("^[0-9]+[smh]$", var.secret_rotation_interval))
    error_message = "secret_rotation_interval looks like 2m."
  }
}

variable "maintenance_window" {
  type = object({
    day_of_week = string
    start_time  = string
    utc_offset  = string
    duration    = number
  })
  description = "Planned maintenance window (seed 10.2.1: Sunday 02:00-04:00 KST)."
  default = {
    day_of_week = "Sunday"
    start_time  = "02:00"
    utc_offset  = "+09:00"
    duration    = 4
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
