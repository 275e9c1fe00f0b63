/* Cancellation of s3_fetch_many through SQLite: sqlite3_interrupt from
** another thread while a statement steps over 7,050 images stops it at the
** next row (SQLITE_INTERRUPT, at most one row after the interrupt), and
** finalizing it ends every worker thread (the process is back to its thread
** count; under ASan, LSan checks that nothing leaked).  A LIMIT that stops
** early does the same without an interrupt.  Elapsed times are printed, not
** asserted. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "imgpca.h"
#include "unit.h"

static sqlite3 *g_db;
static atomic_int g_interrupted;
static atomic_int g_go;

static int count_threads(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The thread count once joined threads have left /proc/self/task: the
** kernel wakes pthread_join (clearing the thread id) slightly before it
** removes the exiting task, so poll for up to 2 s. */
static int threads_settle(int base) {
  double t0 = now_s();
  int n = count_threads();
  while (n > base && now_s() - t0 < 2.0) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    n = count_threads();
  }
  return n;
}

static void *interrupter(void *arg) {
  (void)arg;
  while (!atomic_load(&g_go)) usleep(1000);
  sqlite3_interrupt(g_db);
  atomic_store(&g_interrupted, 1);
  return NULL;
}

static const char *zSql =
    "SELECT url, features, error FROM s3_fetch_many "
    " WHERE url IN (SELECT url FROM s3_list('../shared/data/fruits360/Training/**/*.jpg'))"
    "   AND spec = 'hist:bins=8,sqrt;pixels:size=16x16'";

static void test_interrupt(int nThreads) {
  sqlite3_stmt *st = NULL;
  pthread_t th;
  char set[100];
  int rc, nRow = 0, nAfter = 0, base = count_threads(), maxThreads = 0;
  double t0 = 0, t1, t2;
  snprintf(set, sizeof set, "SELECT imgpca_config('imgpca.threads', %d)", nThreads);
  CHECK_EQ_INT(sqlite3_exec(g_db, set, 0, 0, 0), SQLITE_OK);
  atomic_store(&g_interrupted, 0);
  atomic_store(&g_go, 0);
  CHECK_EQ_INT(sqlite3_prepare_v2(g_db, zSql, -1, &st, 0), SQLITE_OK);
  pthread_create(&th, NULL, interrupter, NULL);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    nRow++;
    if (atomic_load(&g_interrupted)) nAfter++;
    if (nRow == 300) {
      int n = count_threads();
      if (n > maxThreads) maxThreads = n;
      t0 = now_s();
      atomic_store(&g_go, 1);
    }
  }
  t1 = now_s();
  CHECK_EQ_INT(rc, SQLITE_INTERRUPT);
  CHECK(nRow >= 300 && nRow < 7050);
  CHECK(nAfter <= 1);
  /* workers were running: the stepping thread, the interrupter and nThreads */
  CHECK(maxThreads >= base + 1 + nThreads);
  sqlite3_finalize(st);
  t2 = now_s();
  pthread_join(th, NULL);
  CHECK_EQ_INT(threads_settle(base), base);
  printf("threads %d: interrupted after %d rows; stop %.1f ms, finalize %.1f ms\n", nThreads, nRow,
         (t1 - t0) * 1e3, (t2 - t1) * 1e3);
}

static void test_limit(void) {
  sqlite3_stmt *st = NULL;
  int base = count_threads(), n = 0;
  CHECK_EQ_INT(sqlite3_exec(g_db, "SELECT imgpca_config('imgpca.threads', 2)", 0, 0, 0), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_prepare_v2(g_db,
                                  "SELECT url FROM s3_fetch_many WHERE url IN (SELECT url FROM "
                                  "s3_list('../shared/data/fruits360/Training/**/*.jpg')) AND spec = 'hist' LIMIT 5",
                                  -1, &st, 0),
               SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) n++;
  CHECK_EQ_INT(n, 5);
  CHECK_EQ_INT(sqlite3_reset(st), SQLITE_OK);
  CHECK_EQ_INT(threads_settle(base), base);   /* reset closes the cursor: workers gone */
  CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW); /* and the statement runs again */
  sqlite3_finalize(st);
  CHECK_EQ_INT(threads_settle(base), base);
}

int main(void) {
  sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
  CHECK_EQ_INT(sqlite3_open(":memory:", &g_db), SQLITE_OK);
  test_interrupt(1);
  test_interrupt(2);
  test_interrupt(4);
  test_limit();
  sqlite3_close(g_db);
  sqlite3_reset_auto_extension();
  return UNIT_DONE();
}
