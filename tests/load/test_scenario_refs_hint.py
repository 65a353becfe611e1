"""A scenario entry naming another entry that does not exist: the error line names the file,
the entry and the key, and the closest existing name (second trial: `fw-pipp` got no hint)."""

from __future__ import annotations

import pytest

import dataplane
from dataplane.errors import InputError

SCENARIO = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: {AzureFirewallSubnet: 10.0.1.0/26}}
public_ips:
  fw-pip: {address: 203.0.113.10}
firewalls:
  fw: {subnet: hub/AzureFirewallSubnet, ip: 10.0.1.4, public_ips: [PIP]}
"""


@pytest.mark.parametrize(("name", "hint"), [("fw-pipp", "(did you mean 'fw-pip'?)"),
                                            ("zzz", "(known: fw-pip)")])
def test_an_unknown_reference_names_the_closest(tmp_path, name, hint):
    (tmp_path / "s.yaml").write_text(SCENARIO.replace("PIP", name))
    with pytest.raises(InputError) as err:
        dataplane.load(tmp_path / "s.yaml")
    text = str(err.value)
    assert f"unknown public_ip '{name}' {hint}" in text and "s.yaml" in text and "'fw'" in text
