/*
** S3 client core (pure C, no SQLite types): SigV4 signing, S3 XML parsing
** (expat), the credential chain and an HTTP client (libcurl) with retries;
** glob matching and URI encoding are ext/common/glob.h.  The SQL surface is
** ext/storage/storage_sql.c; the storage API that hides local files vs S3 is
** ext/storage/storage.h, the only module that uses this one.  What the client's
** files share among themselves is s3_int.h.
*/
#ifndef IMGPCA_S3_H
#define IMGPCA_S3_H

#include <stdint.h>
#include <time.h>

#include "../common/common.h"
#include "../config/config.h"
#include "../common/glob.h"

/* ---- sigv4.c: SHA-256, HMAC, SigV4 ---- */
typedef struct S3Sha256 {
  uint32_t h[8];
  uint64_t nTotal;
  unsigned char buf[64];
  size_t nBuf;
} S3Sha256;
void s3_sha256_init(S3Sha256 *c);
void s3_sha256_update(S3Sha256 *c, const void *p, size_t n);
void s3_sha256_final(S3Sha256 *c, unsigned char out[32]);
void s3_sha256(const void *p, size_t n, unsigned char out[32]);
void s3_sha256_hex(const void *p, size_t n, char out[65]);
void s3_hmac_sha256(const void *key, size_t nKey, const void *msg, size_t nMsg,
                    unsigned char out[32]);
void s3_hex(const unsigned char *p, size_t n, char *out); /* lower-case, NUL-terminated */

/* URI encoding and decoding: imgpca_uri_encode/imgpca_uri_decode (common/glob.h). */

/* A canonical query: parameters sorted by encoded name (then value). */
typedef struct S3Param {
  char *zName;
  char *zValue;
} S3Param;
typedef struct S3Query {
  S3Param *a;
  int n;
  int nAlloc;
} S3Query;
int s3_query_add(S3Query *q, const char *zName, const char *zValue); /* zValue NULL = "" */
int s3_query_render(const S3Query *q, ImgpcaBuf *b);                 /* "a=1&b=%2F" (no '?') */
void s3_query_free(S3Query *q);

typedef struct S3Header {
  const char *zName;
  const char *zValue;
} S3Header;
typedef struct S3SignInput {
  const char *zMethod;
  const char *zPath;    /* canonical (already encoded) path, starts with '/' */
  const char *zQuery;   /* canonical query or "" */
  const S3Header *aHdr; /* headers to sign: lower-case names, trimmed values */
  int nHdr;
  const char *zPayloadHash;
  const char *zAmzDate; /* YYYYMMDDTHHMMSSZ */
  const char *zRegion;
  const char *zService; /* "s3" */
  const char *zAccessKey;
  const char *zSecretKey;
} S3SignInput;
/* Writes the Authorization header value into *pzAuth (imgpca_free); when
** pCanon / pToSign are not NULL they receive the canonical request and the
** string to sign (for tests). */
int s3_sigv4_sign(const S3SignInput *in, char **pzAuth, ImgpcaBuf *pCanon, ImgpcaBuf *pToSign);
void s3_amz_date(time_t t, char out[17]);

/* ---- xml.c (expat) ---- */
typedef struct S3Object {
  char *zKey;
  int64_t nSize;
  char *zEtag;
  char *zLastModified;
} S3Object;
typedef struct S3ListPage {
  S3Object *a;
  int n, nAlloc;
  int bTruncated;
  char *zNextToken;
  char *zEncoding;
} S3ListPage;
int s3_xml_list(const char *p, size_t n, S3ListPage *out, char *err);
void s3_list_page_free(S3ListPage *pg);

typedef struct S3XmlError {
  char *zCode;
  char *zMessage;
  char *zRegion;
} S3XmlError;
/* Parses an <Error> document; returns IMGPCA_OK (fields may stay NULL) or an error. */
int s3_xml_error(const char *p, size_t n, S3XmlError *out);
void s3_xml_error_free(S3XmlError *e);
/* <InitiateMultipartUploadResult><UploadId>. */
int s3_xml_upload_id(const char *p, size_t n, char **pzId, char *err);
/* <CompleteMultipartUploadResult><ETag>; an <Error> root is reported as an error. */
int s3_xml_complete(const char *p, size_t n, char **pzEtag, char *err);
/* <CopyPartResult><ETag> of UploadPartCopy; an <Error> root is reported as an error. */
int s3_xml_copy_part(const char *p, size_t n, char **pzEtag, char *err);
/* Appends z XML-escaped. */
int s3_xml_escape(ImgpcaBuf *b, const char *z);

