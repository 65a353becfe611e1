"""The hub-and-spoke firewall topology of issue 9's smallest input, shared by tests.

Two spokes behind a hub Azure Firewall (classic network rules): app1 (spoke1, route table rt1)
and db1 (spoke2, rt2) both route 0.0.0.0/0 to the firewall's private IP 10.0.255.4; the hub is
peered with each spoke (allowForwardedTraffic). `hub_fw(*rules)` gives the scenario YAML with
the firewall's one rule collection `sql` (priority 100, Allow) holding `rules` (YAML flow
mappings); HUB_FW holds spoke1 -> spoke2 TCP 1433 only.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from dataplane.load import read_resources

SPOKE1_TO_SQL = ('{name: spoke1-to-sql, protocols: [TCP], source: [10.1.0.0/16],\n'
                 '           destination: [10.2.0.0/16], ports: ["1433"]}')
SPOKE2_TO_APP = ('{name: spoke2-to-app, protocols: [TCP], source: [10.2.0.0/16],\n'
                 '           destination: [10.1.0.0/16], ports: ["1433"]}')


def hub_fw(*rules: str) -> str:
    """The scenario YAML of the hub topology with the firewall's rules `rules`."""
    listed = ",\n          ".join(rules)
    return f"""
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16]
    subnets: {{AzureFirewallSubnet: 10.0.255.0/26}}
  spoke1:
    region: westeurope
    address_space: [10.1.0.0/16]
    subnets: {{app: {{prefix: 10.1.1.0/24, route_table: rt1}}}}
  spoke2:
    region: westeurope
    address_space: [10.2.0.0/16]
    subnets: {{db: {{prefix: 10.2.1.0/24, route_table: rt2}}}}
peerings:
  - {{between: [hub, spoke1], allow_forwarded_traffic: true}}
  - {{between: [hub, spoke2], allow_forwarded_traffic: true}}
route_tables:
  rt1: {{routes: [{{name: default-via-fw, prefix: 0.0.0.0/0, next_hop: VirtualAppliance,
                  next_hop_ip: 10.0.255.4}}]}}
  rt2: {{routes: [{{name: default-via-fw, prefix: 0.0.0.0/0, next_hop: VirtualAppliance,
                  next_hop_ip: 10.0.255.4}}]}}
firewalls:
  fw: {{subnet: hub/AzureFirewallSubnet, ip: 10.0.255.4, collections: [
        {{name: sql, priority: 100, action: Allow, rules: [
          {listed}]}}]}}
vms:
  app1: {{subnet: spoke1/app, ip: 10.1.1.4, size: Standard_D2s_v3}}
  db1: {{subnet: spoke2/db, ip: 10.2.1.4, size: Standard_D2s_v3}}
"""


HUB_FW = hub_fw(SPOKE1_TO_SQL)


def caveated_hub_json(tmp: Path, text: str, extra: tuple[dict, ...] = ()) -> Path:
    """`text` (a hub_fw scenario) written as az JSON at tmp/hub.json, with a misspelt route
    property on rt1 (beside the right one, so the route still works: a near-miss caveat on
    app1's subnet) and a classic FQDN rule on the firewall (not evaluated: a firewall caveat),
    plus the resources `extra`."""
    (tmp / "hub.yaml").write_text(text)
    resources = copy.deepcopy(read_resources(tmp / "hub.yaml")[0])
    rt1 = next(r for r in resources if r["name"] == "rt1")
    rt1["properties"]["routes"][0]["properties"]["nextHopIpAdress"] = "10.0.255.4"
    fw = next(r for r in resources if r["type"] == "Microsoft.Network/azureFirewalls")
    fw["properties"]["networkRuleCollections"][0]["properties"]["rules"].append(
        {"name": "by-name", "protocols": ["TCP"], "sourceAddresses": ["10.1.0.0/16"],
         "destinationFqdns": ["sql.contoso.internal"], "destinationPorts": ["1433"]})
    resources.extend(extra)
    for r in resources:
        r.pop("source", None)
    path = tmp / "hub.json"
    path.write_text(json.dumps(resources))
    return path
