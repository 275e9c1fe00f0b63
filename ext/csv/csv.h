/*
** CSV writer core (pure C, no SQLite types).
**
** Formatting rules used by csv_export (ext/csv/csv_sql.c):
**   - RFC 4180 quoting: a field is enclosed in double quotes when it contains
**     the delimiter, a double quote, CR or LF, or is the empty string (so an
**     empty string "" stays distinct from NULL, which is written as nothing);
**     embedded double quotes are doubled.
**   - numbers always use '.' as decimal separator whatever the C locale;
**     float32 vector elements and REAL values print as the shortest decimal
**     that reads back to the same float32 / double (common/fmt.h: "0.1",
**     not "0.100000001" or "0.10000000000000001"), integers %lld.
**   - header names: a vector column named "pc" of N dimensions expands to
**     "pc1".."pcN"; names are quoted like fields.
**   - formula guard (optional, off by default): a text field (or header
**     name) starting with '=', '+', '-', '@', TAB or CR gets a leading single
**     quote, so that spreadsheets show it as text instead of evaluating it
**     (OWASP "CSV injection"); numbers are written as numbers.
**   - delimiters: csv_delimiter_ok() accepts TAB, space and ASCII
**     punctuation except '"', '.', '+' and '-' (which can occur in unquoted
**     numbers); letters, digits, CR, LF and other control bytes are refused.
** Rows: csv_layout_* turn a row, read cell by cell through a callback, into
** fields: the first row decides which columns are float32 vectors (BLOBs),
** later rows must agree.
** Output is accumulated in a buffer and handed to a sink callback in chunks,
** so memory stays bounded whatever the number of rows.
*/
#ifndef IMGPCA_CSV_H
#define IMGPCA_CSV_H

#include "../common/common.h"

/* Receives n bytes of output; returns IMGPCA_OK or an error code (message in err). */
typedef int (*CsvSinkFn)(void *pArg, const void *p, size_t n, char *err);

typedef struct CsvWriter {
  ImgpcaBuf buf;
  CsvSinkFn xSink;
  void *pArg;
  size_t flushAt;    /* hand the buffer to the sink once it holds this much */
  char delim;        /* field delimiter, default ',' */
  const char *zEol;  /* "\n" (default) or "\r\n" */
  int bFormulaGuard; /* prefix text starting with = + - @ TAB CR with ' */
  int nField;        /* fields written on the current line */
  int64_t nBytes;    /* bytes handed to the sink */
} CsvWriter;

void csv_writer_init(CsvWriter *w, CsvSinkFn xSink, void *pArg);
void csv_writer_free(CsvWriter *w);

/* Field writers (each appends a delimiter first when not the first field). */
int csv_text(CsvWriter *w, const char *z, size_t n);
int csv_null(CsvWriter *w);
int csv_int(CsvWriter *w, long long v);
int csv_double(CsvWriter *w, double v); /* %.17g */
int csv_float(CsvWriter *w, float v);   /* %.9g */
/* Header cell "<zName><idx>" (idx >= 1) or "<zName>" (idx == 0). */
int csv_name(CsvWriter *w, const char *zName, size_t idx);
/* Elements of a float32 LE blob of n dims, one field each. */
int csv_f32_blob(CsvWriter *w, const unsigned char *p, size_t n);
/* n empty fields (a NULL vector). */
int csv_nulls(CsvWriter *w, size_t n);
/* Ends the line; flushes to the sink when the buffer is large enough. */
int csv_eol(CsvWriter *w, char *err);
/* Flushes everything buffered to the sink. */
int csv_flush(CsvWriter *w, char *err);

/* Formats a number with '.' as decimal separator into out (size >= 32).
** The only place numbers are formatted: csv_double and csv_float use it. */
void csv_fmt_double(char *out, size_t nOut, double v, int digits);

/* 1 when c may be used as the field delimiter (see above). */
int csv_delimiter_ok(int c);

/* ---- rows to fields ---------------------------------------------------- */

typedef enum { CSV_NULL,
               CSV_INTEGER,
               CSV_REAL,
               CSV_TEXT,
               CSV_BLOB } CsvType;

typedef struct CsvCell {
  CsvType eType;
  long long i;   /* CSV_INTEGER */
  double r;      /* CSV_REAL */
  const void *p; /* CSV_TEXT (UTF-8), CSV_BLOB; NULL only when n == 0 */
  size_t n;      /* bytes at p */
} CsvCell;

/* Reads column iCol of the current row into *c; returns IMGPCA_OK or
** IMGPCA_NOMEM.  *c stays valid until the next call. */
typedef int (*CsvCellFn)(void *pArg, int iCol, CsvCell *c);

typedef struct CsvLayout {
  int nCol;
  int bExpand;              /* vectors: N fields (1) or one JSON array (0) */
  int *aDim;                /* per column: 0 scalar, N > 0 vector of N
                            ** fields, -1 vector as one JSON field */
  const char *const *azCol; /* column names for messages (not copied) */
} CsvLayout;

int csv_layout_init(CsvLayout *l, int nCol, int bExpand, const char *const *azCol);
void csv_layout_free(CsvLayout *l);
/* Decides each column's kind from the first row (a BLOB is a vector). */
int csv_layout_first_row(CsvLayout *l, CsvCellFn xCell, void *pArg, char *err);
/* Writes the header fields: azName[i] for i < nName, else azCol[i],
** expanded for vectors.  The caller ends the line (csv_eol). */
int csv_layout_header(const CsvLayout *l, CsvWriter *w, const char *const *azName, int nName);
/* Writes the fields of row iRow (1-based, for messages).  IMGPCA_ERROR with
** err set when a cell does not fit the layout.  The caller ends the line. */
int csv_layout_row(const CsvLayout *l, CsvWriter *w, CsvCellFn xCell, void *pArg, long long iRow,
                   char *err);

#endif
