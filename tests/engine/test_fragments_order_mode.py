"""The lenient fragment-order mode and the fragment counters in summary.json.

Azure drops out-of-order fragments "by default" ("TCP/IP performance tuning for Azure VMs",
https://learn.microsoft.com/azure/virtual-network/virtual-network-tcpip-performance-tuning,
"Azure and fragmentation"); Microsoft support changes it per subscription ("Enable UDP Fragment
Reordering on a Subscription", MicrosoftDocs/azure-docs#69477). `--fragments-out-of-order
forward` (FragmentChains(out_of_order="forward"), both engine forms through the one `step`)
forwards a gap, a repeat, an overlap or a repeated first fragment with its datagram's answer; a
fragment before its first fragment still drops, keeping no chain. summary.json carries the
chain counters (`fragmentChains`) and the accounting invariant (`accounting`)."""

from __future__ import annotations

import json

import pytest
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap
from test_fragments import datagram

from dataplane.cli import main
from dataplane.engine import Emulator
from dataplane.engine.conntrack import FOLLOWS, OPENS, OUT_OF_ORDER, FragmentChains, fragment_key
from dataplane.engine.fragments import FORWARD_ASSUMPTION, order_label

KEY = fragment_key(4, 0, 1, 0, 2, 17, 5)


def test_forward_mode_lets_gaps_repeats_and_overlaps_follow_the_chain() -> None:
    ch = FragmentChains(out_of_order="forward")
    assert ch.step(KEY, 0, True, 0, 16, True, 0)[0] == OPENS  # units 0..2
    assert ch.step(KEY, 0, False, 4, 16, False, 1)[:2] == (FOLLOWS, "gap")  # last, 4..6
    assert len(ch) == 1  # units 2..4 still missing: the chain stays
    # the middle, after the last: it starts before the end of the last accepted fragment
    assert ch.step(KEY, 0, False, 2, 16, True, 2)[:2] == (FOLLOWS, "overlap")
    assert len(ch) == 0  # units 0..6 covered: complete
    assert ch.counts == {"opened": 1, "followed": 2, "completed": 1, "expired": 0,
                         "outOfOrder": 0, "outOfOrderForwarded": 2, "stateFull": 0}
    ch.step(KEY, 0, True, 0, 16, True, 3)
    assert ch.step(KEY, 0, False, 0, 16, True, 4)[:2] == (FOLLOWS, "overlap")
    assert ch.step(KEY, 0, True, 0, 16, True, 5)[:2] == (FOLLOWS, "first-again")


def test_forward_mode_keeps_no_chain_for_a_fragment_before_its_first() -> None:
    ch = FragmentChains(out_of_order="forward")
    assert ch.step(KEY, 0, False, 2, 16, False, 0) == (OUT_OF_ORDER, "no-chain", None)
    assert len(ch) == 0
    assert ch.step(KEY, 0, True, 0, 16, True, 1)[0] == OPENS  # the first still opens a chain
    strict = FragmentChains()
    assert strict.step(KEY, 0, False, 2, 16, False, 0)[:2] == (OUT_OF_ORDER, "no-chain")
    assert strict.step(KEY, 0, True, 0, 16, True, 1)[:2] == (OUT_OF_ORDER, "closed")


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="out_of_order"):
        FragmentChains(out_of_order="reorder")


def test_emulator_forwards_a_reordered_datagram_only_in_forward_mode(demo_topology) -> None:
    first, second, last = datagram("10.0.2.4", "10.1.1.4", 41)
    strict = Emulator(demo_topology).send([first, last, second])
    assert [r["disposition"] for r in strict.rows()] == [
        "DELIVERED", "FRAGMENT_OUT_OF_ORDER", "FRAGMENT_OUT_OF_ORDER"]
    assert strict.rows()[1]["deciding"] == order_label("gap")
    em = Emulator(demo_topology, fragments_out_of_order="forward")
    lenient = em.send([first, last, second])
    rows = lenient.rows()
    assert [r["disposition"] for r in rows] == ["DELIVERED"] * 3
    assert rows[1]["deciding"] == rows[2]["deciding"] == rows[0]["deciding"]
    assert rows[1]["hops"] == rows[0]["hops"] == "jumpbox > web1"
    assert FORWARD_ASSUMPTION in em.assumptions()
    assert FORWARD_ASSUMPTION not in Emulator(demo_topology).assumptions()
    assert em.batch.fragments.counts["outOfOrderForwarded"] == 2
    assert em.batch.fragments.counts["completed"] == 1


