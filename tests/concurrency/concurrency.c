/*
** Concurrency test (make test-concurrency).
**
** Runs every case of a case file (format of tests/oom/cases.txt) first one
** at a time on one connection -- the reference -- and then on T threads at
** once, each thread with its own connection (opened simultaneously, so the
** extension's one-time global initialisation races too), each running all
** cases R times in its own shuffled order.  Every result (rows, errors) must
** equal the reference exactly.  Built with ASan/UBSan (LSan at exit).
**
**   usage: concurrency CASEFILE [THREADS [ROUNDS]]
*/
#include <pthread.h>

#include "imgpca.h"
#include "sqlrun.h"

static int g_threads = 4, g_rounds = 3;
static Out *g_ref;
static pthread_barrier_t g_barrier;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static long long g_runs, g_mismatch;

static void run_one(sqlite3 *db, const Case *c, Out *o) {
  Out setup = {0};
  run_sql(db, c->zSetup, &setup);
  free(setup.z);
  run_sql(db, c->zSql, o);
}

/* Each case runs on a fresh connection of its thread (setups create tables). */
static void *worker(void *arg) {
  unsigned id = (unsigned)(uintptr_t)arg, seed = id * 2654435761u + 1;
  int *order = malloc(sizeof(int) * (size_t)(g_nCase ? g_nCase : 1));
  int r, i;
  pthread_barrier_wait(&g_barrier);
  if (!order) return NULL;
  for (r = 0; r < g_rounds; r++) {
    for (i = 0; i < g_nCase; i++) order[i] = i;
    for (i = g_nCase - 1; i > 0; i--) { /* Fisher-Yates with a per-thread LCG */
      int j, t;
      seed = seed * 1103515245u + 12345u;
      j = (int)((seed >> 8) % (unsigned)(i + 1));
      t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (i = 0; i < g_nCase; i++) {
      const Case *c = &g_cases[order[i]];
      const Out *ref = &g_ref[order[i]];
      Out o = {0};
      sqlite3 *db = NULL;
      int same;
      if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
        out_printf(&o, "open failed: %s\n", db ? sqlite3_errmsg(db) : "out of memory");
        o.rc = -1;
      } else {
        run_one(db, c, &o);
      }
      sqlite3_close(db);
      same = o.rc == ref->rc && strcmp(o.z ? o.z : "", ref->z ? ref->z : "") == 0;
      pthread_mutex_lock(&g_mu);
      g_runs++;
      if (!same) {
        g_mismatch++;
        printf(
            "FAIL thread %u round %d line %d: result differs from one-at-a-time\n  %s\n"
            "  expected: %s  got: %s",
            id, r, c->line, c->zSql, ref->z ? ref->z : "\n",
            o.z ? o.z : "\n");
      }
      pthread_mutex_unlock(&g_mu);
      free(o.z);
    }
  }
  free(order);
  return NULL;
}

int main(int argc, char **argv) {
  pthread_t *th;
  int i;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: %s CASEFILE [THREADS [ROUNDS]]\n", argv[0]);
    return 2;
  }
  if (argc > 2) g_threads = atoi(argv[2]);
  if (argc > 3) g_rounds = atoi(argv[3]);
  if (g_threads < 2) g_threads = 2;
  if (sqlite3_threadsafe() == 0) {
    fprintf(stderr, "concurrency: SQLite built without thread safety\n");
    return 2;
  }
  sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
  load_cases(argv[1]);
  g_ref = calloc((size_t)g_nCase, sizeof(Out));
  if (!g_ref) return 2;
  for (i = 0; i < g_nCase; i++) { /* reference: one at a time, fresh connection each */
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 2;
    run_one(db, &g_cases[i], &g_ref[i]);
    sqlite3_close(db);
    if (g_ref[i].rc != SQLITE_OK) {
      printf("note line %d: reference is an error (compared as such): %s", g_cases[i].line, g_ref[i].z);
      if (strstr(g_ref[i].z, "error(prepare)")) {
        printf("FAIL line %d: the case does not compile\n", g_cases[i].line);
        return 1;
      }
    }
  }
  th = calloc((size_t)g_threads, sizeof(pthread_t));
  pthread_barrier_init(&g_barrier, NULL, (unsigned)g_threads);
  for (i = 0; i < g_threads; i++) pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  for (i = 0; i < g_threads; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&g_barrier);
  for (i = 0; i < g_nCase; i++) {
    free(g_ref[i].z);
    free(g_cases[i].zSetup);
    free(g_cases[i].zSql);
  }
  free(g_ref);
  free(g_cases);
  free(th);
  sqlite3_reset_auto_extension();
  printf("%s concurrency: %d threads x %d rounds x %d cases = %lld runs, %lld differ from one-at-a-time\n",
         g_mismatch ? "FAIL" : "ok  ", g_threads, g_rounds, g_nCase, g_runs, g_mismatch);
  return g_mismatch ? 1 : 0;
}
