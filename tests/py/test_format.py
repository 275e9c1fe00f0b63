"""Number formatting of csv_export and fvec_to_json against Python's own
shortest round-trip printing (repr for float64, NumPy's unique=True for
float32): every number reads back to the same value and has exactly as many
significant digits as the shortest representation."""
import csv
import os
import struct
import tempfile

import numpy as np

import testlib
from testlib import check


def sig(s):
    """Significant digits of a decimal text."""
    m = s.lower().split('e')[0].lstrip('-').replace('.', '').lstrip('0').rstrip('0')
    return len(m) or 1


rng = np.random.default_rng(7)
con = testlib.connect()

# float64 REAL columns through csv_export
bits = rng.integers(0, 2**63, 30000, dtype=np.int64).astype(np.uint64) | \
    (rng.integers(0, 2, 30000).astype(np.uint64) << np.uint64(63))
d = bits.view(np.float64)
d = d[np.isfinite(d)]
d = np.concatenate([d, rng.random(20000) * 1000, np.round(rng.random(5000) * 100, 2),
                    [0.1, 0.3, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e16,
                     1e17, 1e-5, 1e-6, 100.0, 9007199254740993.0]])
# (-0.0 is not in the list: SQLite stores an integral REAL as the integer 0)
con.execute('CREATE TABLE t(i INTEGER, x REAL)')
con.executemany('INSERT INTO t VALUES (?, ?)', [(i, float(v)) for i, v in enumerate(d)])
out = os.path.join(tempfile.mkdtemp(prefix='imgpca-py-format-'), 'x.csv')
con.execute("SELECT csv_export(?, 'SELECT x FROM t ORDER BY i')", (out,))
with open(out, newline='') as fh:
    rows = list(csv.reader(fh))[1:]
check(len(rows) == len(d), f'csv rows {len(rows)} != {len(d)}')
bad = longer = 0
for (txt,), v in zip(rows, d):
    back = float(txt)
    if struct.pack('<d', back) != struct.pack('<d', float(v)):
        bad += 1
        if bad < 5:
            print(f'float64 {v!r} printed {txt}')
    elif sig(txt) != sig(repr(float(v))):
        longer += 1
        if longer < 5:
            print(f'float64 {v!r}: {txt} vs shortest {repr(float(v))}')
check(bad == 0, f'{bad} float64 values do not read back')
check(longer == 0, f'{longer} float64 values not shortest')
os.remove(out)

# float32 vector elements through fvec_to_json (and csv_export's expansion)
f = rng.integers(0, 2**32, 60000, dtype=np.uint64).astype(np.uint32).view(np.float32)
f = f[np.isfinite(f)]
f = np.concatenate([f, (rng.random(20000) * 100).astype(np.float32),
                    np.array([0.1, 1 / 3, 16777217, 3.4028235e38, 1.1754944e-38, 1e-45, 1e10, -0.0],
                             dtype=np.float32)])
txt = con.execute('SELECT fvec_to_json(?)', (f.astype('<f4').tobytes(),)).fetchone()[0]
toks = txt.strip('[]').split(',')
check(len(toks) == len(f), f'json elements {len(toks)} != {len(f)}')
bad = longer = 0
for t, v in zip(toks, f):
    if np.float32(t).tobytes() != v.tobytes():
        bad += 1
        if bad < 5:
            print(f'float32 {v!r} printed {t}')
    elif sig(t) != sig(np.format_float_scientific(v, unique=True)):
        longer += 1
        if longer < 5:
            print(f'float32 {v!r}: {t} vs shortest {np.format_float_scientific(v, unique=True)}')
check(bad == 0, f'{bad} float32 values do not read back')
check(longer == 0, f'{longer} float32 values not shortest')

testlib.exit_if_failed()
print(f'format: {len(d)} float64 (csv_export) and {len(f)} float32 (fvec_to_json) shortest round trips')