/* ---- creds.c ---- */
typedef struct S3Creds {
  char *zAccess, *zSecret, *zToken;
  time_t expiry;             /* 0 = does not expire */
  char zSource[64];          /* "connection", "env", "profile 'x' in FILE", "imds", "none" */
  char *zProfileRegion;      /* region of the profile (config file), or NULL */
  char *zProfileEndpoint;    /* endpoint_url of the profile (services s3, then its own), or NULL */
  char zEndpointSource[192]; /* where zProfileEndpoint comes from, for messages */
  char *zCaBundle;           /* CA bundle to verify TLS with (s3_ca_bundle_resolve), or NULL */
  char zCaSource[128];       /* where zCaBundle comes from, for messages */
} S3Creds;
/* The CA bundle: s3.ca_bundle (connection setting, then AWS_CA_BUNDLE), else
** ca_bundle in the active profile's section of the shared config file; a
** leading "~/" is expanded.  *pzPath NULL when none is configured (the
** system's certificate store is used).  zSource receives the origin. */
int s3_ca_bundle_resolve(const ImgpcaConfig *cfg, char **pzPath, char *zSource, size_t nSource);
/* Resolves credentials: connection settings > environment > shared files
** (profile) > IMDSv2.  No credentials at all is not an error (zAccess NULL:
** unsigned requests); a profile named by s3.profile / AWS_PROFILE that
** exists in neither file, or with half a key pair, is.  Also reads the
** profile's region and endpoint_url.  Also resolves the CA bundle first (used to verify an
** https:// IMDS endpoint; the default one is plain http). */
int s3_creds_resolve(const ImgpcaConfig *cfg, S3Creds *out, char *err);
void s3_creds_free(S3Creds *c);
/* INI lookups of the shared files (for tests): value of top-level zKey in
** section zSection; value of zSub nested under zKey ("s3 =" then indented
** "endpoint_url = ..."); whether section zSection exists. */
char *s3_ini_get(const char *zText, const char *zSection, const char *zKey);
char *s3_ini_get_nested(const char *zText, const char *zSection, const char *zKey, const char *zSub);
int s3_ini_has_section(const char *zText, const char *zSection);
/* Flat JSON object: string value of zKey, or NULL. */
char *s3_json_get(const char *zText, const char *zKey);
/* Parses "2026-11-25T03:00:00Z" (ISO 8601 UTC); returns -1 on error. */
time_t s3_parse_iso8601(const char *z);

/* ---- request.c: retry policy ---- */
/* Retry policy (pure): 1 = retry a failed attempt with this curl code / status. */
int s3_http_retryable(int curlCode, long status);
/* Backoff before retry number `attempt` (0-based): full jitter in
** [cap/2, cap], cap = min(100 ms * 2^attempt, 10 s); r is a random 32-bit value. */
long s3_backoff_ms(int attempt, uint32_t r);

/* ---- client.c: addressing ---- */
/* Addressing.  A bucket can be virtual-hosted (BUCKET.endpoint) when its name
** is a DNS label sequence: 3-63 characters of a-z 0-9 '-' '.', starting and
** ending with a letter or digit, not like an IP address, and without dots
** under https (a wildcard certificate covers one label only).  Other names
** use path style whatever s3.url_style says, as the AWS SDKs do. */
int s3_bucket_virtual_ok(const char *zBucket, int bHttps);
/* 1 = virtual-hosted: zStyle "virtual", or "auto" on the default AWS
** endpoint (custom endpoints: path), and the bucket allows it. */
int s3_url_virtual(const char *zStyle, const char *zBucket, int bCustomEndpoint, int bHttps);
/* An endpoint URL split up; user info ("user:password@") is dropped and
** flagged (it is never sent), zBase is the path after the host ("" if none). */
typedef struct S3Endpoint {
  int bHttps;
  int bUserinfo;
  char *zHost;
  char *zBase;
} S3Endpoint;
int s3_endpoint_parse(const char *zUrl, S3Endpoint *e, char *err);
void s3_endpoint_free(S3Endpoint *e);

