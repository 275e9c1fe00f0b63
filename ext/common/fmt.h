/*
** Shortest round-trip formatting of binary floating-point numbers (pure C,
** no SQL behaviour of its own; used by csv_export and fvec_to_json).
**
** imgpca_fmt_double(v) writes the shortest decimal that strtod() reads back
** as exactly v; imgpca_fmt_float(v) the shortest that strtof() reads back as
** exactly v (so 0.1 prints "0.1" both as a float and a double, never
** "0.10000000000000001" or "0.100000001").  Among decimals of that length the
** one nearest to v is chosen.  Layout: plain decimal notation when the
** decimal exponent X is in [-5, 17) ("0.00012", "1500", "123.25"), otherwise
** %g-style exponent notation ("1e+20", "1.5e-07", "5e-324").  Integral
** values print without a fraction ("100", "-3").  Zero prints "0" or "-0";
** NaN prints "NaN", infinities "Inf" / "-Inf" (CSV readers such as pandas
** and numpy accept these; JSON has no spelling for them).  The output never
** depends on the locale.  out must hold IMGPCA_FMT_MAX bytes; the return
** value is the length written (without the terminating NUL).
*/
#ifndef IMGPCA_FMT_H
#define IMGPCA_FMT_H

#include "common.h"

#define IMGPCA_FMT_MAX 32

int imgpca_fmt_double(char *out, double v);
int imgpca_fmt_float(char *out, float v);

/* Appends z[0..n) made safe to print on a terminal (imgpca_printable):
** C0 controls, DEL and bytes that are not UTF-8 as \xNN; C1 controls,
** U+2028/U+2029 and the bidirectional overrides and isolates (U+202A..E,
** U+2066..9) as \u{XXXX}; with bBackslash a backslash as \\ (so the
** escapes are unambiguous); everything else as is. */
int imgpca_printable_append(ImgpcaBuf *b, const char *z, size_t n, int bBackslash);

#endif
