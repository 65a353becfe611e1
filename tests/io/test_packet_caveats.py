"""packets.csv / packets.parquet's `caveats` column (io/caveat_counts.py CaveatCounter.add,
io/packet_table.py): each packet's row names, ';'-joined, the keys of the caveats that touch
its path (engine/path_caveats.py: topology caveats on the nodes whose resources they touch,
firewall-rule caveats on the firewall, host fragmentation on packets over 1,400 bytes), ''
when none; summary.json counts each of them on exactly the rows whose cell holds its key. The
replay's own caveats (histogram, pcaps) are in no cell and say so ("inPacketsTable": false)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_topo import SPOKE1_TO_SQL, SPOKE2_TO_APP, caveated_hub_json, hub_fw
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

import dataplane
from dataplane.engine import Emulator
from dataplane.io.caveat_counts import CaveatCounter, PathCaveat, with_row_keys
from dataplane.io.paths import PathIndex
from dataplane.io.writers import Outputs, ReplayWriter

# app1 (spoke1, route table rt1) and db1 (spoke2, rt2) reach each other through the hub firewall.
HUB = hub_fw(SPOKE1_TO_SQL, SPOKE2_TO_APP)
NEAR_MISS = "near-miss:rt1:properties.routes[0].properties.nextHopIpAdress"
FQDN = "firewall-fqdn:fw"
FRAGMENTATION = "host-fragmentation-not-modelled"


def _topology(tmp: Path) -> Path:
    """HUB with a misspelt route property on rt1 (app1's subnet only) and a classic FQDN rule
    on the firewall (a firewall caveat on every packet crossing fw)."""
    return caveated_hub_json(tmp, HUB)


# (source, destination, payload bytes, the caveat keys its row must name)
PACKETS = [
    ("10.1.1.4", "10.2.1.4", 0, {NEAR_MISS, FQDN}),  # app1 -> fw -> db1
    ("10.1.1.4", "10.2.1.4", 1400, {NEAR_MISS, FQDN, FRAGMENTATION}),  # and over 1,400 bytes
    ("10.2.1.4", "10.1.1.4", 0, {NEAR_MISS, FQDN}),  # db1 -> fw -> app1 (rt1's subnet)
    ("10.2.1.4", "8.8.8.8", 0, {FQDN}),  # db1 -> fw, denied: app1's subnet not reached
    ("10.2.1.4", "8.8.8.8", 1400, {FQDN, FRAGMENTATION}),
    ("192.0.2.1", "10.1.1.4", 0, set()),  # from outside the topology: no path
    ("192.0.2.1", "10.1.1.4", 1400, {FRAGMENTATION}),  # still a frame over 1,400 bytes
]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packet-caveats")
    frames = [Ether() / IP(src=s, dst=d) / TCP(sport=40000 + i, dport=1433) / (b"x" * size)
              for i, (s, d, size, _) in enumerate(PACKETS)]
    for i, frame in enumerate(frames):
        frame.time = 1.0 + i / 1000
    capture = tmp / "c.pcap"
    wrpcap(str(capture), frames)
    out = tmp / "out"
    em = Emulator(dataplane.load(_topology(tmp)))
    writer = ReplayWriter(out, em, Outputs(csv=True))
    try:
        result = em.replay(capture, sink=writer, batch=3, auto_map=False)  # several batches
    finally:
        writer.close()
    summary = writer.write_summary(result)
    with (out / "packets.csv").open() as f:
        text = [row["caveats"] for row in csv.DictReader(f)]
    table = pq.read_table(out / "packets.parquet").column("caveats").to_pylist()
    return summary, table, text, result


def _keys(cell: str) -> set[str]:
    return set(cell.split(";")) if cell else set()


def test_each_row_names_the_caveats_on_its_path(replayed):
    _, table, _, _ = replayed
    assert [_keys(cell) for cell in table] == [keys for *_, keys in PACKETS]


def test_csv_and_parquet_hold_the_same_cells_in_summary_order(replayed):
    summary, table, text, _ = replayed
    assert text == table
    order = [c["key"] for c in summary["caveats"]]
    for cell in table:  # keys in summary.json's order, no key twice
        keys = cell.split(";") if cell else []
        assert keys == sorted(keys, key=order.index) and len(set(keys)) == len(keys)


def test_summary_counts_equal_the_rows_naming_each_key(replayed):
    summary, table, _, _ = replayed
    named = Counter(k for cell in table for k in _keys(cell))
    in_table = {c["key"]: c["packets"] for c in summary["caveats"] if c["inPacketsTable"]}
    assert {NEAR_MISS, FQDN, FRAGMENTATION} <= set(in_table)
    assert set(named) <= set(in_table)
    for key, packets in in_table.items():
        assert named[key] == packets, key
    assert named[FQDN] == 5 and named[NEAR_MISS] == 3 and named[FRAGMENTATION] == 3


def test_the_replays_own_caveats_are_in_no_cell(replayed):
    summary, table, _, _ = replayed
    own = [c for c in summary["caveats"] if not c["inPacketsTable"]]
    assert "latency-histogram" in {c["key"] for c in own}
    assert not {c["key"] for c in own} & {k for cell in table for k in _keys(cell)}


def test_engine_rows_carry_the_same_caveats(replayed):
    """Result.row / Result.caveats (engine/results.py) print each caveat as its answer does
    (PathCaveat.line: a firewall's own text, else "key: text") for the same keys."""
    summary, table, _, result = replayed
    line = {c.key: c.line() for c in result.emulator.path_caveats()}
    rows = [result.row(i)["caveats"] for i in range(len(result))]
    assert rows == [[line[k] for k in cell.split(";")] if cell else [] for cell in table]
    assert f"{NEAR_MISS}: " in rows[0][0]  # a topology caveat reaches the engine's rows too
    assert rows[0][1].startswith("firewall-fqdn: firewall fw rule sql/by-name")
    assert result.caveats() == {line[c["key"]]: c["packets"] for c in summary["caveats"]
                                if c["inPacketsTable"] and c["packets"]}


# -- CaveatCounter against the module doc's definition, packet by packet --

@st.composite
def _case(draw):
    nodes = draw(st.integers(1, 6))
    n = draw(st.integers(0, 40))
    width = draw(st.integers(1, 4))
    path = st.lists(st.integers(-1, nodes - 1), min_size=width, max_size=width)
    paths = np.array(draw(st.lists(path, min_size=n, max_size=n)) or np.zeros((0, width)),
                     dtype=np.int32).reshape(n, width)
    lengths = np.array(draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n)),
                       dtype=np.int64)
    caveats = [PathCaveat(f"c{k}", "", (), draw(st.none() | st.frozensets(
        st.integers(0, nodes - 1), max_size=3)), draw(st.sampled_from([-1, 100, 1400])))
        for k in range(draw(st.integers(0, 6)))]
    return nodes, paths, lengths, caveats


