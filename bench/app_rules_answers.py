"""Answer hash of issue 12's replay (bench/README.md, "Application-rule replay by instruction
counts"): a speed change to the application-rule path must leave every packet's answer as it was.

    python bench/app_rules_answers.py          # one line per case: packets, counts, sha256

Cases: the capture of bench/test_app_rules_bench.py through its two topologies ("application",
"network"), and through a "denied" policy (the application policy keeping only the first two
application rules: the 1,000 flows to *.blob.core.windows.net are denied by their names, so
their server's replies take the flow's verdict through pending sessions, engine/pending.py),
each replayed whole and in batches of 2,048 packets (flows cut by batch boundaries). The hash
covers, per packet in order: disposition, deciding label, server name (as written, with how
it was read), node path and final addresses and ports. Compare the lines before and after a
change; the script puts its own tree's root first on sys.path (measures that tree's sources).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]  # this tree's dataplane, then bench/

from test_app_rules_bench import _policy, build  # noqa: E402

from dataplane.engine import Emulator  # noqa: E402
from dataplane.load.firewall_policy import firewall_policy  # noqa: E402
from dataplane.load.resources import Where  # noqa: E402

KEPT_APPLICATION_RULES = 2  # the "denied" case keeps r0, r1 (www. and login.contoso.com)
SMALL_BATCH = 2048


def _denied(topology):  # noqa: ANN001, ANN202 (a dataplane Topology)
    """The application topology with only the first KEPT_APPLICATION_RULES application rules."""
    raw = _policy(True)
    groups = raw["properties"]["ruleCollectionGroups"][0]["properties"]["ruleCollections"]
    groups[1]["rules"] = groups[1]["rules"][:KEPT_APPLICATION_RULES]
    policy = firewall_policy(raw, Where(raw, "bench"))
    (fw,) = topology.azure_firewalls
    return replace(topology, firewall_policies=(policy,),
                   azure_firewalls=(replace(fw, firewall_policy=policy.id),))


def answer_hash(path: Path, topology, batch: int) -> tuple[int, dict, str]:  # noqa: ANN001
    """(packets, disposition counts, sha256 of every packet's answer) of one replay."""
    emulator = Emulator(topology)
    result = emulator.replay(path, auto_map=False, keep=True, progress=False, batch=batch)
    c = result.columns
    labels = emulator.batch.labels.names
    names = emulator.batch.flow_names.table.names
    h = hashlib.sha256()
    for i in range(len(result)):
        name = names[int(c["server_name"][i])]
        h.update(repr((int(c["disposition"][i]),
                       labels[int(c["deciding"][i])] if c["deciding"][i] >= 0 else "",
                       name.kind, name.name, name.missing,
                       result.nodes[i].tolist(),
                       *(int(c[k][i]) for k in ("final_src", "final_dst", "final_sport",
                                                "final_dport")))).encode())
    return len(result), result.counts(), h.hexdigest()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, _, topologies = build(Path(tmp))
        topologies["denied"] = _denied(topologies["application"])
        for case, topology in topologies.items():
            for batch in (65536, SMALL_BATCH):
                n, counts, digest = answer_hash(path, topology, batch)
                print(case, batch, n, dict(sorted(counts.items())), digest)


if __name__ == "__main__":
    main()
