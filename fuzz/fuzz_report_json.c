/*
** Fuzz target: the report page's data (imgpca_report_html, ext/report).
**
** Input: arbitrary bytes as the data text.  SQLite's json_valid() decides
** whether the SQL function would accept it (it refuses anything else); for
** accepted JSON the page must hold the data with '<' and U+2028/U+2029
** escaped, so that nothing in it can close the <script> element: the part
** between the template's halves holds no '<' and no U+2028/9, and undoing
** the three escapes gives the input back.
*/
#include <sqlite3.h>

#include "fuzz.h"
#include "report/report.h"

static sqlite3 *db;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char tpl[] = "<script>const DATA = __IMGPCA_REPORT_DATA__;</script>";
  const size_t npre = 21, npost = 10; /* "<script>const DATA = " and ";</script>" */
  sqlite3_stmt *st = NULL;
  ImgpcaBuf b;
  char err[IMGPCA_ERRMAX];
  int valid = 0, rc;
  size_t i, o, nd;
  char *back;
  if (!db && sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
  if (sqlite3_prepare_v2(db, "SELECT json_valid(?1)", -1, &st, NULL) != SQLITE_OK) abort();
  sqlite3_bind_text(st, 1, (const char *)data, (int)size, SQLITE_TRANSIENT);
  if (sqlite3_step(st) == SQLITE_ROW) valid = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (!valid || memchr(data, 0, size)) return 0;
  imgpca_buf_init(&b);
  rc = imgpca_report_build(&b, tpl, sizeof tpl - 1, (const char *)data, size, err);
  if (rc != IMGPCA_OK) fuzz_fail("valid JSON refused: %s", err);
  if (b.n < npre + npost || memcmp(b.p, tpl, npre) != 0 || memcmp(b.p + b.n - npost, tpl + sizeof tpl - 1 - npost, npost))
    fuzz_fail("template halves not kept");
  nd = b.n - npre - npost;
  back = malloc(nd + 1);
  if (!back) abort();
  for (i = npre, o = 0; i < npre + nd; i++) {
    const unsigned char *p = b.p + i;
    if (*p == '<') fuzz_fail("'<' left in the data");
    if (p[0] == 0xE2 && i + 2 < npre + nd && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
      fuzz_fail("U+2028/9 left in the data");
    if (!memcmp(p, "\\u003c", 6)) {
      back[o++] = '<';
      i += 5;
    } else if (!memcmp(p, "\\u2028", 6) || !memcmp(p, "\\u2029", 6)) {
      back[o++] = (char)0xE2;
      back[o++] = (char)0x80;
      back[o++] = (char)(p[5] == '8' ? 0xA8 : 0xA9);
      i += 5;
    } else {
      back[o++] = (char)*p;
    }
  }
  /* an escape already in the input reads back as the character: compare after
  ** undoing the input's own escapes the same way */
  {
    char *want = malloc(size + 1);
    size_t w = 0;
    if (!want) abort();
    for (i = 0; i < size; i++) {
      if (i + 6 <= size && !memcmp(data + i, "\\u003c", 6)) {
        want[w++] = '<';
        i += 5;
      } else if (i + 6 <= size && (!memcmp(data + i, "\\u2028", 6) || !memcmp(data + i, "\\u2029", 6))) {
        want[w++] = (char)0xE2;
        want[w++] = (char)0x80;
        want[w++] = (char)(data[i + 5] == '8' ? 0xA8 : 0xA9);
        i += 5;
      } else {
        want[w++] = (char)data[i];
      }
    }
    if (w != o || memcmp(want, back, o)) fuzz_fail("data not kept (escapes undone)");
    free(want);
  }
  free(back);
  imgpca_buf_free(&b);
  return 0;
}
