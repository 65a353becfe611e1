"""Conntrack state of a batch's rows from the committed table, plain-Python twin of
ext/entrystate.pyx (same signature).

entry_state(rid, reply_entry, fwset, unnat_ip, unnat_port, usrc, last_ns, none_ns)
    -> (known int64[n], est bool[n], fws int32[n], uip int64[n], uport int32[n], usrc int64[n],
        since int64[n])
    per row with reverse-tuple id rid[r]: known = reply_entry[rid[r]] (the committed entry the
    row answers, -1 none); when known >= 0 est True and the entry's fwset / unnat_ip /
    unnat_port / usrc / last_ns (by entry id), else est False, fws 0, uip -1, uport -1,
    usrc -1 and since `none_ns`. This is engine/batch.py's numpy form (`known`,
    `_entry_state`, `known_since`) before the kernel.
Errors: IndexError when an id falls outside its table.
"""

from __future__ import annotations

import numpy as np


def entry_state(rid: np.ndarray, reply_entry: np.ndarray, fwset: np.ndarray,
                unnat_ip: np.ndarray, unnat_port: np.ndarray, usrc: np.ndarray,
                last_ns: np.ndarray, none_ns: int) -> tuple[np.ndarray, ...]:
    n = rid.size
    known = reply_entry[rid]
    est, fws = np.zeros(n, bool), np.zeros(n, np.int32)
    uip, uport, src = np.full(n, -1, np.int64), np.full(n, -1, np.int32), np.full(n, -1, np.int64)
    r = np.flatnonzero(known >= 0)
    if r.size:
        e = known[r]
        est[r] = True
        fws[r], uip[r], uport[r], src[r] = fwset[e], unnat_ip[e], unnat_port[e], usrc[e]
    since = np.where(known >= 0, last_ns[known], none_ns)
    return known, est, fws, uip, uport, src, since
