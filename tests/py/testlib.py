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
