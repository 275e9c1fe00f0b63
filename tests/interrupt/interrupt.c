/*
** Interrupt test (make test-interrupt, tests/interrupt/run.sh): long loops of
** the extension stop soon after sqlite3_interrupt().
**   1. s3_list whose glob matches nothing, against a stub server that
**      answers IsTruncated=true forever (fake_s3.py forever): the statement
**      ends with SQLITE_INTERRUPT and at most one more request reaches the
**      server after it returned;
**   2. the same stub repeating the continuation token (fake_s3.py repeat):
**      a clear error instead of an endless loop;
**   3. s3_fetch_many, s3_fetch and s3_concat against a stub that accepts
**      requests and never answers them (fake_s3.py silent; default retries
**      and timeouts): each statement ends with SQLITE_INTERRUPT within 3 s
**      of the interrupt (it took 265 s: the waits did not poll it), and the
**      interrupted s3_concat aborted its multipart upload (counted by the
**      stub);
** (The PCA loops poll the same hook, imgpca_interrupted(); their reaction
** to it is unit-tested in tests/unit/test_pca.c.)
** A watchdog (alarm) kills the process if a statement does not return, so
** a loop that ignores the interrupt fails the test instead of hanging it.
**
**   usage: interrupt PORT_FOREVER PORT_REPEAT PORT_SILENT
*/
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "imgpca.h"

static int fails = 0;

typedef struct Interrupter {
  sqlite3 *db;
  int ms;
} Interrupter;

static void *interrupter(void *p) {
  Interrupter *it = (Interrupter *)p;
  struct timespec ts = {it->ms / 1000, (long)(it->ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  sqlite3_interrupt(it->db);
  return NULL;
}

/* Runs zSql to completion; with ms >= 0 interrupts it after ms. */
static int run(sqlite3 *db, const char *zSql, int ms) {
  sqlite3_stmt *st = NULL;
  pthread_t th;
  Interrupter it = {db, ms};
  int rc = sqlite3_prepare_v2(db, zSql, -1, &st, NULL);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "prepare failed: %s\n", sqlite3_errmsg(db));
    return rc;
  }
  if (ms >= 0) pthread_create(&th, NULL, interrupter, &it);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
  if (ms >= 0) pthread_join(th, NULL);
  sqlite3_finalize(st);
  return rc;
}

static void exec(sqlite3 *db, const char *zSql) {
  char *zErr = NULL;
  if (sqlite3_exec(db, zSql, NULL, NULL, &zErr) != SQLITE_OK) {
    fprintf(stderr, "FAIL setup %s: %s\n", zSql, zErr);
    fails++;
  }
  sqlite3_free(zErr);
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg) {
  char *buf = (char *)arg;
  size_t len = strlen(buf), k = sz * n;
  if (len + k < 63) {
    memcpy(buf + len, p, k);
    buf[len + k] = 0;
  }
  return sz * n;
}

/* Listing requests the stub has served so far (or, with zWhat "__aborts",
** multipart uploads aborted). */
static long stub_value(int port, const char *zWhat) {
  char url[64], buf[64] = "";
  CURL *h = curl_easy_init();
  snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", port, zWhat);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, buf);
  if (curl_easy_perform(h) != CURLE_OK) buf[0] = 0;
  curl_easy_cleanup(h);
  return buf[0] ? atol(buf) : -1;
}

static long stub_count(int port) { return stub_value(port, "__count"); }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void use_stub(sqlite3 *db, int port) {
  char *z = sqlite3_mprintf(
      "SELECT imgpca_config('s3.endpoint', 'http://127.0.0.1:%d'), imgpca_config('s3.unsigned', 'true'),"
      " imgpca_config('s3.url_style', 'path'), imgpca_config('s3.region', 'us-east-1'),"
      " imgpca_config('s3.max_retries', '0')",
      port);
  exec(db, z);
  sqlite3_free(z);
}

