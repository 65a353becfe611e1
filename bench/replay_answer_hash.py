"""Answer check for engine performance work (bench/README.md, "Round 4"): a sha256 over every
result column of a replay, the deciding labels as strings and the node paths, for the 100k
capture and topologies of bench/callgrind_replay.py (demo and firewall hub) at batch 65,536
and 4,096. A change that claims "answers unchanged" must leave every hash equal.

    python bench/replay_answer_hash.py [--save FILE | --check FILE]

Prints one line per (variant, batch): the first 16 hex digits of the hash and the disposition
counts. --save writes the hashes to FILE (JSON); --check compares with FILE and exits 1 on a
difference, naming the (variant, batch) and the columns whose own hash changed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callgrind_replay import VARIANTS, capture, topology  # noqa: E402

BATCHES = (65_536, 4_096)


def _digest(a: np.ndarray) -> bytes:
    if a.dtype == object:
        return hashlib.sha256("\x00".join(map(str, a.tolist())).encode()).digest()
    return hashlib.sha256(str(a.dtype).encode() + np.ascontiguousarray(a).tobytes()).digest()


def answer_hashes(variant: str, batch: int) -> tuple[dict[str, str], dict[str, int]]:
    """Per-column sha256 (hex) of one replay, plus "labels" (the deciding label strings),
    "nodes" (the node paths) and "all" over them; and the disposition counts."""
    from dataplane.engine import Emulator
    em = Emulator(topology(variant))
    r = em.replay(capture(), auto_map=False, progress=False, batch=batch)
    cols = r.columns
    parts = {k: _digest(cols[k]) for k in sorted(cols)}
    names = np.array(em.batch.labels.names, dtype=object)
    parts["labels"] = _digest(names[cols["deciding"]])
    parts["nodes"] = _digest(r.nodes)
    whole = hashlib.sha256(b"".join(parts[k] for k in sorted(parts))).hexdigest()
    out = {k: v.hex() for k, v in parts.items()}
    out["all"] = whole
    return out, {str(k): v for k, v in r.counts().items()}


def main(argv: list[str]) -> int:
    mode, path = (argv[0], Path(argv[1])) if len(argv) == 2 else (None, None)
    want = json.loads(path.read_text()) if mode == "--check" and path else {}
    got: dict[str, dict[str, str]] = {}
    bad = 0
    for variant in VARIANTS:
        for batch in BATCHES:
            key = f"{variant}/{batch}"
            got[key], counts = answer_hashes(variant, batch)
            status = ""
            if want:
                diff = [k for k in got[key] if want.get(key, {}).get(k) != got[key][k]]
                bad += bool(diff)
                status = "equal" if not diff else "DIFFERENT: " + ", ".join(diff)
            print(key, got[key]["all"][:16], counts, status)
    if mode == "--save" and path:
        path.write_text(json.dumps(got, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
