"""engine/batch.py `_unique_rows` (SNAT pool keys) equals np.unique(axis=0, return_inverse=True):
the same rows in the same order, so pool ids are interned in the same order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.engine.batch import _unique_rows


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(*[st.integers(-3, 3)] * 5), max_size=60))
def test_unique_rows_equals_numpy(rows):
    keys = np.array(rows, np.int64).reshape(-1, 5)
    uniq, inverse = _unique_rows(keys)
    want, want_inverse = np.unique(keys, axis=0, return_inverse=True)
    assert uniq.shape == want.shape and (uniq == want).all()
    assert (inverse == want_inverse.ravel()).all()
