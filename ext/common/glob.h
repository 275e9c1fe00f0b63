/*
** Glob matching and URI encoding, shared by the storage backends (local
** files, S3) and the S3 signer.  Pure C.
*/
#ifndef IMGPCA_GLOB_H
#define IMGPCA_GLOB_H

#include <stddef.h>

#include "common.h"

/* '*' any run within one '/' segment, '**' any run across segments (a double
** star between two slashes also matches zero segments), '?' one character
** except '/', '[abc]' '[a-z]'
** '[!a]' '[^a]' classes, '\x' a literal x.  Returns 1 on match. */
int imgpca_glob_match(const char *zPattern, const char *zStr);
/* Length of the literal prefix of a pattern (before the first metacharacter);
** *pzLiteral (optional, imgpca_free) receives it with escapes removed. */
size_t imgpca_glob_prefix(const char *zPattern, char **pzLiteral);
int imgpca_glob_has_magic(const char *zPattern);

/* Appends z[0..n) to b percent-encoded (everything but A-Z a-z 0-9 - . _ ~,
** and '/' when keepSlash).  Returns IMGPCA_OK or IMGPCA_NOMEM. */
int imgpca_uri_encode(ImgpcaBuf *b, const char *z, size_t n, int keepSlash);

/* Decodes %XX (and, when plus, '+' as space) in place; returns 0 on a bad escape. */
int imgpca_uri_decode(char *z, int plus);

#endif
