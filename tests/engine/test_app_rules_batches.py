"""A flow's application-rule verdict does not depend on where the replay cuts batches
(engine/payload.py "When a packet learns its name"; engine/emulator.py `_decide_ready`): the
handshake in one batch and the ClientHello in the next carry the same name and verdict; a name
that comes later than the wait leaves the earlier packets unknown, at any batch size."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_app_rules import _flow, _topology, client_hello

from dataplane.engine import Emulator
from dataplane.engine.payload import NAME_WAIT_NS, NAME_WAIT_PACKETS

COLUMNS = ("disposition", "deciding", "server_name", "final_src", "final_sport", "time_out")


def _pcap(path: Path, packets: list, times_ns: list[int]) -> Path:
    """A nanosecond pcap (LINKTYPE_RAW) of scapy IP packets at the given times."""
    out = [struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 101)]
    for p, t in zip(packets, times_ns, strict=True):
        frame = bytes(p)
        out.append(struct.pack("<IIII", t // 10**9, t % 10**9, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def _replay(topology, path: Path, batch: int, wait_ns: int = NAME_WAIT_NS,
            timing: str = "capture", wait_packets: int = NAME_WAIT_PACKETS) -> list[tuple]:
    em = Emulator(topology)
    em.name_wait_ns, em.name_wait_packets = wait_ns, wait_packets
    result = em.replay(path, auto_map=False, batch=batch, timing=timing, progress=False)
    assert result.check_accounting()
    names = em.batch.flow_names.table.names
    rows = []
    for i, r in enumerate(result.rows()):
        name = names[int(result.columns["server_name"][i])]
        rows.append((r["disposition"], r["deciding"], name.describe(),
                     *(int(result.columns[k][i]) for k in COLUMNS[3:])))
    return rows


def test_handshake_and_client_hello_in_different_batches(make_topology, tmp_path: Path) -> None:
    topology = _topology(make_topology)
    packets = _flow(client_hello("www.contoso.com"))
    path = _pcap(tmp_path / "f.pcap", packets, [i * 1000 for i in range(len(packets))])
    whole = _replay(topology, path, batch=1 << 16)
    for batch in (1, 2, 3):  # the SYN alone in a batch, the ClientHello in a later one
        assert _replay(topology, path, batch=batch) == whole
    assert [r[0] for r in whole] == ["DELIVERED"] * 5
    assert whole[0][2] == "SNI www.contoso.com"  # the SYN carries the ClientHello's name


def test_a_name_later_than_the_wait_leaves_the_earlier_packets_unknown(
        make_topology, tmp_path: Path) -> None:
    topology = _topology(make_topology)
    packets = _flow(client_hello("www.contoso.com"))
    # SYN, SYN-ACK, ACK at 0-2 µs; the ClientHello 10 µs later than the SYN's wait
    times = [0, 1000, 2000, 12_000, 13_000]
    path = _pcap(tmp_path / "late.pcap", packets, times)
    in_time = [0, 1000, 2000, 3000, 4000]
    # the same by the packet bound 0: the ClientHello comes 1 packet after the ACK
    by_count = _pcap(tmp_path / "count.pcap", packets, in_time)
    for batch, (capture, wait_ns, bound) in itertools.product(
            (1, 2, 1 << 16), ((path, 4000, NAME_WAIT_PACKETS), (by_count, NAME_WAIT_NS, 0))):
        rows = _replay(topology, capture, batch=batch, wait_ns=wait_ns, wait_packets=bound)
        # SYN and ACK: unknown; the SYN-ACK: no session opened, it takes the SYN's pending
        # verdict (engine/pending.py), label included
        assert [r[0] for r in rows[:3]] == ["FIREWALL_NAME_UNKNOWN"] * 3
        assert rows[1][:3] == rows[0][:3] == rows[2][:3]
        assert rows[0][2] == ("server name unknown: no payload of this flow is in the capture "
                              "(yet)")
        # the ClientHello itself knows its name; the flow was not opened by the handshake
        assert (rows[3][0], rows[3][2]) == ("DELIVERED", "SNI www.contoso.com")


PAYLOADS = [client_hello("www.contoso.com"), client_hello("evil.example"),
            client_hello("acct.blob.core.windows.net", tls13=True),
            b"GET / HTTP/1.1\r\nHost: api.contoso.com\r\n\r\n", b"SSH-2.0-x\r\n", None]


@st.composite
def capture(draw) -> tuple[list, list[int]]:
    """A few flows (some split ClientHellos, one maybe without payload), interleaved, at
    random gaps (some longer than the name wait used below)."""
    flows = []
    for k in range(draw(st.integers(1, 4))):
        payload = draw(st.sampled_from(PAYLOADS))
        dport = 80 if payload and payload.startswith(b"GET") else 443
        packets = _flow(payload or b"", dport=dport, sport=40000 + k,
                        split=draw(st.sampled_from([0, 0, 30])) if payload else 0)
        if payload is None:  # a handshake only, then the server's ACK
            packets = packets[:3] + packets[-1:]
        flows.append(packets)
    order = draw(st.permutations([k for k, f in enumerate(flows) for _ in f]))
    mixed = [flows[k].pop(0) for k in order]
    gaps = draw(st.lists(st.sampled_from([0, 1000, 3000, 9000]), min_size=len(mixed),
                         max_size=len(mixed)))
    times, t = [], 0
    for g in gaps:
        t += g
        times.append(t)
    return mixed, times


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(capture(), st.integers(1, 7), st.sampled_from(["capture", "asap"]),
       st.sampled_from([2, 4, NAME_WAIT_PACKETS]))
def test_answers_do_not_depend_on_the_batch_size(make_topology, tmp_path: Path, traffic,
                                                 batch: int, timing: str, packets_bound: int
                                                 ) -> None:
    """Both bounds of the wait (5 µs of capture time, or 2 / 4 / the default number of
    packets) give the same answers at any batch size."""
    packets, times = traffic
    topology = _topology(make_topology)
    path = _pcap(tmp_path / "mix.pcap", packets, times)
    one = _replay(topology, path, batch=1 << 16, wait_ns=5000, timing=timing,
                  wait_packets=packets_bound)
    cut = _replay(topology, path, batch=batch, wait_ns=5000, timing=timing,
                  wait_packets=packets_bound)
    if timing == "asap":  # asap times each batch as a burst: compare the verdicts only
        one, cut = [r[:5] for r in one], [r[:5] for r in cut]
    assert cut == one


def test_packets_csv_and_the_vm_pcap_agree_across_batches(make_topology, tmp_path: Path) -> None:
    """Issue 12 item 3: the flow's verdict applies to all its packets in outputs; packets.csv
    names each packet's server name (serverName, empty when none)."""
    import csv

    from scapy.utils import rdpcap

    from dataplane.io.writers import Outputs, ReplayWriter

    topology = _topology(make_topology)
    allowed = _flow(client_hello("www.contoso.com"), sport=40001)
    denied = _flow(client_hello("evil.example"), sport=40002)
    other = _flow(b"x" * 20, dport=8443, sport=40003)  # network rule: no name read
    packets = allowed + denied + other
    path = _pcap(tmp_path / "o.pcap", packets, [i * 1000 for i in range(len(packets))])
    em = Emulator(topology)
    out = tmp_path / "out"
    writer = ReplayWriter(out, em, Outputs(csv=True))
    try:
        em.replay(path, auto_map=False, sink=writer, batch=2, progress=False)
    finally:
        writer.close()
    with (out / "packets.csv").open() as f:
        rows = list(csv.DictReader(f))
    # SYN, SYN-ACK, ACK, ClientHello, ACK: the server's replies carry their flow's name too
    # (issue 12 gap 2); 8443 is no port an application rule names: no name read
    assert [r["serverName"] for r in rows] == (
        ["www.contoso.com"] * 5 + ["evil.example"] * 5 + [""] * 5)
    assert [r["disposition"] for r in rows[:10]] == ["DELIVERED"] * 5 + ["FIREWALL_DENIED"] * 5
    to_db = [r for r in rows if r["disposition"] == "DELIVERED" and r["destinationIp"] == "10.2.1.4"]
    received = rdpcap(str(out / "db1.pcap"))
    assert len(received) == len(to_db) == 6  # the allowed flow's 3 + 8443's 3 client packets
    # application rules always SNAT (issue 12 item 6): the pcap holds what db1 receives, the
    # translated source port, which packets.csv gives as finalSourcePort
    assert sorted(p["TCP"].sport for p in received) == sorted(
        int(r["finalSourcePort"]) for r in to_db)