/* ---- client.c: the client (interrupts: request.c) ---- */
typedef struct S3Client S3Client;
int s3_client_new(const ImgpcaConfig *cfg, S3Client **pp, char *err);
void s3_client_free(S3Client *c);
/* xInterrupted(pArg) != 0: stop waiting on the network (IMGPCA_INTERRUPT);
** polled every 50 ms at most.  Aborting a multipart upload is not stopped. */
void s3_client_set_interrupt(S3Client *c, int (*xInterrupted)(void *), void *pArg);
/* JSON of the effective S3 configuration, credentials source, secrets masked. */
int s3_client_describe(S3Client *c, ImgpcaBuf *b, char *err);

/* ---- object.c ---- */
/* GET an object (range when length >= 0).  *pNotFound set on 404. */
int s3_get(S3Client *c, const char *zBucket, const char *zKey, int64_t offset, int64_t length,
           int64_t maxBytes, ImgpcaBuf *out, int *pNotFound, char *err);
/* PUT a whole object; *pzEtag (optional) receives the ETag. */
int s3_put(S3Client *c, const char *zBucket, const char *zKey, const void *p, size_t n,
           char **pzEtag, char *err);
int s3_delete(S3Client *c, const char *zBucket, const char *zKey, char *err);
/* One ListObjectsV2 page (max 1000 keys, encoding-type=url; keys decoded). */
int s3_list_page(S3Client *c, const char *zBucket, const char *zPrefix, const char *zToken,
                 int nMax, S3ListPage *out, char *err);
/* HEAD: the object's size.  *pNotFound set on 404. */
int s3_head(S3Client *c, const char *zBucket, const char *zKey, int64_t *pSize, int *pNotFound,
            char *err);
/* The same, also the object's ETag (*pzEtag NULL when the server sent none). */
int s3_head_etag(S3Client *c, const char *zBucket, const char *zKey, int64_t *pSize, char **pzEtag,
                 int *pNotFound, char *err);

/* ---- multipart.c ---- */
/* Multipart upload. */
int s3_mpu_begin(S3Client *c, const char *zBucket, const char *zKey, char **pzUploadId, char *err);
int s3_mpu_part(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId,
                int iPart, const void *p, size_t n, char **pzEtag, char *err);
int s3_mpu_complete(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId,
                    char **azEtag, int nPart, char **pzEtag, char *err);
void s3_mpu_abort(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId);
/* UploadPartCopy: part iPart of the upload is bytes [offset, offset+length) of
** s3://zSrcBucket/zSrcKey, copied by the server (5 MiB..5 GiB except the last part)
** only if the source's ETag is zIfMatch (x-amz-copy-source-if-match; NULL or
** "": unconditional).  Errors name the source. */
int s3_mpu_copy_part(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId,
                     int iPart, const char *zSrcBucket, const char *zSrcKey, const char *zIfMatch,
                     int64_t offset, int64_t length, char **pzEtag, char *err);

/* ---- batch.c ---- */
/* Concurrent GETs (curl multi), results consumed in submission order. */
typedef struct S3Batch S3Batch;
int s3_batch_new(S3Client *c, int nInflight, S3Batch **pp, char *err);
void s3_batch_free(S3Batch *b);
/* Queues a GET of a whole object; returns its ticket (0, 1, 2, ...). */
int s3_batch_add(S3Batch *b, const char *zBucket, const char *zKey, int64_t maxBytes, int64_t *pTicket,
                 char *err);
/* Waits for the oldest queued request (FIFO) and moves its body into out. */
int s3_batch_take(S3Batch *b, ImgpcaBuf *out, int *pNotFound, char *err);
/* Drives the transfers: starts queued requests while slots are free and reads
** what arrived; waits up to timeoutMs (0: not at all) for network activity
** or s3_batch_wakeup when the oldest request is not finished yet. */
int s3_batch_poll(S3Batch *b, int timeoutMs, char *err);
/* 1 when the oldest queued request has finished (s3_batch_take then returns
** without waiting for the network, except to retry a failed request). */
int s3_batch_head_done(S3Batch *b);
/* Interrupts a s3_batch_poll waiting in another thread (thread-safe; the
** only S3Batch function that may be called from another thread). */
void s3_batch_wakeup(S3Batch *b);

#endif
