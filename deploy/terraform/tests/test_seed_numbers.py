#!/usr/bin/env python3
"""Seed-number guard for deploy/terraform/envs/prod (issue 10).

Asserts that the key figures of physical-architecture-prod.md are what the
production root (and the modules it calls) actually configures, so a change to
any of them is a deliberate, reviewed edit of this file too.

Run with the python that has python-hcl2 installed (scripts/check-terraform.sh
uses .tools/venv-tf). Prints one line per assertion and a final
"N passed, M failed" line; exits non-zero on any failure.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import hcl2

TF = Path(__file__).resolve().parent.parent
PROD = TF / "envs" / "prod"
MODULES = TF / "modules"

results: list[tuple[bool, str]] = []


def check(cond: bool, label: str) -> None:
    results.append((bool(cond), label))


def unquote(v):
    """python-hcl2 8 keeps HCL string quotes; strip them recursively."""
    if isinstance(v, str):
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            return v[1:-1]
        return v
    if isinstance(v, list):
        return [unquote(x) for x in v]
    if isinstance(v, dict):
        return {unquote(k): unquote(x) for k, x in v.items() if k not in ("__is_block__", "__comments__")}
    return v


def load(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return unquote(hcl2.load(fh))


def blocks(doc: dict, kind: str) -> dict:
    """Merge the list-of-dicts python-hcl2 returns for module/locals blocks."""
    out: dict = {}
    for item in doc.get(kind, []):
        out.update(item)
    return out


def resources(doc: dict, rtype: str) -> dict:
    out: dict = {}
    for item in doc.get("resource", []):
        for t, named in item.items():
            if t == rtype:
                out.update(named)
    return out


def num(v) -> float:
    return float(v)


main = load(PROD / "main.tf")
mods = blocks(main, "module")
local = blocks(main, "locals")

# --- region, names -------------------------------------------------------------
check(local.get("location") == "koreacentral", "primary region koreacentral (seed 3.2.1)")
check(local.get("dr_location") == "koreasouth", "DR region koreasouth (seed 10.1.1)")
check(local.get("namespace") == "phonebill-prod", "namespace phonebill-prod (seed 4.4)")
check(local.get("databases") == {
    "auth": "phonebill_auth", "bill-inquiry": "phonebill_bill",
    "product-change": "phonebill_product", "kos-mock": "phonebill_kos",
}, "one database per service")

# --- network (seed 4.1.1) ------------------------------------------------------------
net = mods["network"]
check(net["address_space"] == "10.0.0.0/16", "VNet 10.0.0.0/16")
sub = net["subnets"]
check(sub["application"] == {"name": "ApplicationSubnet", "cidr": "10.0.1.0/24"}, "application subnet 10.0.1.0/24")
check(sub["database"] == {"name": "DatabaseSubnet", "cidr": "10.0.2.0/24"}, "database subnet 10.0.2.0/24")
check(sub["cache"] == {"name": "CacheSubnet", "cidr": "10.0.3.0/24"}, "cache subnet 10.0.3.0/24")
check(sub["gateway"] == {"name": "ApplicationGatewaySubnet", "cidr": "10.0.4.0/24"}, "gateway subnet 10.0.4.0/24 ApplicationGatewaySubnet")
check("Microsoft.ContainerRegistry" in net["application_subnet_service_endpoints"], "application subnet service endpoint ContainerRegistry")

net_main = load(MODULES / "network" / "main.tf")
db_subnet = resources(net_main, "azurerm_subnet")["database"]
deleg = db_subnet["delegation"][0]["service_delegation"][0]["name"]
check(deleg == "Microsoft.DBforPostgreSQL/flexibleServers", "database subnet delegated to PostgreSQL")
nsgs = resources(net_main, "azurerm_network_security_group")
gw_rules = {r["name"]: r for r in nsgs["gateway"]["security_rule"]}
check(gw_rules["HTTPS"]["destination_port_range"] == "443" and gw_rules["HTTPS"]["source_address_prefix"] == "Internet"
      and gw_rules["HTTPS"]["access"] == "Allow", "AppGW NSG HTTPS 443 from Internet")
check(gw_rules["HTTP"]["destination_port_range"] == "80" and gw_rules["HTTP"]["source_address_prefix"] == "Internet",
      "AppGW NSG HTTP 80 from Internet")
aks_rules = {(r["direction"], r["name"]): r for r in nsgs["application"]["security_rule"]}
check(aks_rules[("Inbound", "AppGateway")]["destination_port_ranges"] == ["80", "443"], "AKS NSG inbound AppGateway 80,443")
check(aks_rules[("Outbound", "Database")]["destination_port_range"] == "5432", "AKS NSG outbound Database 5432")
check(("Outbound", "Cache") in aks_rules, "AKS NSG outbound Cache rule")
net_vars = blocks(load(MODULES / "network" / "variables.tf"), "variable")
dns = set(net_vars["private_dns_zones"]["default"])
check({"privatelink.postgres.database.azure.com", "privatelink.redis.cache.windows.net",
       "privatelink.vaultcore.azure.net"} <= dns, "private DNS zones of seed 7.3.1")

# --- AKS (seed 3.1) ------------------------------------------------------------------
aks = mods["aks"]
check(aks["kubernetes_version"] == "1.29", "AKS version 1.29")
check(aks["sku_tier"] == "Standard", "AKS tier Standard")
check(aks["zones"] == ["1", "2", "3"], "AKS zones 1,2,3")
sp = aks["system_pool"]
check(sp["vm_size"] == "Standard_D2s_v3", "system pool Standard_D2s_v3")
check((num(sp["node_count"]), num(sp["min_count"]), num(sp["max_count"])) == (3, 3, 5), "system pool 3 nodes, min 3, max 5")
ap = aks["application_pool"]
check(ap["vm_size"] == "Standard_D4s_v3", "application pool Standard_D4s_v3")
check((num(ap["node_count"]), num(ap["min_count"]), num(ap["max_count"])) == (3, 3, 10), "application pool 3 nodes, min 3, max 10")
check(ap["taints"] == ["application-workload=true:NoSchedule"], "application pool taint application-workload=true:NoSchedule")

aks_main = load(MODULES / "aks" / "main.tf")
cluster = resources(aks_main, "azurerm_kubernetes_cluster")["this"]
check(cluster["private_cluster_enabled"] is True, "private cluster")
np = cluster["network_profile"][0]
check(np["network_plugin"] == "azure" and np["network_policy"] == "azure", "Azure CNI with Azure network policies")
check(cluster["oidc_issuer_enabled"] is True and cluster["workload_identity_enabled"] is True, "OIDC issuer and workload identity")
check(cluster["azure_policy_enabled"] is True, "Azure Policy add-on")
check("key_vault_secrets_provider" in cluster, "Key Vault CSI add-on")
check("oms_agent" in cluster, "Container Insights")
check("ingress_application_gateway" in cluster, "AGIC add-on")
check(cluster["default_node_pool"][0]["auto_scaling_enabled"] is True, "system pool autoscaler")
check(resources(aks_main, "azurerm_role_assignment")["kubelet_acr_pull"]["role_definition_name"] == "AcrPull", "ACR pull role")

# --- PostgreSQL (seed 5.1) -----------------------------------------------------------
pg = mods["postgres"]
check(pg["name"] == "phonebill-postgresql", "PostgreSQL name phonebill-postgresql")
check(pg["sku_name"] == "GP_Standard_D4s_v3", "PostgreSQL GP_Standard_D4s_v3")
check(num(pg["storage_mb"]) == 262144, "PostgreSQL storage 256 GB")
check(num(pg["backup_retention_days"]) == 35, "PostgreSQL backups 35 days")
check(pg["geo_redundant_backup_enabled"] is True, "PostgreSQL geo-redundant backup")
check(pg["high_availability_mode"] == "ZoneRedundant", "PostgreSQL HA ZoneRedundant")
reps = pg["read_replicas"]
check(sorted((r["location"], r["sku_name"]) for r in reps.values()) ==
      [("${local.dr_location}", "GP_Standard_D2s_v3"), ("${local.location}", "GP_Standard_D2s_v3")],
      "read replicas: Korea South and Korea Central, GP_Standard_D2s_v3")
pg_main_text = (MODULES / "postgres" / "main.tf").read_text(encoding="utf-8")
check(re.search(r'require_secure_transport\s*=\s*"on"', pg_main_text) is not None, "PostgreSQL TLS enforced")
check(re.search(r'ssl_min_protocol_version\s*=\s*"TLSv1.2"', pg_main_text) is not None, "PostgreSQL TLS 1.2 minimum")
pg_primary = resources(load(MODULES / "postgres" / "main.tf"), "azurerm_postgresql_flexible_server")["primary"]
check(pg_primary["public_network_access_enabled"] is False, "PostgreSQL private access only")

# --- Redis (seed 5.2) --------------------------------------------------------------------
rd = mods["redis"]
check(rd["name"] == "phonebill-redis", "Redis name phonebill-redis")
check((rd["sku_name"], rd["family"], num(rd["capacity"])) == ("Premium", "P", 2), "Redis Premium P2")
check(num(rd["shard_count"]) == 3, "Redis 3 shards")
check(num(rd["replicas_per_primary"]) == 1, "Redis 1 replica per shard")
check(len(rd["zones"]) >= 2, "Redis zone redundant")
check(rd["persistence"]["mode"] == "rdb" and num(rd["persistence"]["rdb_frequency_minutes"]) == 60, "Redis RDB every 60 minutes")
redis_res = resources(load(MODULES / "redis" / "main.tf"), "azurerm_redis_cache")["this"]
check(redis_res["non_ssl_port_enabled"] is False and redis_res["minimum_tls_version"] == "1.2", "Redis TLS only")
check(redis_res["public_network_access_enabled"] is False, "Redis private endpoint only")

# --- Application Gateway + WAF (seed 4.2) ---------------------------------------------------
gw = mods["appgw"]
check(gw["waf_mode"] == "Prevention", "WAF mode Prevention")
check(gw["owasp_version"] == "3.2", "WAF OWASP 3.2")
check(num(gw["rate_limit_per_minute"]) == 100, "WAF rate limit 100/min")
check(gw["private_ip_address"] == "10.0.4.10", "AppGW private IP 10.0.4.10")
check(num(gw["min_capacity"]) == 2, "AppGW autoscale minimum 2")
check(gw["zones"] == ["1", "2", "3"], "AppGW zones 1,2,3")
gw_main = load(MODULES / "appgw" / "main.tf")
waf = resources(gw_main, "azurerm_web_application_firewall_policy")["this"]
rl = waf["custom_rules"][0]
check(rl["name"] == "RateLimiting" and rl["rule_type"] == "RateLimitRule" and rl["rate_limit_duration"] == "OneMin"
      and rl["group_rate_limit_by"] == "ClientAddr" and rl["action"] == "Block", "RateLimiting rule per client IP per minute, Block")
agw = resources(gw_main, "azurerm_application_gateway")["this"]
check(agw["sku"][0]["name"] == "WAF_v2", "AppGW SKU WAF_v2")
gw_text = (MODULES / "appgw" / "main.tf").read_text(encoding="utf-8")
for name in ("aks-backend", "https-listener", "api-routing", "/api/*"):
    check(f'"{name}"' in gw_text, f"AppGW has {name}")

# --- Key Vault, ACR, secrets (seed 7.4.1, 9) ---------------------------------------------------
kv = mods["keyvault"]
check(kv["sku_name"] == "premium", "Key Vault Premium")
kv_res = resources(load(MODULES / "keyvault" / "main.tf"), "azurerm_key_vault")["this"]
check(kv_res["purge_protection_enabled"] is True and kv_res["enable_rbac_authorization"] is True, "Key Vault RBAC + purge protection")
check(num(mods["secrets"]["rotation_days"]) == 90, "secret rotation 90 days")
acr = mods["acr"]
check(acr["sku"] == "Premium" and acr["georeplication_locations"] == ["${local.dr_location}"], "ACR Premium geo-replicated to DR region")

# --- Monitoring (seed 8.1) -----------------------------------------------------------------------
mon = mods["monitoring"]
check(num(mon["log_retention_days"]) == 90, "Log Analytics retention 90 days")
check(num(mon["log_daily_cap_gb"]) == 5, "Log Analytics daily cap 5 GB")
check(num(mon["appinsights_sampling_percentage"]) == 10, "Application Insights sampling 10 %")
th = mods["alerts"]["thresholds"]
check(num(th["error_rate_ratio"]) == 0.05 and th["error_rate_window"] == "5m", "alert: error rate > 5 % over 5m")
check(num(th["avg_response_seconds"]) == 3 and th["response_window"] == "5m", "alert: response time > 3 s over 5m")
check(num(th["pod_restarts"]) == 5 and th["pod_restart_window"] == "10m", "alert: pod restarts > 5 in 10m")
check(num(th["node_cpu_percent"]) == 85 and th["node_cpu_window"] == "10m", "alert: node CPU > 85 % over 10m")
check(num(th["node_memory_percent"]) == 90 and th["node_memory_window"] == "5m", "alert: node memory > 90 % over 5m")

wb = json.loads((MODULES / "alerts" / "workbook.json").read_text(encoding="utf-8"))
wb_text = json.dumps(wb)
for metric in ("http_server_request_duration_seconds", "cache_requests_total", "circuit_breaker_state",
               "kos_request_duration_seconds"):
    check(metric in wb_text, f"workbook uses {metric}")
for q in ("histogram_quantile(0.95", "histogram_quantile(0.99"):
    check(q in wb_text, f"workbook has {q}")

# --- providers and backend -------------------------------------------------------------------------
versions = (PROD / "versions.tf").read_text(encoding="utf-8")
check(re.search(r'backend\s+"azurerm"\s*\{\s*\}', versions) is not None, "azurerm backend (partial configuration)")
check(re.search(r'azurerm\s*=\s*\{[^}]*version\s*=\s*"~>\s*4\.', versions, re.S) is not None, "azurerm pinned ~> 4.x")
check(re.search(r'azuread\s*=\s*\{[^}]*version\s*=\s*"~>\s*3\.', versions, re.S) is not None, "azuread pinned ~> 3.x")

# --- no hard-coded secrets ----------------------------------------------------------------------------
secret_literal = re.compile(r'^\s*(\w*(password|secret|access_key|api_key|token)\w*)\s*=\s*"[^"$]{6,}"', re.I | re.M)
hits = [f"{p.relative_to(TF)}:{m.group(1)}" for p in TF.rglob("*.tf") for m in secret_literal.finditer(p.read_text(encoding="utf-8"))]
check(not hits, "no literal secrets in .tf files" + (f" ({', '.join(hits)})" if hits else ""))

failed = 0
for ok, label in results:
    print(("ok:   " if ok else "FAIL: ") + label)
    failed += 0 if ok else 1
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
