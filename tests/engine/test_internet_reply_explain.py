"""Issues 11/12 (inet item 3): `explain` of a reply that answered a pending application-rule
session (engine/pending.py) explains it as it was decided -- with the record as the run found
it -- when a later row of the same run, or a later run, wrote the flow's record over (a late
ClientHello turns the undecided flow into a denied one). It used to read the table as it
stands after the later rows (a denial) or, with a later row of the same run, no record."""

from __future__ import annotations

from inet_topo import internet_flow, internet_topology

from dataplane.engine import Emulator

UNKNOWN = ("firewall fw: application rule apps/web/contoso may allow it; server name unknown: "
           "no payload of this flow is in the capture (yet)")
UNMATCHED = "firewall fw/default-deny (no application rule matches the flow's server name)"


def _explained(result, i: int) -> tuple[str, str, str, str]:
    said = result.explain(i)
    (hop,) = [h for h in said["hops"] if h.get("kind") == "AzureFirewall"]
    return said["decision"], hop["rule"], hop["result"], hop["session"]


def test_a_later_run_overwriting_the_record_does_not_change_the_explanation(
        make_topology) -> None:
    syn, syn_ack, ack, hello, server_ack, _ = internet_flow("evil.example")
    em = Emulator(internet_topology(make_topology))
    em.send([syn, ack], times_ns=[0, 2000])  # no name yet: undecided
    before = em.send([syn_ack], times_ns=[3000])
    later = em.send([hello, server_ack], times_ns=[4000, 5000])  # the name: denied
    assert [r["disposition"] for r in before.rows()] == ["FIREWALL_NAME_UNKNOWN"]
    assert [r["deciding"] for r in later.rows()] == [UNMATCHED] * 2
    assert _explained(before, 0) == ("FIREWALL_NAME_UNKNOWN", UNKNOWN, "ServerNameUnknown",
                                     "pending")
    assert _explained(later, 1) == ("FIREWALL_DENIED", UNMATCHED, "FirewallDenied", "pending")


def test_a_later_row_of_the_same_run_overwriting_the_record(make_topology) -> None:
    syn, syn_ack, _, hello, server_ack, _ = internet_flow("evil.example")
    em = Emulator(internet_topology(make_topology))
    em.send([syn], times_ns=[0])  # an earlier run records the undecided flow
    result = em.send([syn_ack, hello, server_ack], times_ns=[1000, 4000, 5000])
    assert [r["disposition"] for r in result.rows()] == [
        "FIREWALL_NAME_UNKNOWN", "FIREWALL_DENIED", "FIREWALL_DENIED"]
    assert _explained(result, 0) == ("FIREWALL_NAME_UNKNOWN", UNKNOWN, "ServerNameUnknown",
                                     "pending")
    assert _explained(result, 2) == ("FIREWALL_DENIED", UNMATCHED, "FirewallDenied", "pending")
