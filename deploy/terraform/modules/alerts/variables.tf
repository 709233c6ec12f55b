variable "name_prefix" {
  type        = string
  description = "Prefix for resource names, e.g. \"phonebill-prod\"."

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
  description = "Resource group for rules, data collection and the workbook."
}

variable "cluster_id" {
  type        = string
  description = "Resource id of the AKS cluster."
}

variable "cluster_name" {
  type        = string
  description = "Name of the AKS cluster (Prometheus rule groups are bound to it)."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the services (seed 4.4: phonebill-prod)."
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace that receives Container Insights data."
}

variable "monitor_workspace_id" {
  type        = string
  description = "Azure Monitor workspace (managed Prometheus)."
}

variable "action_group_id" {
  type        = string
  description = "Action group notified by every alert."
}

variable "thresholds" {
  type = object({
    error_rate_ratio     = number
    error_rate_window    = string
    avg_response_seconds = number
    response_window      = string
    pod_restarts         = number
    pod_restart_window   = string
    node_cpu_percent     = number
    node_cpu_window      = string
    node_memory_percent  = number
    node_memory_window   = string
    kos_p95_seconds      = number
    kos_window           = string
  })
  description = "Alert thresholds and windows (seed 8.1.2 and 6.1.3). Windows are Prometheus range durations such as 5m."

  validation {
    condition     = var.thresholds.error_rate_ratio > 0 && var.thresholds.error_rate_ratio < 1
    error_message = "error_rate_ratio is a fraction, e.g. 0.05 for 5 %."
  }

  validation {
    condition     = var.thresholds.node_cpu_percent > 0 && var.thresholds.node_cpu_percent <= 100 && var.thresholds.node_memory_percent > 0 && var.thresholds.node_memory_percent <= 100
    error_message = "Node thresholds are percentages."
  }

  validation {
    condition = alltrue([for w in [
      var.thresholds.error_rate_window, var.thresholds.response_window, var.thresholds.pod_restart_window,
      var.thresholds.node_cpu_window, var.thresholds.node_memory_window, var.thresholds.kos_window,
    ] : can(regex("^[0-9]+[mh]$", w))])
    error_message = "Windows are Prometheus durations such as 5m or 10m."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
