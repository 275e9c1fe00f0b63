/*
** Prints the reference tables of the docs from the module descriptors
** (ImgpcaModule, ext/sqlglue/sqlglue.h), linked with the objects of the
** extension (build/libimgpca-int.a):
**
**   build/reference settings [PREFIX]  markdown table of the settings whose
**                                      name starts with PREFIX: name,
**                                      environment variables, default,
**                                      accepted values, meaning
**   build/reference functions          markdown table of the SQL reference
**                                      (the modules' rows, in module order)
**   build/reference api                one line per SQL function and number
**                                      of arguments, and per table, as
**                                      tests/api-surface.expected holds them
**                                      (unsorted)
**
** "functions" also checks the descriptors: every function and table of a
** module is named ("`name" and an opening parenthesis) by one of its reference rows, and every name a
** row gives is a function or table of that module; a mismatch is printed on
** stderr and the exit code is 1.  tests/docs-tables.sh compares the
** generated blocks of README.md and the docs pages, and api-surface.expected,
** with this output (make docs-tables rewrites them).
*/
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "sqlglue/sqlglue.h"

/* A markdown table cell: '|' escaped, nothing else changed. */
static void cell(const char *z) {
  for (; *z; z++) {
    if (*z == '|') putchar('\\');
    putchar(*z);
  }
}

/* "|a|b|" -> "`a`, `b`" */
static void enum_values(const char *z) {
  const char *p = z + 1, *q;
  int first = 1;
  while ((q = strchr(p, '|')) != NULL) {
    printf("%s`%.*s`", first ? "" : ", ", (int)(q - p), p);
    first = 0;
    p = q + 1;
  }
}

static void print_setting(const ImgpcaSetting *s) {
  char zVar[64];
  int k, kind;
  printf("| `%s` | ", s->zKey);
  for (k = 0; (kind = imgpca_setting_env(s, k, zVar, sizeof zVar)) != 0; k++)
    printf("%s`%s`%s", k ? ", " : "", zVar, kind == 2 ? " (deprecated)" : "");
  printf(" | ");
  if (s->zDefault) printf("`%s`", s->zDefault);
  printf(" | ");
  switch (s->eType) {
    case CFG_INT: printf("%lld to %lld", s->iMin, s->iMax); break;
    case CFG_BOOL: printf("true or false"); break;
    case CFG_ENUM: enum_values(s->zEnum); break;
    case CFG_STRING: cell(s->zCheckHelp ? s->zCheckHelp : "text"); break;
  }
  printf(" | ");
  cell(s->zHelp);
  printf(" |\n");
}

static int settings(const char *zPrefix) {
  const ImgpcaModule *const *ap = imgpca_modules();
  const ImgpcaSetting *s;
  int i;
  printf("| setting | environment | default | values | meaning |\n|---|---|---|---|---|\n");
  for (i = 0; ap[i]; i++)
    for (s = ap[i]->aSetting; s && s->zKey; s++)
      if (strncmp(s->zKey, zPrefix, strlen(zPrefix)) == 0) print_setting(s);
  return 0;
}

/* 1 if the signatures zSig name "`zName(" (a function or table). */
static int sig_names(const char *zSig, const char *zName) {
  size_t n = strlen(zName);
  const char *p;
  for (p = zSig; (p = strchr(p, '`')) != NULL; p++)
    if (strncmp(p + 1, zName, n) == 0 && p[1 + n] == '(') return 1;
  return 0;
}

static int module_has(const ImgpcaModule *m, const char *zName, size_t n) {
  int i;
  for (i = 0; m->aFunc && m->aFunc[i].zName; i++)
    if (strlen(m->aFunc[i].zName) == n && strncmp(m->aFunc[i].zName, zName, n) == 0) return 1;
  for (i = 0; m->aTable && m->aTable[i].zName; i++)
    if (strlen(m->aTable[i].zName) == n && strncmp(m->aTable[i].zName, zName, n) == 0) return 1;
  return 0;
}

