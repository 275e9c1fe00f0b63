/*
** Out-of-memory sweep (make test-oom).
**
** Links the imgpca objects statically with the system SQLite, installs a
** failing allocator with sqlite3_config(SQLITE_CONFIG_MALLOC) and, for every
** statement of a case file, runs it once without faults (the reference) and
** then again with the Nth allocation failing, for N = 1, 2, ... until a run
** completes without reaching allocation N.  Two modes per N: "transient"
** (only allocation N fails) and "persistent" (N and every later one fail).
**
** A run under a fault passes when
**   - it ends in SQLITE_NOMEM, or
**   - it ends exactly like the reference (same rows, same error message):
**     SQLite recovers from some failed allocations by itself;
** and, after sqlite3_close(), every allocation made through SQLite's
** allocator has been freed again (per-run leak check; the process also runs
** under ASan/LSan, which catches leaks of the C heap).
** Anything else -- a different error, a wrong result, a crash, a leak -- is
** a failure, reported with the case, the mode and N.
**
** The extension's own registration is swept too (opening a connection with
** the extension as an automatic extension under a failing allocator).
**
** Case file (tests/oom/cases.txt): blocks separated by blank lines; in a
** block, "setup: SQL" lines run before each case without faults, every
** "sql: SQL" line is a swept statement; "# ..." is a comment, and a line
** starting with whitespace continues the previous one.
**
**   usage: oom CASEFILE [FILTER]     (FILTER: run only cases containing it)
*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "imgpca.h"

/* ---- failing allocator -------------------------------------------------- */

static sqlite3_mem_methods g_def; /* SQLite's own allocator */
static long long g_count;         /* allocations attempted since arming */
static long long g_failAt;        /* 0 = disarmed */
static int g_persist;             /* fail every allocation from g_failAt on */
static int g_hit;                 /* a fault was injected this run */
static long long g_live;          /* live allocations through SQLite */
static long long g_faults;        /* total faults injected (figure) */

static int should_fail(void) {
  if (!g_failAt) return 0;
  g_count++;
  if (g_count == g_failAt || (g_persist && g_count > g_failAt)) {
    g_hit = 1;
    g_faults++;
    return 1;
  }
  return 0;
}

static void *oom_malloc(int n) {
  void *p;
  if (should_fail()) return NULL;
  p = g_def.xMalloc(n);
  if (p) g_live++;
  return p;
}

static void oom_free(void *p) {
  if (p) g_live--;
  g_def.xFree(p);
}

static void *oom_realloc(void *p, int n) {
  if (should_fail()) return NULL;
  return g_def.xRealloc(p, n);
}

static int oom_size(void *p) { return g_def.xSize(p); }
static int oom_roundup(int n) { return g_def.xRoundup(n); }
static int oom_init(void *a) { return g_def.xInit(a); }
static void oom_shutdown(void *a) { g_def.xShutdown(a); }

static void arm(long long n, int persist) {
  g_count = 0;
  g_hit = 0;
  g_persist = persist;
  g_failAt = n;
}

static void disarm(void) { g_failAt = 0; }

#include "sqlrun.h"

/* ---- the sweep ---------------------------------------------------------- */

static int g_failures;
static long long g_points; /* (case, mode, N) runs */

static sqlite3 *open_db(void) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open(":memory:", &db);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "oom: cannot open a connection without faults: %s\n",
            db ? sqlite3_errmsg(db) : "(null)");
    exit(2);
  }
  return db;
}

/* Opens, runs the setup, optionally arms, runs the case.  Returns the
** output and whether the fault was reached; checks leaks after closing. */
static void run_case(const Case *c, long long failAt, int persist, Out *o, int *pHit,
                     int *pLeak) {
  long long live0;
  sqlite3 *db;
  Out setup = {0};
  live0 = g_live;
  db = open_db();
  run_sql(db, c->zSetup, &setup);
  if (setup.rc != SQLITE_OK) {
    fprintf(stderr, "oom: setup of case at line %d failed: %s", c->line, setup.z);
    exit(2);
  }
  free(setup.z);
  if (failAt) arm(failAt, persist);
  run_sql(db, c->zSql, o);
  disarm();
  *pHit = g_hit;
  g_hit = 0;
  if (sqlite3_close(db) != SQLITE_OK) {
    out_printf(o, "close failed: %s\n", sqlite3_errmsg(db));
    o->rc = -1;
  }
  *pLeak = (int)(g_live - live0);
}

/* Same outcome as the reference?  SQLite copies an error message into the
** connection with a "benign" allocation (sqlite3VdbeTransferError): when
** that one fails, the statement still fails with the same code but
** sqlite3_errmsg() falls back to the generic text of the code.  That is
** SQLite's behaviour, not imgpca's, and is accepted. */
static int same_outcome(const Out *o, const Out *ref) {
  const char *a = o->z ? o->z : "", *b = ref->z ? ref->z : "";
  const char *ea, *eb;
  char generic[256];
  if (o->rc != ref->rc) return 0;
  if (strcmp(a, b) == 0) return 1;
  if (ref->rc == SQLITE_OK) return 0;
  ea = strstr(a, "error=");
  eb = strstr(b, "error=");
  if (!ea || !eb || ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)) != 0) return 0;
  snprintf(generic, sizeof generic, "error=%s\n", sqlite3_errstr(ref->rc));
  return strcmp(ea, generic) == 0;
}

