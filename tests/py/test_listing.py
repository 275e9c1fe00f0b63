"""Local listing through SQL against Python's own walk of the same trees:
directory symlinks are followed but every folder is entered once (defect 6:
'd/up -> ..' repeated files, two self-links never ended), FIFOs, sockets and
dangling links are not listed, s3_fetch refuses a FIFO at once instead of
blocking (defect 7), and sqlite3_interrupt() stops a long walk.

Hangs are caught by running the SQL in a child process with a generous
timeout (a hang fails the check; no duration is asserted)."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

import testlib
from testlib import check

EXT = os.environ['IMGPCA_EXT']


def run_sql(sql, timeout=60):
    """Runs sql in a child sqlite3-like Python process; returns (rows, error)."""
    code = ('import sqlite3, sys, json\n'
            'c = sqlite3.connect(":memory:"); c.enable_load_extension(True)\n'
            f'c.load_extension({EXT!r})\n'
            'try:\n'
            '    print(json.dumps({"rows": c.execute(sys.argv[1]).fetchall()}))\n'
            'except sqlite3.Error as e:\n'
            '    print(json.dumps({"error": str(e)}))\n')
    try:
        out = subprocess.run([sys.executable, '-c', code, sql], capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, 'timeout'
    import json
    r = json.loads(out.stdout)
    return r.get('rows'), r.get('error')


def q(s):
    return "'" + s.replace("'", "''") + "'"


def real_files(root, suffix):
    """Regular files under root, one path per distinct folder (no link followed twice)."""
    out, seen = [], set()
    stack = [root]
    while stack:
        d = stack.pop()
        st = os.stat(d)
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        for e in sorted(os.listdir(d), reverse=True):
            p = os.path.join(d, e)
            if os.path.isdir(p):
                stack.append(p)
            elif os.path.isfile(p) and p.endswith(suffix):
                out.append(os.path.realpath(p))
    return sorted(out)


tmp = tempfile.mkdtemp(prefix='imgpca-py-listing-')
try:
    t = os.path.join(tmp, 't')
    for sub in ['a', 'a/b', 'd', 'e']:
        os.makedirs(os.path.join(t, sub))
    for f in ['a/1.png', 'a/b/2.png', 'd/3.png', 'e/4.png', 'top.png']:
        with open(os.path.join(t, f), 'wb') as fh:
            fh.write(f.encode())
    os.symlink('..', os.path.join(t, 'd', 'up'))            # defect 6: cycle to the root
    os.symlink('.', os.path.join(t, 'e', 's1'))             # two self-links
    os.symlink('.', os.path.join(t, 'e', 's2'))
    os.mkfifo(os.path.join(t, 'a', 'pipe.png'))             # defect 7
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(t, 'a', 'sock.png'))
    os.symlink('gone.png', os.path.join(t, 'a', 'dangling.png'))

    expect = real_files(t, '.png')
    rows, err = run_sql(f"SELECT url, key FROM s3_list({q(t + '/**/*.png')})")
    check(err is None, f'listing with link cycles: {err}')
    if rows is not None:
        keys = [r[1] for r in rows]
        check(len(keys) == len(set(keys)) == 5, f'link cycles: {len(keys)} rows {keys[:8]}, expected 5')
        check(keys == sorted(keys), 'rows not in key order')
        check(sorted(os.path.realpath(r[0]) for r in rows) == expect, 'listed files != real files')
    # the folder form (no glob) walks the same way
    rows, err = run_sql(f"SELECT count(*) FROM s3_list({q(t)})")
    check(err is None and rows == [[5]], f'folder listing with link cycles: {rows} {err}')
    # a link to a sibling folder: each file once
    os.symlink(os.path.join(t, 'a'), os.path.join(t, 'z'))
    rows, err = run_sql(f"SELECT key FROM s3_list({q(t + '/**/*.png')})")
    check(err is None and rows is not None and len(rows) == 5, f'sibling link: {rows} {err}')

    # defect 7: a FIFO is refused at once, not waited on
    fifo = os.path.join(t, 'a', 'pipe.png')
    rows, err = run_sql(f"SELECT s3_fetch({q(fifo)})", timeout=30)
    check(err is not None and err != 'timeout' and 'is not a regular file (a fifo)' in err
          and err.startswith('s3_fetch: '), f's3_fetch of a fifo: {err}')
    rows, err = run_sql(f"SELECT s3_fetch({q(os.path.join(t, 'a', 'sock.png'))})", timeout=30)
    check(err is not None and 'is not a regular file (a socket)' in err, f's3_fetch of a socket: {err}')
    rows, err = run_sql(f"SELECT count(*) FROM s3_list({q(fifo)})", timeout=30)
    check(err is not None and 'is not a regular file or a folder' in err, f's3_list of a fifo: {err}')
    sock.close()

    # interrupt: a walk over many empty folders, interrupted from another thread
    deep = os.path.join(tmp, 'deep')
    for i in range(60):
        for j in range(60):
            os.makedirs(os.path.join(deep, f'{i:02d}', f'{j:02d}'))
    con = testlib.connect()
    done = threading.Event()

    def interrupter():
        while not done.is_set():
            con.interrupt()
            done.wait(0.002)
    th = threading.Thread(target=interrupter)
    th.start()
    got = None
    try:
        for _ in range(50):     # each query is one walk; one of them must be interrupted
            con.execute(f"SELECT count(*) FROM s3_list({q(deep + '/**/*.none')})").fetchall()
    except Exception as e:  # sqlite3.OperationalError: interrupted
        got = str(e)
    done.set()
    th.join()
    check(got == 'interrupted', f'interrupt during a walk: {got!r}')
    # and the connection keeps working
    n = con.execute(f"SELECT count(*) FROM s3_list({q(t + '/**/*.png')})").fetchone()[0]
    check(n == 5, f'listing after an interrupt: {n}')
finally:
    shutil.rmtree(tmp, ignore_errors=True)

testlib.exit_if_failed()
print('listing: link cycles end, each folder once, fifo/socket refused without blocking, interrupt honoured')
