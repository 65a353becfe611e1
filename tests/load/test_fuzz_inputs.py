"""Malformed inputs of any shape end in InputError (a one-line message), never another
exception: random JSON-like values in the places resources and scenarios have them."""

from __future__ import annotations

import json

import yaml
from hypothesis import given
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.load import load
from dataplane.load.scenario import load_scenario_text

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.sampled_from(
    ["", "*", "10.0.0.0/16", "10.0.0.300", "Tcp", "Inbound", "x/y", "/subscriptions/1/a"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["id", "name", "type", "properties", "addressPrefix", "subnets", "addressSpace",
         "addressPrefixes", "securityRules", "priority", "ipConfigurations", "subnet",
         "remoteVirtualNetwork", "routes", "nextHopType"]), inner, max_size=4)), max_leaves=12)
TYPES = st.sampled_from([
    "Microsoft.Network/virtualNetworks", "Microsoft.Network/networkSecurityGroups",
    "Microsoft.Network/routeTables", "Microsoft.Network/networkInterfaces",
    "Microsoft.Network/virtualNetworks/subnets", "Microsoft.Compute/virtualMachines",
    "Microsoft.Network/loadBalancers", "Microsoft.Network/azureFirewalls",
    "Microsoft.Network/connections", "Microsoft.Network/virtualNetworkGateways"])


@given(st.lists(st.fixed_dictionaries(
    {"type": TYPES, "name": st.sampled_from(["a", "b"]), "id": st.sampled_from(
        ["/subscriptions/1/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/a",
         "/subscriptions/1/resourceGroups/r/providers/Microsoft.Network/x/b"])},
    optional={"properties": values, "location": scalars}), max_size=4))
def test_random_dump_resources_never_crash(tmp_path_factory, resources):
    path = tmp_path_factory.mktemp("fuzz") / "dump.json"
    path.write_text(json.dumps(resources))
    try:
        load(path)
    except InputError as error:
        assert "\n" not in error.one_line()


@given(st.dictionaries(st.sampled_from(
    ["vnets", "peerings", "nsgs", "vms", "route_tables", "on_premises", "asgs", "firewalls",
     "load_balancers"]), values, max_size=4))
def test_random_scenarios_never_crash(doc):
    try:
        load_scenario_text(yaml.safe_dump(doc), "fuzz.yaml")
    except InputError as error:
        assert "\n" not in error.one_line()
