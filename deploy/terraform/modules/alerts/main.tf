locals {
  t  = var.thresholds
  ns = var.namespace
}

# --- Container Insights (stdout/stderr logs, cpu/memory/network; seed 8.1.1) ---------

resource "azurerm_monitor_data_collection_rule" "container_insights" {
  name                = "MSCI-${var.location}-${var.cluster_name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags

  destinations {
    log_analytics {
      workspace_resource_id = var.log_analytics_workspace_id
      name                  = "ciworkspace"
    }
  }

  data_flow {
    streams      = ["Microsoft-ContainerInsights-Group-Default"]
    destinations = ["ciworkspace"]
  }

  data_sources {
    extension {
      name           = "ContainerInsightsExtension"
      extension_name = "ContainerInsights"
      streams        = ["Microsoft-ContainerInsights-Group-Default"]
      extension_json = jsonencode({
        dataCollectionSettings = {
          interval               = "1m"
          namespaceFilteringMode = "Off"
          enableContainerLogV2   = true
        }
      })
    }
  }
}

resource "azurerm_monitor_data_collection_rule_association" "container_insights" {
  name                    = "ContainerInsightsExtension"
  target_resource_id      = var.cluster_id
  data_collection_rule_id = azurerm_monitor_data_collection_rule.container_insights.id
}

# --- Managed Prometheus (scrapes the services' /actuator/prometheus) ------------------

resource "azurerm_monitor_data_collection_endpoint" "prometheus" {
  name                = "dce-${var.name_prefix}-prometheus"
  location            = var.location
  resource_group_name = var.resource_group_name
  kind                = "Linux"
  tags                = var.tags
}

resource "azurerm_monitor_data_collection_rule" "prometheus" {
  name                        = "dcr-${var.name_prefix}-prometheus"
  location                    = var.location
  resource_group_name         = var.resource_group_name
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.prometheus.id
  kind                        = "Linux"
  tags                        = var.tags

  destinations {
    monitor_account {
      monitor_account_id = var.monitor_workspace_id
      name               = "amw"
    }
  }

  data_flow {
    streams      = ["Microsoft-PrometheusMetrics"]
    destinations = ["amw"]
  }

  data_sources {
    prometheus_forwarder {
      name    = "PrometheusDataSource"
      streams = ["Microsoft-PrometheusMetrics"]
    }
  }
}

resource "azurerm_monitor_data_collection_rule_association" "prometheus" {
  name                    = "dcra-${var.name_prefix}-prometheus"
  target_resource_id      = var.cluster_id
  data_collection_rule_id = azurerm_monitor_data_collection_rule.prometheus.id
}

resource "azurerm_monitor_data_collection_rule_association" "prometheus_endpoint" {
  name                        = "configurationAccessEndpoint"
  target_resource_id          = var.cluster_id
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.prometheus.id
}

# --- Alert rules as code (seed 8.1.2 critical + resource alerts, 6.1.3 KOS) -------

