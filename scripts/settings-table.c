/*
** Prints the markdown table of the settings (ext/config/config.c) whose
** name starts with PREFIX (all of them without one): name, environment
** variables, default, accepted values and the setting's help text.  The
** settings tables of README.md and docs/STORAGE.md are this output, between
** "<!-- generated: settings [PREFIX] -->" and "<!-- end -->"
** (scripts/docs-tables.sh writes them, tests/docs-tables.sh checks them).
**   build/settings-table [PREFIX]
*/
#include <stdio.h>
#include <string.h>

#include "config/config.h"

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

int main(int argc, char **argv) {
  const char *zPrefix = argc > 1 ? argv[1] : "";
  int i, k;
  printf("| setting | environment | default | values | meaning |\n|---|---|---|---|---|\n");
  for (i = 0; imgpca_settings[i].zKey; i++) {
    const ImgpcaSetting *s = &imgpca_settings[i];
    if (strncmp(s->zKey, zPrefix, strlen(zPrefix)) != 0) continue;
    printf("| `%s` | ", s->zKey);
    for (k = 0; k < 3 && s->azEnv[k]; k++) printf("%s`%s`", k ? ", " : "", s->azEnv[k]);
    printf(" | ");
    if (s->zDefault) printf("`%s`", s->zDefault);
    printf(" | ");
    switch (s->eType) {
      case CFG_INT: printf("%lld to %lld", s->iMin, s->iMax); break;
      case CFG_BOOL: printf("true or false"); break;
      case CFG_ENUM: enum_values(s->zEnum); break;
      case CFG_STRING:
        cell(s->zCheckHelp ? s->zCheckHelp : "text");
        break;
    }
    printf(" | ");
    cell(s->zHelp);
    printf(" |\n");
  }
  return 0;
}
