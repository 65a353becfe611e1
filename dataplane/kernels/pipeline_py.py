"""Plain-Python twin of ext/pipeline.pyx: exact key interning (dict), same signature.

`KeyIndexPy(width, capacity=1024)`: keys of `width` uint64 words -> dense int64 ids in order of
first appearance, kept across calls. `index(hashes, keys, ids, new) -> int` fills ids (new[i] =
1 where row i created its id) and returns the number of new ids; `lookup(hashes, keys, ids)`
fills ids or -1; `clear()`; `size`; `export() -> (hashes, keys)` in id order (copies). `hashes` (one uint64 per row) only matter to the compiled
kernel's slot choice; the twin compares whole keys.
"""

from __future__ import annotations

import numpy as np


class KeyIndexPy:
    def __init__(self, width: int, capacity: int = 1024) -> None:
        if width < 1:
            raise ValueError("width must be >= 1")
        self.width = width
        self._ids: dict[tuple[int, ...], int] = {}
        self._hashes: list[int] = []

    @property
    def size(self) -> int:
        return len(self._ids)

    def clear(self) -> None:
        self._ids.clear()
        self._hashes.clear()

    def export(self) -> tuple[np.ndarray, np.ndarray]:
        keys = np.array(list(self._ids), dtype=np.uint64).reshape(len(self._ids), self.width)
        return np.array(self._hashes, dtype=np.uint64), keys

    def _check(self, hashes: np.ndarray, keys: np.ndarray, n: int) -> None:
        if keys.shape[0] != n or hashes.shape[0] != n:
            raise ValueError("hashes and keys differ in length")
        if keys.shape[1] != self.width:
            raise ValueError(f"keys must have {self.width} words per row")

    def index(self, hashes: np.ndarray, keys: np.ndarray, ids: np.ndarray, new: np.ndarray
              ) -> int:
        n = hashes.shape[0]
        self._check(hashes, keys, n)
        if ids.shape[0] != n or new.shape[0] != n:
            raise ValueError("output columns differ in length")
        table = self._ids
        before = len(table)
        for i, (k, h) in enumerate(zip(map(tuple, keys.tolist()), hashes.tolist(), strict=True)):
            id_ = table.get(k)
            new[i] = id_ is None
            if id_ is None:
                id_ = table[k] = len(table)
                self._hashes.append(h)
            ids[i] = id_
        return len(table) - before

    def lookup(self, hashes: np.ndarray, keys: np.ndarray, ids: np.ndarray) -> None:
        n = hashes.shape[0]
        self._check(hashes, keys, n)
        if ids.shape[0] != n:
            raise ValueError("output column differs in length")
        get = self._ids.get
        ids[:] = [get(k, -1) for k in map(tuple, keys.tolist())]