static void test_list_forever(int port) {
  sqlite3 *db = NULL;
  long nAtReturn, nLater;
  int rc;
  sqlite3_open(":memory:", &db);
  use_stub(db, port);
  rc = run(db, "SELECT count(*) FROM s3_list('s3://bucket/photos/*.jpg')", 500);
  nAtReturn = stub_count(port);
  sleep(1);
  nLater = stub_count(port);
  if (rc != SQLITE_INTERRUPT) {
    fprintf(stderr, "FAIL list forever: rc %d (%s), expected SQLITE_INTERRUPT\n", rc, sqlite3_errmsg(db));
    fails++;
  } else if (nAtReturn < 2 || nLater - nAtReturn > 1) {
    fprintf(stderr, "FAIL list forever: %ld requests before the interrupt returned, %ld after\n", nAtReturn,
            nLater - nAtReturn);
    fails++;
  } else {
    printf("ok   interrupt: s3_list over an endless listing stopped (%ld requests, %ld after return)\n",
           nAtReturn, nLater - nAtReturn);
  }
  sqlite3_close(db);
}

static void test_list_repeat(int port) {
  sqlite3 *db = NULL;
  int rc;
  sqlite3_open(":memory:", &db);
  use_stub(db, port);
  rc = run(db, "SELECT count(*) FROM s3_list('s3://bucket/photos/*.jpg')", -1);
  if (rc != SQLITE_ERROR || !strstr(sqlite3_errmsg(db),
                                    "s3_list: listing of 's3://bucket/photos/' does not "
                                    "advance: the server repeated continuation token 't0'")) {
    fprintf(stderr, "FAIL list repeat: rc %d: %s\n", rc, sqlite3_errmsg(db));
    fails++;
  } else {
    printf("ok   interrupt: a repeated continuation token is an error (%ld requests)\n", stub_count(port));
  }
  sqlite3_close(db);
}

/* 3. network waits (a server that never answers) stop on the interrupt */
static void test_silent(int port) {
  static const char *azSql[] = {
      "SELECT count(*) FROM s3_fetch_many('[\"s3://bucket/a.jpg\", \"s3://bucket/b.jpg\"]')",
      "SELECT length(s3_fetch('s3://bucket/a.jpg'))",
      "SELECT s3_concat('s3://bucket/out.bin', json_array('interrupt.tmp', 'interrupt.tmp'))",
  };
  size_t i;
  FILE *f = fopen("interrupt.tmp", "wb");
  static char chunk[1 << 20];
  for (i = 0; f && i < 8; i++) fwrite(chunk, 1, sizeof chunk, f);
  if (f) fclose(f);
  for (i = 0; i < sizeof azSql / sizeof azSql[0]; i++) {
    sqlite3 *db = NULL;
    double t0, dt;
    long nAbort0 = stub_value(port, "__aborts");
    int rc;
    char *zSet = sqlite3_mprintf(
        "SELECT imgpca_config('s3.endpoint', 'http://127.0.0.1:%d'), "
        "imgpca_config('s3.unsigned', 'true'), imgpca_config('s3.url_style', 'path'), "
        "imgpca_config('s3.region', 'us-east-1')",
        port);
    sqlite3_open(":memory:", &db);
    exec(db, zSet);
    sqlite3_free(zSet);
    t0 = now_s();
    rc = run(db, azSql[i], 1000);
    dt = now_s() - t0 - 1.0;
    if (rc != SQLITE_INTERRUPT || dt > 3.0) {
      fprintf(stderr, "FAIL silent server: %s: rc %d (%s), returned %.1f s after the interrupt\n", azSql[i], rc,
              sqlite3_errmsg(db), dt);
      fails++;
    } else if (strstr(azSql[i], "s3_concat") && stub_value(port, "__aborts") != nAbort0 + 1) {
      fprintf(stderr, "FAIL silent server: the interrupted s3_concat did not abort its upload (%ld aborts)\n",
              stub_value(port, "__aborts") - nAbort0);
      fails++;
    } else {
      printf("ok   interrupt: %.40s... stopped %.2f s after the interrupt\n", azSql[i], dt);
    }
    sqlite3_close(db);
  }
  remove("interrupt.tmp");
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  alarm(120); /* watchdog: a statement that ignores the interrupt kills the test */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
  test_list_forever(atoi(argv[1]));
  test_list_repeat(atoi(argv[2]));
  test_silent(atoi(argv[3]));
  curl_global_cleanup();
  return fails ? 1 : 0;
}
