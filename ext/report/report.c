/*
** Report core: base64 encoding and assembly of the HTML report page.
**
**   imgpca_base64(data)  -> text, RFC 4648 base64 with padding of a BLOB (or
**       of the bytes of a text); NULL -> NULL.  Builds data: URIs in SQL:
**       'data:image/jpeg;base64,' || imgpca_base64(img_thumbnail(img, 48)).
**   imgpca_report_html(json [, template])  -> text: the page template with
**       its marker __IMGPCA_REPORT_DATA__ replaced by json (a JSON value,
**       checked by the caller; '<' escaped as \u003c, U+2028 and U+2029 as
**       \u2028 and \u2029, so that it cannot leave the <script> element).
**       Malformed JSON is an error (it was inserted verbatim, and text like
**       '1};alert(1);//' ran as script).  The default template is ext/report/report.html,
**       compiled into the library (.incbin), so the page needs no file at run
**       time.  Errors: json not text, template without exactly one marker.
*/
#include "report.h"

/* The template, embedded from the source tree at build time (the build runs
** from the repository root; the Makefile makes this object depend on it). */
__asm__(
    ".section .rodata\n"
    ".balign 16\n"
    ".globl imgpca_report_tpl_begin\n"
    ".hidden imgpca_report_tpl_begin\n"
    "imgpca_report_tpl_begin:\n"
    ".incbin \"ext/report/report.html\"\n"
    ".globl imgpca_report_tpl_end\n"
    ".hidden imgpca_report_tpl_end\n"
    "imgpca_report_tpl_end:\n"
    ".byte 0\n"
    ".previous\n");
extern const char imgpca_report_tpl_begin[];
extern const char imgpca_report_tpl_end[];

const char *imgpca_report_template(size_t *pn) {
  if (pn) *pn = (size_t)(imgpca_report_tpl_end - imgpca_report_tpl_begin);
  return imgpca_report_tpl_begin;
}

int imgpca_base64_append(ImgpcaBuf *b, const unsigned char *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i, need;
  unsigned char *o;
  if (n > ((size_t)-1 / 4) * 3 - 3) return IMGPCA_NOMEM;
  need = (n + 2) / 3 * 4;
  if (imgpca_buf_reserve(b, need) != IMGPCA_OK) return IMGPCA_NOMEM;
  o = b->p + b->n;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
    *o++ = (unsigned char)tab[v >> 18];
    *o++ = (unsigned char)tab[(v >> 12) & 63];
    *o++ = (unsigned char)tab[(v >> 6) & 63];
    *o++ = (unsigned char)tab[v & 63];
  }
  if (i < n) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
    *o++ = (unsigned char)tab[v >> 18];
    *o++ = (unsigned char)tab[(v >> 12) & 63];
    *o++ = i + 1 < n ? (unsigned char)tab[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  b->n += need;
  return IMGPCA_OK;
}

static const char *find(const char *h, size_t nh, const char *needle) {
  size_t nn = strlen(needle), i;
  if (nh < nn) return NULL;
  for (i = 0; i + nn <= nh; i++)
    if (h[i] == needle[0] && memcmp(h + i, needle, nn) == 0) return h + i;
  return NULL;
}

int imgpca_report_build(ImgpcaBuf *b, const char *tpl, size_t ntpl, const char *json, size_t njson,
                        char *err) {
  size_t nm = strlen(IMGPCA_REPORT_MARKER), i, start;
  const char *m = find(tpl, ntpl, IMGPCA_REPORT_MARKER);
  if (!m) return imgpca_seterr(err, "template has no marker %s", IMGPCA_REPORT_MARKER);
  if (find(m + nm, ntpl - (size_t)(m - tpl) - nm, IMGPCA_REPORT_MARKER))
    return imgpca_seterr(err, "template has more than one marker %s", IMGPCA_REPORT_MARKER);
  if (imgpca_buf_reserve(b, ntpl + njson + 64) != IMGPCA_OK) return IMGPCA_NOMEM;
  imgpca_buf_append(b, tpl, (size_t)(m - tpl));
  for (start = i = 0; i < njson; i++) {
    if (json[i] == '<') {
      imgpca_buf_append(b, json + start, i - start);
      imgpca_buf_append(b, "\\u003c", 6);
      start = i + 1;
    } else if ((unsigned char)json[i] == 0xE2 && i + 2 < njson && (unsigned char)json[i + 1] == 0x80 &&
               ((unsigned char)json[i + 2] == 0xA8 || (unsigned char)json[i + 2] == 0xA9)) {
      imgpca_buf_append(b, json + start, i - start);
      imgpca_buf_append(b, (unsigned char)json[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
      start = i + 3;
      i += 2;
    }
  }
  imgpca_buf_append(b, json + start, njson - start);
  imgpca_buf_append(b, m + nm, ntpl - (size_t)(m - tpl) - nm);
  return b->oom ? IMGPCA_NOMEM : IMGPCA_OK;
}