def _capture(tmp_path, frames) -> str:
    path = tmp_path / "frags.pcap"
    wrpcap(str(path), frames)
    return str(path)


def test_summary_json_counts_chains_and_states_the_accounting(tmp_path, demo_topology) -> None:
    from importlib import resources

    topo = str(resources.files("dataplane.data").joinpath("demo.yaml"))
    a1, a2, a3 = datagram("10.0.2.4", "10.1.1.4", 51)  # in order
    b1, b2, b3 = datagram("10.0.2.4", "10.1.1.4", 52)  # reordered: a gap
    _, _, c3 = datagram("10.0.2.4", "10.1.1.4", 53)  # its first fragment never comes
    frames = [Ether() / f for f in (a1, a2, a3, b1, b3, b2, c3)] + [Ether() / ARP()]
    capture = _capture(tmp_path, frames)
    summaries = {}
    for mode in ("drop", "forward"):
        out = tmp_path / mode
        assert main(["replay", topo, capture, "--out", str(out), "--no-auto-map",
                     "--fragments-out-of-order", mode, "-o", "json"]) == 0
        summaries[mode] = json.loads((out / "summary.json").read_text())
    drop, forward = summaries["drop"]["fragmentChains"], summaries["forward"]["fragmentChains"]
    assert drop == {"opened": 2, "followed": 2, "completed": 1, "expired": 0, "outOfOrder": 3,
                    "outOfOrderForwarded": 0, "stateFull": 0, "open": 2,
                    "outOfOrderMode": "drop"}
    assert forward == {"opened": 2, "followed": 4, "completed": 2, "expired": 0,
                       "outOfOrder": 1, "outOfOrderForwarded": 2, "stateFull": 0, "open": 0,
                       "outOfOrderMode": "forward"}
    for mode, summary in summaries.items():
        acc = summary["accounting"]
        assert acc["read"] == len(frames) and acc["holds"], (mode, acc)
        assert acc["unsupported"] == 1  # the ARP frame, counted with the dropped
        assert acc["delivered"] + acc["leftNetwork"] + acc["dropped"] + acc["unparsed"] == \
            len(frames)
        assert "dropped includes unsupported" in acc["rule"]
    assert summaries["drop"]["dispositions"]["FRAGMENT_OUT_OF_ORDER"] == 3
    assert summaries["forward"]["dispositions"]["FRAGMENT_OUT_OF_ORDER"] == 1
    assert any(a.startswith("fragment-order-forward") for a in
               summaries["forward"]["assumptions"])


def test_a_mode_other_than_drop_or_forward_is_a_usage_error(tmp_path, capsys) -> None:
    from importlib import resources

    topo = str(resources.files("dataplane.data").joinpath("demo.yaml"))
    capture = _capture(tmp_path, [Ether() / f for f in datagram("10.0.2.4", "10.1.1.4", 9)])
    with pytest.raises(SystemExit) as stop:
        main(["replay", topo, capture, "--out", str(tmp_path / "o"),
              "--fragments-out-of-order", "keep"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--fragments-out-of-order" in err[0]


def test_replay_text_names_the_fragment_counters_and_the_accounting(tmp_path, capsys) -> None:
    from importlib import resources

    topo = str(resources.files("dataplane.data").joinpath("demo.yaml"))
    first, second, last = datagram("10.0.2.4", "10.1.1.4", 61)
    capture = _capture(tmp_path, [Ether() / f for f in (first, last, second)] + [Ether() / ARP()])
    assert main(["replay", topo, capture, "--out", str(tmp_path / "o"), "--no-auto-map",
                 "--fragments-out-of-order", "forward"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert ("fragments (forward out of order): 1 chain(s) opened, 2 fragment(s) followed, 0 "
            "dropped out of order, 2 forwarded out of order, 0 state full") in text
    assert ("read 4 = sum of dispositions: True (delivered 3 + left the network 0 + dropped 1, "
            "of which unsupported 1, + unparsed 0)") in text
