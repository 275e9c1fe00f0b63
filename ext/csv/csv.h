/*
** CSV writer core (pure C, no SQLite types).
**
** Formatting rules used by csv_export (ext/csv/csv_sql.c):
**   - RFC 4180 quoting: a field is enclosed in double quotes when it contains
**     the delimiter, a double quote, CR or LF, or is the empty string (so an
**     empty string "" stays distinct from NULL, which is written as nothing);
**     embedded double quotes are doubled.
**   - numbers always use '.' as decimal separator whatever the C locale;
**     float32 vector elements use %.9g (round-trips float32), REAL values
**     %.17g (round-trips double), integers %lld.
**   - header names: a vector column named "pc" of N dimensions expands to
**     "pc1".."pcN"; names are quoted like fields.
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
  size_t flushAt;      /* hand the buffer to the sink once it holds this much */
  char delim;          /* field delimiter, default ',' */
  const char *zEol;    /* "\n" (default) or "\r\n" */
  int nField;          /* fields written on the current line */
  int64_t nBytes;      /* bytes handed to the sink */
} CsvWriter;

void csv_writer_init(CsvWriter *w, CsvSinkFn xSink, void *pArg);
void csv_writer_free(CsvWriter *w);

/* Field writers (each appends a delimiter first when not the first field). */
int csv_text(CsvWriter *w, const char *z, size_t n);
int csv_null(CsvWriter *w);
int csv_int(CsvWriter *w, long long v);
int csv_double(CsvWriter *w, double v);   /* %.17g */
int csv_float(CsvWriter *w, float v);     /* %.9g */
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

/* Formats a number with '.' as decimal separator into out (size >= 32). */
void csv_fmt_double(char *out, size_t nOut, double v, int digits);

#endif
