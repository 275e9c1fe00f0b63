/*
** Float32 vectors (pure C).  A vector travels through SQL as a BLOB of
** little-endian IEEE-754 float32 values, 4 bytes per dimension -- the layout
** sqlite-vec uses, so blobs are interchangeable.  Vectors may also be
** written as JSON arrays of numbers: '[1, 2.5, -3e-2]'.
*/
#ifndef IMGPCA_VECTOR_H
#define IMGPCA_VECTOR_H

#include "../common/common.h"

/* Largest accepted dimension (16 Mi floats = 64 MiB blob). */
#define IMGPCA_VEC_MAX_DIMS (16u * 1024u * 1024u)

/* Validates a blob: length a non-zero multiple of 4, at most
** IMGPCA_VEC_MAX_DIMS, every element finite.  *pDim receives the dimension. */
int fvec_check_blob(const void *p, size_t nByte, size_t *pDim, char *err);

/* Parses a JSON array of finite numbers.  *pOut is allocated with
** imgpca_malloc.  Errors name the offset or element. */
int fvec_parse_json(const char *z, size_t n, float **pOut, size_t *pDim, char *err);

/* Appends "[v1,v2,...]" with 9 significant digits (float32 round trip). */
int fvec_write_json(const float *v, size_t n, ImgpcaBuf *out);

/* Blob <-> host floats. */
void fvec_decode(const unsigned char *blob, size_t n, float *out);
void fvec_encode(const float *v, size_t n, unsigned char *out);
/* Allocates a blob (imgpca_malloc) of n floats from v; NULL on OOM. */
unsigned char *fvec_blob(const float *v, size_t n);
unsigned char *fvec_blob_from_double(const double *v, size_t n);

double fvec_dot(const float *a, const float *b, size_t n);
double fvec_l2(const float *a, const float *b, size_t n);
/* 1 - cos(a, b); returns IMGPCA_ERROR if either vector is zero. */
int fvec_cosine_distance(const float *a, const float *b, size_t n, double *out, char *err);
double fvec_norm(const float *v, size_t n);
/* Index of the largest element (the first of equal ones); n >= 1. */
size_t fvec_argmax(const float *v, size_t n);

#endif