resource "azurerm_monitor_alert_prometheus_rule_group" "application" {
  name                = "prg-${var.name_prefix}-application"
  location            = var.location
  resource_group_name = var.resource_group_name
  cluster_name        = var.cluster_name
  description         = "phonebill service alerts from http_server_request_duration_seconds, kube-state-metrics and KOS client metrics."
  rule_group_enabled  = true
  interval            = "PT1M"
  scopes              = [var.monitor_workspace_id, var.cluster_id]
  tags                = var.tags

  # Seed: High Error Rate, failed_requests > 5 % over 5 minutes -> Teams + Email.
  rule {
    alert      = "HighErrorRate"
    enabled    = true
    severity   = 1
    expression = <<-EOT
      (
        sum by (service) (rate(http_server_request_duration_seconds_count{status=~"5.."}[${local.t.error_rate_window}]))
        /
        sum by (service) (rate(http_server_request_duration_seconds_count[${local.t.error_rate_window}]))
      ) > ${local.t.error_rate_ratio}
    EOT
    labels = {
      severity = "critical"
    }
    annotations = {
      summary = "{{ $labels.service }}: more than ${local.t.error_rate_ratio * 100} % of requests failed with 5xx over ${local.t.error_rate_window}"
    }

    action {
      action_group_id = var.action_group_id
    }

    alert_resolution {
      auto_resolved   = true
      time_to_resolve = "PT10M"
    }
  }

  # Seed: High Response Time, avg_response_time > 3 s over 5 minutes -> Teams.
  rule {
    alert      = "HighResponseTime"
    enabled    = true
    severity   = 2
    expression = <<-EOT
      (
        sum by (service) (rate(http_server_request_duration_seconds_sum[${local.t.response_window}]))
        /
        sum by (service) (rate(http_server_request_duration_seconds_count[${local.t.response_window}]))
      ) > ${local.t.avg_response_seconds}
    EOT
    labels = {
      severity = "warning"
    }
    annotations = {
      summary = "{{ $labels.service }}: average response time above ${local.t.avg_response_seconds} s over ${local.t.response_window}"
    }

    action {
      action_group_id = var.action_group_id
    }

    alert_resolution {
      auto_resolved   = true
      time_to_resolve = "PT10M"
    }
  }

  # Seed: Pod Crash Loop, pod_restarts > 5 in 10 minutes.
  rule {
    alert      = "PodCrashLoop"
    enabled    = true
    severity   = 1
    expression = <<-EOT
      sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{namespace="${local.ns}"}[${local.t.pod_restart_window}])) > ${local.t.pod_restarts}
    EOT
    labels = {
      severity = "critical"
    }
    annotations = {
      summary = "{{ $labels.pod }} restarted more than ${local.t.pod_restarts} times in ${local.t.pod_restart_window}"
    }

    action {
      action_group_id = var.action_group_id
    }

    alert_resolution {
      auto_resolved   = true
      time_to_resolve = "PT15M"
    }
  }

  # Seed 6.1.3: KOS high_response_time 1000 ms over 5 minutes.
  rule {
    alert      = "KosSlowResponses"
    enabled    = true
    severity   = 3
    expression = <<-EOT
      histogram_quantile(0.95, sum by (endpoint, le) (rate(kos_request_duration_seconds_bucket[${local.t.kos_window}]))) > ${local.t.kos_p95_seconds}
    EOT
    labels = {
      severity = "warning"
    }
    annotations = {
      summary = "KOS {{ $labels.endpoint }}: p95 latency above ${local.t.kos_p95_seconds} s over ${local.t.kos_window}"
    }

    action {
      action_group_id = var.action_group_id
    }

    alert_resolution {
      auto_resolved   = true
      time_to_resolve = "PT10M"
    }
  }
}

resource "azurerm_monitor_alert_prometheus_rule_group" "nodes" {
  name                = "prg-${var.name_prefix}-nodes"
  location            = var.location
  resource_group_name = var.resource_group_name
  cluster_name        = var.cluster_name
  description         = "Node resource alerts from node-exporter metrics."
  rule_group_enabled  = true
  interval            = "PT1M"
  scopes              = [var.monitor_workspace_id, var.cluster_id]
  tags                = var.tags

  # Seed: High CPU Usage, cpu_utilization > 85 % over 10 minutes.
  rule {
    alert      = "HighNodeCpu"
    enabled    = true
    severity   = 2
    expression = <<-EOT
      100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[${local.t.node_cpu_window}]))) > ${local.t.node_cpu_percent}
    EOT
    labels = {
      severity = "warning"
    }
    annotations = {
      summary = "Node {{ $labels.instance }}: CPU above ${local.t.node_cpu_percent} % over ${local.t.node_cpu_window}"
    }

    action {
      action_group_id = var.action_group_id
    }

    alert_resolution {
      auto_resolved   = true
      time_to_resolve = "PT15M"
    }
  }

  # Seed: High Memory Usage, memory_utilization > 90 % over 5 minutes.
  rule {
    alert      = "HighNodeMemory"
    enabled    = true
    severity   = 2
    expression = <<-EOT
      100 * (1 - avg_over_time(node_memory_MemAvailable_bytes[${local.t.node_memory_window}]) / avg_over_time(node_memory_MemTotal_bytes[${local.t.node_memory_window}])) > ${local.t.node_memory_percent}
    EOT
    labels = {
      severity = "warning"
    }
    annotations = {
      summary = "Node {{ $labels.instance }}: memory above ${local.t.node_memory_percent} % over ${local.t.node_memory_window}"
    }

    action {
      action_group_id = var.action_group_id
    }

    alert_resolution {
      auto_resolved   = true
      time_to_resolve = "PT15M"
    }
  }
}

# --- Workbook (request rate, error rate, p95/p99, cache hit ratio, breaker, KOS) ---

resource "azurerm_application_insights_workbook" "services" {
  name                = uuidv5("url", "https://phonebill/workbooks/${var.name_prefix}/services")
  location            = var.location
  resource_group_name = var.resource_group_name
  display_name        = "phonebill services (${var.name_prefix})"
  source_id           = "azure monitor"
  category            = "workbook"
  data_json           = replace(file("${path.module}/workbook.json"), "__MONITOR_WORKSPACE_ID__", var.monitor_workspace_id)
  tags                = var.tags
}