static void sweep_case(const Case *c) {
  Out ref = {0};
  int hit, leak, mode, failures0 = g_failures;
  long long n, maxN = 0;
  run_case(c, 0, 0, &ref, &hit, &leak);
  if (leak) {
    printf("FAIL line %d: %lld allocations leaked without faults\n  %s\n", c->line,
           (long long)leak, c->zSql);
    g_failures++;
  }
  if (ref.rc == SQLITE_NOMEM || ref.rc < 0) {
    printf("FAIL line %d: reference run failed: %s", c->line, ref.z ? ref.z : "\n");
    g_failures++;
    free(ref.z);
    return;
  }
  for (mode = 0; mode < 2; mode++) {
    for (n = 1; n < 1000000; n++) {
      Out o = {0};
      run_case(c, n, mode, &o, &hit, &leak);
      g_points++;
      if (!hit) {
        if (o.rc != ref.rc || strcmp(o.z ? o.z : "", ref.z ? ref.z : "") != 0) {
          printf("FAIL line %d (%s N=%lld): no fault reached but the result differs\n  %s\n",
                 c->line, mode ? "persistent" : "transient", n, c->zSql);
          g_failures++;
        }
        free(o.z);
        break;
      }
      if (leak) {
        printf("FAIL line %d (%s N=%lld): %d allocations leaked\n  %s\n", c->line,
               mode ? "persistent" : "transient", n, leak, c->zSql);
        g_failures++;
      }
      if (o.rc != SQLITE_NOMEM && !same_outcome(&o, &ref)) {
        printf(
            "FAIL line %d (%s N=%lld): neither SQLITE_NOMEM nor the reference result\n"
            "  %s\n  expected: %s  got (rc=%d): %s",
            c->line, mode ? "persistent" : "transient", n, c->zSql, ref.z ? ref.z : "\n",
            o.rc, o.z ? o.z : "\n");
        g_failures++;
      }
      free(o.z);
      if (g_failures - failures0 >= 4) {
        printf("  ... (more failures of this case not shown)\n");
        break;
      }
    }
    if (n > maxN) maxN = n;
  }
  printf("%s line %-4d %6lld allocation points  %.70s\n", g_failures > failures0 ? "FAIL" : "ok  ",
         c->line, maxN - 1, c->zSql);
  free(ref.z);
}

/* The extension's registration itself under every allocation failure. */
static void sweep_init(void) {
  long long n;
  int mode;
  for (mode = 0; mode < 2; mode++) {
    for (n = 1; n < 100000; n++) {
      sqlite3 *db = NULL;
      long long live0 = g_live;
      int rc, hit;
      arm(n, mode);
      rc = sqlite3_open(":memory:", &db);
      if (rc == SQLITE_OK) rc = sqlite3_exec(db, "SELECT imgpca_version()", 0, 0, 0);
      disarm();
      hit = g_hit;
      g_points++;
      sqlite3_close(db);
      if (g_live != live0) {
        printf("FAIL init (%s N=%lld): %lld allocations leaked\n", mode ? "persistent" : "transient",
               n, g_live - live0);
        g_failures++;
      }
      if (!hit) {
        if (rc != SQLITE_OK) {
          printf("FAIL init: no fault reached but rc=%d\n", rc);
          g_failures++;
        }
        break;
      }
    }
    if (mode == 0) printf("ok   init      %6lld allocation points  open + register every function\n", n - 1);
  }
}

int main(int argc, char **argv) {
  static const sqlite3_mem_methods m = {oom_malloc, oom_free, oom_realloc, oom_size,
                                        oom_roundup, oom_init, oom_shutdown, 0};
  const char *zFilter = argc > 2 ? argv[2] : NULL;
  setvbuf(stdout, NULL, _IOLBF, 0); /* LSan exits without flushing stdio */
  int i, nRun = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s CASEFILE [FILTER]\n", argv[0]);
    return 2;
  }
  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &g_def) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK ||
      /* no lookaside: every small allocation goes through the allocator */
      sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK) {
    fprintf(stderr, "oom: sqlite3_config failed\n");
    return 2;
  }
  sqlite3_initialize();
  sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
  load_cases(argv[1]);
  { /* warm up one-time global state (curl, SQLite's own) before counting */
    Case w = {"", "SELECT imgpca_version()", 0};
    Out o = {0};
    int hit, leak;
    run_case(&w, 0, 0, &o, &hit, &leak);
    free(o.z);
  }
  if (!zFilter) sweep_init();
  for (i = 0; i < g_nCase; i++) {
    if (zFilter && !strstr(g_cases[i].zSql, zFilter)) continue;
    sweep_case(&g_cases[i]);
    nRun++;
  }
  for (i = 0; i < g_nCase; i++) {
    free(g_cases[i].zSetup);
    free(g_cases[i].zSql);
  }
  free(g_cases);
  sqlite3_reset_auto_extension();
  printf("%s: %d statements, %lld runs, %lld allocation faults injected, %d failures\n",
         g_failures ? "FAIL oom" : "ok   oom", nRun, g_points, g_faults, g_failures);
  return g_failures ? 1 : 0;
}