@settings(max_examples=60, deadline=None)
@given(_case())
def test_counter_cells_follow_the_definition_packet_by_packet(case):
    nodes, paths, lengths, caveats = case
    counter = CaveatCounter(caveats, nodes)
    half = paths.shape[0] // 2  # two batches
    cells = []
    for part in (slice(0, half), slice(half, None)):
        cells += counter.add(PathIndex.of(paths[part]), lengths[part]).to_pylist()
    expected = [";".join(c.key for c in caveats
                         if (c.nodes is None or any(int(x) in c.nodes for x in row if x >= 0))
                         and length > c.longer_than_bytes)
                for row, length in zip(paths.tolist(), lengths.tolist(), strict=True)]
    assert cells == expected
    assert [e["packets"] for e in counter.as_list()] == [
        sum(c.key in _keys(cell) for cell in expected) for c in caveats]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "a", "a;b", "c"]), st.booleans(), st.booleans()),
                max_size=30))
def test_row_keys_go_before_the_path_keys_row_by_row(rows):
    """with_row_keys: a row's flagged keys (in the flags' order), then its own cell."""
    cells = pa.array([cell for cell, *_ in rows], pa.string()).dictionary_encode()
    flags = [("reopen", np.array([f for _, f, _ in rows], bool)),
             ("shared", np.array([g for *_, g in rows], bool))]
    out = with_row_keys(cells, flags).to_pylist()
    assert out == [";".join([k for k, on in (("reopen", f), ("shared", g)) if on]
                            + ([cell] if cell else [])) for cell, f, g in rows]