/* The descriptor's rows against its functions and tables. */
static int check_module(const ImgpcaModule *m) {
  int i, j, bad = 0;
  const char *zName;
  for (i = 0; m->aFunc && (zName = m->aFunc[i].zName) != NULL; i++) {
    for (j = 0; m->aDoc && m->aDoc[j].zSig && !sig_names(m->aDoc[j].zSig, zName); j++) {
    }
    if (!m->aDoc || !m->aDoc[j].zSig) {
      fprintf(stderr, "reference: module '%s': function '%s' has no row in its aDoc\n", m->zName, zName);
      bad = 1;
    }
  }
  for (i = 0; m->aTable && (zName = m->aTable[i].zName) != NULL; i++) {
    for (j = 0; m->aDoc && m->aDoc[j].zSig && !sig_names(m->aDoc[j].zSig, zName); j++) {
    }
    if (!m->aDoc || !m->aDoc[j].zSig) {
      fprintf(stderr, "reference: module '%s': table '%s' has no row in its aDoc\n", m->zName, zName);
      bad = 1;
    }
  }
  for (j = 0; m->aDoc && m->aDoc[j].zSig; j++) {
    const char *p;
    for (p = m->aDoc[j].zSig; (p = strchr(p, '`')) != NULL; p++) {
      size_t n = 0;
      while (isalnum((unsigned char)p[1 + n]) || p[1 + n] == '_') n++;
      if (n && p[1 + n] == '(' && !module_has(m, p + 1, n)) {
        fprintf(stderr, "reference: module '%s': row %d names '%.*s', not a function or table of the module\n",
                m->zName, j + 1, (int)n, p + 1);
        bad = 1;
      }
      p = strchr(p + 1, '`'); /* the closing quote */
      if (!p) break;
    }
  }
  return bad;
}

static int functions(void) {
  const ImgpcaModule *const *ap = imgpca_modules();
  int i, j, bad = 0;
  printf("| function | returns | notes |\n|---|---|---|\n");
  for (i = 0; ap[i]; i++) {
    bad |= check_module(ap[i]);
    for (j = 0; ap[i]->aDoc && ap[i]->aDoc[j].zSig; j++)
      printf("| %s | %s | %s |\n", ap[i]->aDoc[j].zSig, ap[i]->aDoc[j].zReturns, ap[i]->aDoc[j].zNotes);
  }
  return bad;
}

static int api(void) {
  const ImgpcaModule *const *ap = imgpca_modules();
  int i, j;
  for (i = 0; ap[i]; i++) {
    for (j = 0; ap[i]->aFunc && ap[i]->aFunc[j].zName; j++) {
      const ImgpcaSqlFunc *f = &ap[i]->aFunc[j];
      const char *zDet = (f->flags & SQLITE_DETERMINISTIC) ? "deterministic" : "";
      const char *zDirect = (f->flags & SQLITE_DIRECTONLY) ? "directonly" : "";
      const char *zInno = (f->flags & SQLITE_INNOCUOUS) ? "innocuous" : "";
      printf("function|%s|%d|%s|%s%s%s%s%s\n", f->zName, f->nArg, f->xStep ? "a" : "s", zDet,
             *zDet && (*zDirect || *zInno) ? " " : "", zDirect, *zDirect && *zInno ? " " : "", zInno);
    }
    for (j = 0; ap[i]->aTable && ap[i]->aTable[j].zName; j++) printf("module|%s|||\n", ap[i]->aTable[j].zName);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "settings") == 0) return settings(argc > 2 ? argv[2] : "");
  if (argc == 2 && strcmp(argv[1], "functions") == 0) return functions();
  if (argc == 2 && strcmp(argv[1], "api") == 0) return api();
  fprintf(stderr, "usage: %s settings [PREFIX] | functions | api\n", argv[0]);
  return 2;
}
