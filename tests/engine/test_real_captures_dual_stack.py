"""Issue 17's "Done when" on the public captures: every capture in $DATAPLANE_SHARED_REAL/pcap
replays through the shipped dual-stack demo (`dataplane demo --dual-stack`'s topology) with its
shipped explicit address map (dataplane/data/demo-dual-stack-real-map.csv,
`demo_dual_stack.real_captures_map()`; no auto-mapping).

- No IP packet of any capture ends UNSUPPORTED: a frame that is not IP (ARP, LLDP, ...) ends
  UNSUPPORTED with its EtherType named in the deciding label (engine/link_layer.py; "Azure
  Virtual Network frequently asked questions", https://learn.microsoft.com/azure/
  virtual-network/virtual-networks-faq, "Can I bring my VLANs to Azure using VNets?": VNets are
  layer-3 overlays); what stays UNPARSED is damaged; delivered + left the network + dropped
  (UNSUPPORTED included) + unparsed = read (io/writers.py accounting).
- In zeek__ipv6-fragmented-dns, zeek__dns-edns-ecs and tcpdump__afs, every IPv6 packet and
  every IPv4/IPv6 fragment (found by scapy, independently of the engine's header kernel) is
  decided by a stage: delivered, exited, or dropped with a named rule, route or reason;
  never UNMAPPED, UNSUPPORTED, UNPARSED or IPV6_NOT_MODELLED.
- A non-first fragment follows its datagram's first fragment (same disposition and deciding
  label) when that first fragment was captured before it, and is FRAGMENT_OUT_OF_ORDER when it
  was not ("TCP/IP performance tuning for Azure VMs",
  https://learn.microsoft.com/azure/virtual-network/virtual-network-tcpip-performance-tuning,
  "Azure and fragmentation": out-of-order fragments are dropped by default).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dataplane.cli import demo_dual_stack as demo
from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.io.writers import accounting

DECIDED = ("zeek__ipv6-fragmented-dns.pcap", "zeek__dns-edns-ecs.pcap", "tcpdump__afs.pcap")
NOT_BY_STAGES = {D.UNSUPPORTED.name, D.UNMAPPED.name, D.UNPARSED.name,
                 D.IPV6_NOT_MODELLED.name}
PASSED = {D.DELIVERED.name, D.EXITS_INTERNET.name}


def _replay(path: Path):
    return Emulator(demo.demo_topology()).replay(path, mapping=demo.real_captures_map(),
                                                 auto_map=False, progress=False)


def _captures(real_dir: Path) -> list[Path]:
    paths = sorted((real_dir / "pcap").iterdir())
    assert {p.name for p in paths} >= set(DECIDED)
    return paths


def _ip_view(path: Path) -> list[tuple[int, tuple | None, bool]]:
    """Per record: IP version (0 if not IP), the datagram key (src, dst, proto, id) if the
    packet is a fragment, and whether it is a first fragment (offset 0)."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
    from scapy.utils import rdpcap

    view = []
    for pkt in rdpcap(str(path)):
        if IPv6 in pkt:
            frag = pkt.getlayer(IPv6ExtHdrFragment)
            key = ((pkt[IPv6].src, pkt[IPv6].dst, frag.nh, frag.id) if frag is not None
                   else None)
            view.append((6, key, frag is not None and frag.offset == 0))
        elif IP in pkt:
            ip = pkt[IP]
            fragment = bool(ip.flags.MF) or ip.frag > 0
            view.append((4, (ip.src, ip.dst, ip.proto, ip.id) if fragment else None,
                         fragment and ip.frag == 0))
        else:
            view.append((0, None, False))
    return view


def test_every_capture_no_ip_packet_unsupported_and_accounted(real_dir: Path) -> None:
    damaged, not_ip = 0, Counter()
    for path in _captures(real_dir):
        result = _replay(path)
        rows = result.rows()
        assert result.check_accounting(), path.name
        assert result.read == len(rows) == sum(result.counts().values()), path.name
        terms = accounting(result.counts(), result.read)
        assert terms["holds"], (path.name, terms)
        assert terms["unsupported"] == sum(r["disposition"] == D.UNSUPPORTED.name
                                           for r in rows)
        # scapy's view pairs with the rows where the capture is undamaged
        view = [v for v, _, _ in _ip_view(path)] if not result.captures[0].damage else \
            [None] * len(rows)
        for version, row in zip(view, rows, strict=True):
            if row["disposition"] == D.UNSUPPORTED.name:  # only frames that are not IP
                assert version in (0, None) and row["status"] == "NOT_IP", (path.name, row)
                assert row["deciding"].endswith(" not IP"), (path.name, row)
                not_ip[row["deciding"]] += 1
            if row["disposition"] == D.UNPARSED.name:  # damaged, not a frame of another kind
                assert row["status"] not in ("OK", "NOT_IP"), (path.name, row)
        damaged += bool(result.captures[0].damage)
    assert damaged <= 2  # the two libpcap captures of damaged headers; the rest are read
    assert not_ip["ethertype 0x0806 (ARP) not IP"] > 0, not_ip  # the captures hold ARP


@pytest.mark.parametrize("name", DECIDED)
def test_ipv6_and_fragments_decided_by_stages(real_dir: Path, name: str) -> None:
    path = real_dir / "pcap" / name
    view = _ip_view(path)
    result = _replay(path)
    rows = result.rows()
    assert result.check_accounting()
    assert result.read == len(view) == len(rows)
    first_of: dict[tuple, dict] = {}
    checked = Counter()
    for (version, key, first), row in zip(view, rows, strict=True):
        if version != 6 and key is None:
            continue
        what = (name, row["record"], row["src"], row["dst"], row["disposition"],
                row["deciding"])
        assert row["disposition"] not in NOT_BY_STAGES, what
        assert row["deciding"], what
        if row["disposition"] in PASSED:  # a route, or the tracked flow it answers, is named
            assert row["deciding"].startswith(("route ", "ingress ")), what
        if key is not None and first:
            first_of[key] = row
        elif key is not None:  # a later fragment follows its first, or is out of order
            lead = first_of.get(key)
            if lead is None:
                assert row["disposition"] == D.FRAGMENT_OUT_OF_ORDER.name, what
            else:
                assert (row["disposition"], row["deciding"], row["hops"]) == (
                    lead["disposition"], lead["deciding"], lead["hops"]), what
        checked["ipv6" if version == 6 else "fragment"] += 1
    assert checked["ipv6" if name.startswith("zeek") else "fragment"] > 0, checked


def test_rows_follow_capture_order(real_dir: Path) -> None:
    """The per-record comparison above pairs scapy's records with rows by position."""
    for name in DECIDED:
        rows = _replay(real_dir / "pcap" / name).rows()
        assert [r["record"] for r in rows] == list(range(len(rows))), name
