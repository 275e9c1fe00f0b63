"""Shared set-up of the Python cross-checks (tests/py/test_*.py): the extension
under test (env IMGPCA_EXT), the shared data folder, and failure collection."""
import os
import sqlite3
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DATA = os.path.join(ROOT, '..', 'shared', 'data')
fails = []


def connect(path=':memory:'):
    """A connection with imgpca loaded."""
    con = sqlite3.connect(path)
    con.enable_load_extension(True)
    con.load_extension(os.environ['IMGPCA_EXT'])
    return con


def check(cond, msg):
    """Records msg as a failure unless cond holds."""
    if not cond:
        fails.append(msg)


def exit_if_failed():
    """Prints the first failures and exits non-zero if there were any."""
    if fails:
        print('\n'.join(fails[:30]))
        print(f'FAILED {len(fails)} checks')
        sys.exit(1)


def area_ref(a, w, h):
    """Exact area average (box filter with fractional coverage) of an
    H x W x C array to h x w, in float64: the reference for img resizing."""
    import numpy as np
    a = a.astype(np.float64)

    def axis_matrix(src, dst):
        m = np.zeros((dst, src))
        for o in range(dst):
            lo, hi = o * src / dst, (o + 1) * src / dst
            for j in range(int(np.floor(lo)), int(np.ceil(hi))):
                m[o, j] = (min(hi, j + 1) - max(lo, j)) / (src / dst)
        return m
    return np.einsum('ij,jkc,lk->ilc', axis_matrix(a.shape[0], h), a, axis_matrix(a.shape[1], w))
