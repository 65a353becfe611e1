from pathlib import Path

from scapy.all import IP, TCP, wrpcap

import dataplane

TOPOLOGY = Path(__file__).parent.parent / "inputs" / "hub-spoke.yaml"   # examples/inputs/


def test_web_reaches_database_through_the_hub_nva(tmp_path):
    topology = dataplane.load(TOPOLOGY)
    emulator = dataplane.Emulator(topology)
    capture = tmp_path / "web.pcap"
    wrpcap(str(capture), [IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=40000 + i, dport=1433)
                          for i in range(10)])
    result = emulator.replay([capture])

    assert result.check_accounting()                 # read = delivered + dropped + unparsed
    sql = result.flow("web1", "db1", dport=1433, proto="tcp")
    assert sql.was_delivered
    assert sql.max_latency_ns < 50_000_000          # global peering West Europe -> East US
    assert result.counts().get("DENIED_IN", 0) == 0


def test_telnet_from_web_is_blocked():
    emulator = dataplane.Emulator(dataplane.load(TOPOLOGY))
    result = emulator.send(IP(src="10.1.1.4", dst="10.0.2.4") / TCP(dport=23))
    assert result.dispositions()[0].name == "DENIED_IN"
