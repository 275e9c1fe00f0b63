/*
** Report core (pure C, no SQLite types): base64 and the self-contained HTML
** report page (template ext/report/report.html, embedded at build time).
** SQL glue: report_sql.c.  Reference: docs/REPORT.md.
*/
#ifndef IMGPCA_REPORT_H
#define IMGPCA_REPORT_H

#include "../common/common.h"

/* Appends the standard base64 (RFC 4648, padded) of p[0..n) to b. */
int imgpca_base64_append(ImgpcaBuf *b, const unsigned char *p, size_t n);

/* The embedded page template (NUL-terminated) and its length. */
const char *imgpca_report_template(size_t *pn);

/* The marker in a template replaced by the report data. */
#define IMGPCA_REPORT_MARKER "__IMGPCA_REPORT_DATA__"

/* Appends tpl with its one IMGPCA_REPORT_MARKER replaced by json, every '<'
** of json written as \u003c (so no "</script>" can end the script element;
** '<' only occurs inside JSON strings, where the escape means the same).
** Error when the marker is missing or appears twice. */
int imgpca_report_build(ImgpcaBuf *b, const char *tpl, size_t ntpl, const char *json, size_t njson,
                        char *err);

#endif
