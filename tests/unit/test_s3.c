/* Unit tests of the S3 core: SHA-256/HMAC, SigV4 against AWS's published
** S3 examples (fixed clock), URI/query canonicalisation, retry policy, XML
** parsers, shared-file and IMDS JSON parsing. */
#include <stdlib.h>
#include <unistd.h>

#include "common/common.h"
#include "s3/s3.h"
#include "unit.h"
#include "storage/storage.h"

/* The configuration of the storage core: its settings table. */
static const ImgpcaSetting *const apStorageSettings[] = {imgpca_storage_settings, NULL};

static const ImgpcaSetting *s3_setting(const char *zKey) {
  const ImgpcaSetting *s;
  for (s = imgpca_storage_settings; s->zKey; s++)
    if (strcmp(s->zKey, zKey) == 0) return s;
  return NULL;
}


#define EX_AK "AKIAIOSFODNN7EXAMPLE"
#define EX_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_sha(void) {
  char hex[65];
  unsigned char mac[32];
  char big[1000];
  S3Sha256 c;
  unsigned char d[32];
  int i;
  s3_sha256_hex("", 0, hex);
  CHECK_STR(hex, EMPTY);
  s3_sha256_hex("abc", 3, hex);
  CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  s3_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
  CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* incremental == one shot, across block boundaries */
  for (i = 0; i < 1000; i++) big[i] = (char)(i * 7);
  s3_sha256_init(&c);
  for (i = 0; i < 1000; i += 37) s3_sha256_update(&c, big + i, (size_t)(i + 37 <= 1000 ? 37 : 1000 - i));
  s3_sha256_final(&c, d);
  s3_hex(d, 32, hex);
  {
    char one[65];
    s3_sha256_hex(big, 1000, one);
    CHECK_STR(hex, one);
  }
  /* RFC 4231 test case 2 */
  s3_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
  s3_hex(mac, 32, hex);
  CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void sign_check(const char *zMethod, const char *zPath, const char *zQuery, const S3Header *aH,
                       int nH, const char *zHash, const char *zExpectedSig, const char *zExpectedHdrs) {
  S3SignInput in;
  char *zAuth = NULL;
  char expected[400];
  memset(&in, 0, sizeof in);
  in.zMethod = zMethod;
  in.zPath = zPath;
  in.zQuery = zQuery;
  in.aHdr = aH;
  in.nHdr = nH;
  in.zPayloadHash = zHash;
  in.zAmzDate = "20130524T000000Z";
  in.zRegion = "us-east-1";
  in.zService = "s3";
  in.zAccessKey = EX_AK;
  in.zSecretKey = EX_SK;
  CHECK_EQ_INT(s3_sigv4_sign(&in, &zAuth, NULL, NULL), IMGPCA_OK);
  snprintf(expected, sizeof expected,
           "AWS4-HMAC-SHA256 Credential=" EX_AK "/20130524/us-east-1/s3/aws4_request,SignedHeaders=%s,Signature=%s",
           zExpectedHdrs, zExpectedSig);
  CHECK_STR(zAuth, expected);
  imgpca_free(zAuth);
}

static void test_sigv4(void) {
  /* AWS S3 documentation, "Signature Calculations for the Authorization
  ** Header", example GET Object (first 10 bytes of test.txt). Headers given
  ** unsorted on purpose. */
  S3Header get[] = {{"x-amz-date", "20130524T000000Z"}, {"range", "bytes=0-9"}, {"host", "examplebucket.s3.amazonaws.com"}, {"x-amz-content-sha256", EMPTY}};
  S3Header put[] = {{"date", "Fri, 24 May 2013 00:00:00 GMT"}, {"host", "examplebucket.s3.amazonaws.com"}, {"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}, {"x-amz-date", "20130524T000000Z"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  S3Header list[] = {{"host", "examplebucket.s3.amazonaws.com"}, {"x-amz-content-sha256", EMPTY}, {"x-amz-date", "20130524T000000Z"}};
  S3Query q;
  ImgpcaBuf b, canon, sts;
  S3SignInput in;
  char *zAuth = NULL;
  char hex[65];
  sign_check("GET", "/test.txt", "", get, 4, EMPTY,
             "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
             "host;range;x-amz-content-sha256;x-amz-date");
  /* example PUT Object: key "test$file.text" must be encoded as test%24file.text */
  s3_sha256_hex("Welcome to Amazon S3.", 21, hex);
  CHECK_STR(hex, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  imgpca_buf_init(&b);
  imgpca_buf_append(&b, "/", 1);
  imgpca_uri_encode(&b, "test$file.text", 14, 1);
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((char *)b.p, "/test%24file.text");
  sign_check("PUT", (char *)b.p, "", put, 5, hex,
             "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
             "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  imgpca_buf_free(&b);
  /* example GET Bucket (list objects): query built unsorted, rendered canonical */
  memset(&q, 0, sizeof q);
  s3_query_add(&q, "prefix", "J");
  s3_query_add(&q, "max-keys", "2");
  imgpca_buf_init(&b);
  s3_query_render(&q, &b);
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((char *)b.p, "max-keys=2&prefix=J");
  sign_check("GET", "/", (char *)b.p, list, 3, EMPTY,
             "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
             "host;x-amz-content-sha256;x-amz-date");
  imgpca_buf_free(&b);
  s3_query_free(&q);
  /* the canonical request and string to sign of the GET example */
  memset(&in, 0, sizeof in);
  in.zMethod = "GET";
  in.zPath = "/test.txt";
  in.zQuery = "";
  in.aHdr = get;
  in.nHdr = 4;
  in.zPayloadHash = EMPTY;
  in.zAmzDate = "20130524T000000Z";
  in.zRegion = "us-east-1";
  in.zService = "s3";
  in.zAccessKey = EX_AK;
  in.zSecretKey = EX_SK;
  imgpca_buf_init(&canon);
  imgpca_buf_init(&sts);
  CHECK_EQ_INT(s3_sigv4_sign(&in, &zAuth, &canon, &sts), IMGPCA_OK);
  imgpca_buf_append(&sts, "", 1);
  CHECK_STR((char *)sts.p,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  imgpca_free(zAuth);
  imgpca_buf_free(&canon);
  imgpca_buf_free(&sts);
}

static void test_encoding(void) {
  ImgpcaBuf b;
  S3Query q;
  char z[64];
  imgpca_buf_init(&b);
  imgpca_uri_encode(&b, "a b+c&d=e/é~_.-", strlen("a b+c&d=e/é~_.-"), 1);
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((char *)b.p, "a%20b%2Bc%26d%3De/%C3%A9~_.-");
  imgpca_buf_free(&b);
  memset(&q, 0, sizeof q);
  s3_query_add(&q, "uploads", NULL);
  s3_query_add(&q, "prefix", "a/b c");
  s3_query_add(&q, "continuation-token", "x+y=");
  imgpca_buf_init(&b);
  s3_query_render(&q, &b);
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((char *)b.p, "continuation-token=x%2By%3D&prefix=a%2Fb%20c&uploads=");
  imgpca_buf_free(&b);
  s3_query_free(&q);
  strcpy(z, "a%20b+c%2B%C3%A9");
  CHECK(imgpca_uri_decode(z, 1));
  CHECK_STR(z, "a b c+é");
  strcpy(z, "bad%2");
  CHECK(!imgpca_uri_decode(z, 0));
  {
    char d[17];
    s3_amz_date(1369353600, d); /* 2013-05-24 00:00:00 UTC */
    CHECK_STR(d, "20130524T000000Z");
  }
}

static void test_retry(void) {
  int i;
  CHECK(s3_http_retryable(0, 500));
  CHECK(s3_http_retryable(0, 502));
  CHECK(s3_http_retryable(0, 503));
  CHECK(s3_http_retryable(0, 504));
  CHECK(s3_http_retryable(0, 429));
  CHECK(!s3_http_retryable(0, 403));
  CHECK(!s3_http_retryable(0, 404));
  CHECK(!s3_http_retryable(0, 200));
  CHECK(s3_http_retryable(7 /* CURLE_COULDNT_CONNECT */, 0));
  CHECK(s3_http_retryable(28 /* CURLE_OPERATION_TIMEDOUT */, 0));
  CHECK(s3_http_retryable(18 /* CURLE_PARTIAL_FILE */, 0));
  CHECK(!s3_http_retryable(3 /* CURLE_URL_MALFORMAT */, 0));
  for (i = 0; i < 12; i++) {
    long lo = s3_backoff_ms(i, 0), hi = s3_backoff_ms(i, 0xffffffffu), mid = s3_backoff_ms(i, 12345);
    long cap = i >= 7 ? 10000 : 100L << i;
    CHECK(lo >= cap / 2 && hi <= cap && mid >= lo && mid <= cap);
  }
  CHECK(s3_backoff_ms(0, 0) == 50);
  CHECK(s3_backoff_ms(20, 0) == 5000);
}

static void test_xml(void) {
  const char *list =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
      "<Prefix>a%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType>"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>tok+1/=</NextContinuationToken>"
      "<Contents><Key>a/x%20y%2B%26%3D%C3%A9.jpg</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>"
      "<ETag>&quot;abc&quot;</ETag><Size>123</Size><StorageClass>STANDARD</StorageClass></Contents>"
      "<Contents><Key>a/z</Key><Size>0</Size></Contents></ListBucketResult>";
  const char *err =
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
      "<Key>k</Key><RequestId>r</RequestId></Error>";
  char e[IMGPCA_ERRMAX];
  S3ListPage pg;
  S3XmlError xe;
  char *z = NULL;
  CHECK_EQ_INT(s3_xml_list(list, strlen(list), &pg, e), IMGPCA_OK);
  CHECK_EQ_INT(pg.n, 2);
  CHECK(pg.bTruncated);
  CHECK_STR(pg.zNextToken, "tok+1/=");
  CHECK_STR(pg.a[0].zKey, "a/x y+&=é.jpg");
  CHECK_STR(pg.a[0].zEtag, "\"abc\"");
  CHECK_EQ_INT(pg.a[0].nSize, 123);
  CHECK_STR(pg.a[0].zLastModified, "2026-01-02T03:04:05.000Z");
  CHECK_STR(pg.a[1].zKey, "a/z");
  s3_list_page_free(&pg);
  CHECK_EQ_INT(s3_xml_list("<ListBucketResult><Contents><Key>x", 34, &pg, e), IMGPCA_ERROR);
  CHECK(strstr(e, "invalid XML response") != NULL);
  CHECK_EQ_INT(s3_xml_list("<ListBucketResult><Contents><Key>x</Key></Contents></ListBucketResult>", 70, &pg, e),
               IMGPCA_ERROR);
  CHECK_STR(e, "invalid ListBucketResult: an entry lacks Key or Size");
  CHECK_EQ_INT(s3_xml_error(err, strlen(err), &xe), IMGPCA_OK);
  CHECK_STR(xe.zCode, "NoSuchKey");
  CHECK_STR(xe.zMessage, "The specified key does not exist.");
  s3_xml_error_free(&xe);
  {
    const char *init =
        "<InitiateMultipartUploadResult xmlns=\"x\"><Bucket>b</Bucket><Key>k</Key>"
        "<UploadId>2~abc</UploadId></InitiateMultipartUploadResult>";
    const char *comp = "<CompleteMultipartUploadResult><ETag>\"e-3\"</ETag></CompleteMultipartUploadResult>";
    const char *compErr = "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>";
    CHECK_EQ_INT(s3_xml_upload_id(init, strlen(init), &z, e), IMGPCA_OK);
    CHECK_STR(z, "2~abc");
    imgpca_free(z);
    CHECK_EQ_INT(s3_xml_complete(comp, strlen(comp), &z, e), IMGPCA_OK);
    CHECK_STR(z, "\"e-3\"");
    imgpca_free(z);
    CHECK_EQ_INT(s3_xml_complete(compErr, strlen(compErr), &z, e), IMGPCA_ERROR);
    CHECK_STR(e, "complete multipart upload failed: InternalError: We encountered an internal error.");
  }
  {
    ImgpcaBuf b;
    imgpca_buf_init(&b);
    s3_xml_escape(&b, "\"a&b<c>\"");
    imgpca_buf_append(&b, "", 1);
    CHECK_STR((char *)b.p, "&quot;a&amp;b&lt;c&gt;&quot;");
    imgpca_buf_free(&b);
  }
}

static void test_files(void) {
  const char *ini =
      "# comment\n[default]\naws_access_key_id = AKDEFAULT\n"
      "aws_secret_access_key=sdefault \n\n[dev]\n  aws_access_key_id=AKDEV\r\n"
      "aws_secret_access_key = s=dev\n[profile dev]\nregion = eu-west-1\n";
  const char *json =
      "{\n  \"Code\" : \"Success\",\n  \"AccessKeyId\" : \"ASIAX\",\n"
      "  \"SecretAccessKey\" : \"se\\/cret\",\n  \"Token\" : \"tok\",\n"
      "  \"Expiration\" : \"2026-11-25T09:00:00Z\"\n}";
  char *z;
  z = s3_ini_get(ini, "default", "aws_access_key_id");
  CHECK_STR(z, "AKDEFAULT");
  imgpca_free(z);
  z = s3_ini_get(ini, "default", "aws_secret_access_key");
  CHECK_STR(z, "sdefault");
  imgpca_free(z);
  z = s3_ini_get(ini, "dev", "aws_access_key_id");
  CHECK_STR(z, "AKDEV");
  imgpca_free(z);
  z = s3_ini_get(ini, "dev", "aws_secret_access_key");
  CHECK_STR(z, "s=dev");
  imgpca_free(z);
  z = s3_ini_get(ini, "profile dev", "region");
  CHECK_STR(z, "eu-west-1");
  imgpca_free(z);
  CHECK(s3_ini_get(ini, "dev", "region") == NULL);
  CHECK(s3_ini_get(ini, "nope", "aws_access_key_id") == NULL);
  z = s3_json_get(json, "AccessKeyId");
  CHECK_STR(z, "ASIAX");
  imgpca_free(z);
  z = s3_json_get(json, "SecretAccessKey");
  CHECK_STR(z, "se/cret");
  imgpca_free(z);
  z = s3_json_get(json, "Code");
  CHECK_STR(z, "Success");
  imgpca_free(z);
  CHECK(s3_json_get(json, "Success") == NULL); /* a value, not a key */
  CHECK_EQ_INT((long long)s3_parse_iso8601("2026-11-25T09:00:00Z"), 1795597200LL);
  CHECK_EQ_INT((long long)s3_parse_iso8601("garbage"), -1);
}

/* Virtual-hosted vs path-style addressing, as the AWS SDKs decide it. */
static void test_addressing(void) {
  CHECK(s3_bucket_virtual_ok("my-bucket", 1));
  CHECK(s3_bucket_virtual_ok("abc", 1));
  CHECK(s3_bucket_virtual_ok("a1.b2", 0));      /* dots: fine over http */
  CHECK(!s3_bucket_virtual_ok("a1.b2", 1));     /* ... not under TLS (wildcard certificates) */
  CHECK(!s3_bucket_virtual_ok("My-Bucket", 0)); /* upper case */
  CHECK(!s3_bucket_virtual_ok("my_bucket", 0));
  CHECK(!s3_bucket_virtual_ok("ab", 0)); /* too short */
  CHECK(!s3_bucket_virtual_ok("a234567890123456789012345678901234567890123456789012345678901234", 0));
  CHECK(!s3_bucket_virtual_ok("-abc", 0));
  CHECK(!s3_bucket_virtual_ok("abc-", 0));
  CHECK(!s3_bucket_virtual_ok("abc.", 0));
  CHECK(!s3_bucket_virtual_ok(".abc", 0));
  CHECK(!s3_bucket_virtual_ok("a..b", 0));
  CHECK(!s3_bucket_virtual_ok("a-.b", 0));
  CHECK(!s3_bucket_virtual_ok("a.-b", 0));
  CHECK(!s3_bucket_virtual_ok("192.168.1.2", 0)); /* like an IP address */
  CHECK(!s3_bucket_virtual_ok("a@b.evil", 0));
  CHECK(!s3_bucket_virtual_ok("a:1", 0));
  /* style: explicit, auto (virtual on AWS, path on a custom endpoint), fallbacks */
  CHECK_EQ_INT(s3_url_virtual("virtual", "bucket", 1, 1), 1);
  CHECK_EQ_INT(s3_url_virtual("path", "bucket", 0, 1), 0);
  CHECK_EQ_INT(s3_url_virtual("auto", "bucket", 0, 1), 1);
  CHECK_EQ_INT(s3_url_virtual("auto", "bucket", 1, 1), 0);
  CHECK_EQ_INT(s3_url_virtual("virtual", "my.bucket", 1, 1), 0);
  CHECK_EQ_INT(s3_url_virtual("virtual", "my.bucket", 1, 0), 1);
  CHECK_EQ_INT(s3_url_virtual("auto", "my.bucket", 0, 1), 0);
  CHECK_EQ_INT(s3_url_virtual("virtual", "MyBucket", 1, 1), 0);
  CHECK_EQ_INT(s3_url_virtual("virtual", NULL, 1, 1), 0); /* no bucket */
}

/* Endpoints: user info is split off (never sent) and hidden in displays. */
static void test_endpoint(void) {
  S3Endpoint ep;
  char e[IMGPCA_ERRMAX], out[128];
  const ImgpcaSetting *s;
  CHECK_EQ_INT(s3_endpoint_parse("https://s3.localhost:8443", &ep, e), IMGPCA_OK);
  CHECK_EQ_INT(ep.bHttps, 1);
  CHECK_EQ_INT(ep.bUserinfo, 0);
  CHECK_STR(ep.zHost, "s3.localhost:8443");
  CHECK_STR(ep.zBase, "");
  s3_endpoint_free(&ep);
  CHECK_EQ_INT(s3_endpoint_parse("http://user:p@ss@10.0.0.1:80/base/path/", &ep, e), IMGPCA_OK);
  CHECK_EQ_INT(ep.bHttps, 0);
  CHECK_EQ_INT(ep.bUserinfo, 1);
  CHECK_STR(ep.zHost, "10.0.0.1:80");
  CHECK_STR(ep.zBase, "base/path/");
  s3_endpoint_free(&ep);
  CHECK_EQ_INT(s3_endpoint_parse("ftp://user:pw@host", &ep, e), IMGPCA_ERROR);
  CHECK_STR(e, "invalid endpoint 'ftp://****@host': expected http:// or https://");
  CHECK_EQ_INT(s3_endpoint_parse("https://user:pw@", &ep, e), IMGPCA_ERROR);
  CHECK_STR(e, "invalid endpoint 'https://****@': expected https://host[:port][/path]");
  /* round 3 (10): everything up to the last '@' is masked, whatever the
  ** user info holds ('/', '?', '#'); such endpoints are refused */
  imgpca_url_redact("http://user:pw@host:1/a@b", out, sizeof out);
  CHECK_STR(out, "http://****@b");
  imgpca_url_redact("https://admin:s3cr3t/Pa55?w0rd@host", out, sizeof out);
  CHECK_STR(out, "https://****@host");
  imgpca_url_redact("https://admin:s3#cr/3t@host:9/base", out, sizeof out);
  CHECK_STR(out, "https://****@host:9/base");
  CHECK_EQ_INT(s3_endpoint_parse("https://admin:s3cr3t/Pa55?w0rd@host", &ep, e), IMGPCA_ERROR);
  CHECK(strstr(e, "'https://****@host'") != NULL);
  CHECK(strstr(e, "s3cr3t") == NULL && strstr(e, "w0rd") == NULL);
  s = s3_setting("s3.endpoint");
  CHECK_STR(imgpca_config_display(s, "https://a:b/c?d#e@h", out, sizeof out), "https://****@h");
  imgpca_url_redact("user@host", out, sizeof out); /* not a URL: as is */
  CHECK_STR(out, "user@host");
  s = s3_setting("s3.endpoint");
  CHECK_STR(imgpca_config_display(s, "https://a:b@h", out, sizeof out), "https://****@h");
  s = s3_setting("s3.imds_endpoint");
  CHECK_STR(imgpca_config_display(s, "http://a:b@169.254.169.254", out, sizeof out), "http://****@169.254.169.254");
  s = s3_setting("s3.secret_access_key");
  CHECK_STR(imgpca_config_display(s, "wJalrXUtnFEMI/K7MDENG", out, sizeof out), "****DENG");
  s = s3_setting("s3.region");
  CHECK_STR(imgpca_config_display(s, "us-east-1", out, sizeof out), "us-east-1");
}

/* Regions go into host names: only [a-z0-9-]{1,32}. */
static void test_region(void) {
  ImgpcaConfig c;
  char e[IMGPCA_ERRMAX];
  CHECK(imgpca_region_valid("us-east-1"));
  CHECK(imgpca_region_valid("eu-central-2"));
  CHECK(imgpca_region_valid("default"));
  CHECK(!imgpca_region_valid(""));
  CHECK(!imgpca_region_valid(NULL));
  CHECK(!imgpca_region_valid("x@127.0.0.1:18443/"));
  CHECK(!imgpca_region_valid("us-east-1.evil.com"));
  CHECK(!imgpca_region_valid("US-EAST-1"));
  CHECK(!imgpca_region_valid("us-east-1\r\nX: y"));
  CHECK(!imgpca_region_valid("a23456789012345678901234567890123"));
  CHECK(imgpca_region_valid("a2345678901234567890123456789012"));
  CHECK_EQ_INT(imgpca_config_init(&c, apStorageSettings, NULL), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.region", "x@127.0.0.1:18443/", e), IMGPCA_ERROR);
  CHECK_STR(e, "invalid value for 's3.region': 'x@127.0.0.1:18443/': expected 1 to 32 lower-case letters, digits or '-'");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.region", "eu-west-3", e), IMGPCA_OK);
  CHECK_STR(imgpca_config_get(&c, "s3.region", NULL), "eu-west-3");
  imgpca_config_clear(&c);
}

/* CA bundle: setting > AWS_CA_BUNDLE > ca_bundle of the profile; "~/" expanded. */
static void test_ca_bundle(void) {
  ImgpcaConfig c;
  char e[IMGPCA_ERRMAX], src[128], conf[] = "/tmp/imgpca-unit-conf-XXXXXX";
  char *z = NULL;
  int fd = mkstemp(conf);
  const char *text = "[default]\nca_bundle = ~/default-ca.pem\n[profile onprem]\nca_bundle = /etc/onprem.pem\n";
  CHECK(fd >= 0);
  if (fd < 0) return;
  CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
  setenv("HOME", "/home/u", 1);
  unsetenv("AWS_CA_BUNDLE");
  unsetenv("AWS_PROFILE");
  CHECK_EQ_INT(imgpca_config_init(&c, apStorageSettings, NULL), IMGPCA_OK);
  CHECK_EQ_INT(s3_ca_bundle_resolve(&c, &z, src, sizeof src), IMGPCA_OK);
  CHECK(z == NULL); /* no ~/.aws/config under /home/u: none configured */
  imgpca_config_set(&c, "s3.config_file", conf, e);
  CHECK_EQ_INT(s3_ca_bundle_resolve(&c, &z, src, sizeof src), IMGPCA_OK);
  CHECK_STR(z, "/home/u/default-ca.pem");
  CHECK(strncmp(src, "ca_bundle of profile 'default' in '", 35) == 0);
  imgpca_free(z);
  imgpca_config_set(&c, "s3.profile", "onprem", e);
  CHECK_EQ_INT(s3_ca_bundle_resolve(&c, &z, src, sizeof src), IMGPCA_OK);
  CHECK_STR(z, "/etc/onprem.pem");
  imgpca_free(z);
  setenv("AWS_CA_BUNDLE", "/env/ca.pem", 1);
  CHECK_EQ_INT(s3_ca_bundle_resolve(&c, &z, src, sizeof src), IMGPCA_OK);
  CHECK_STR(z, "/env/ca.pem");
  CHECK_STR(src, "AWS_CA_BUNDLE");
  imgpca_free(z);
  imgpca_config_set(&c, "s3.ca_bundle", "~/conn.pem", e);
  CHECK_EQ_INT(s3_ca_bundle_resolve(&c, &z, src, sizeof src), IMGPCA_OK);
  CHECK_STR(z, "/home/u/conn.pem");
  CHECK_STR(src, "s3.ca_bundle");
  imgpca_free(z);
  unsetenv("AWS_CA_BUNDLE");
  imgpca_config_clear(&c);
  unlink(conf);
}

/* ---- expat through imgpca's allocator: an OOM sweep of the list parser ---- */

static long g_failAt, g_nAlloc, g_live;
static void *fail_malloc(size_t n) {
  void *p;
  if (g_failAt && ++g_nAlloc >= g_failAt) return NULL;
  p = malloc(n);
  if (p) g_live++;
  return p;
}
static void *fail_realloc(void *p, size_t n) {
  void *q;
  if (g_failAt && ++g_nAlloc >= g_failAt) return NULL;
  q = realloc(p, n);
  if (q && !p) g_live++;
  return q;
}
static void fail_free(void *p) {
  if (p) g_live--;
  free(p);
}

/* Fails allocation N (and every later one) for N = 1, 2, ... until the
** parse succeeds: every run must be IMGPCA_NOMEM (expat's own allocations
** included: XML_ERROR_NO_MEMORY) or the full result, and free everything. */
static void test_xml_oom(void) {
  static const ImgpcaAllocator fa = {fail_malloc, fail_realloc, fail_free};
  const char *list =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a/b.jpg</Key><Size>5</Size><ETag>&quot;e&quot;</ETag></Contents>"
      "<Contents><Key>a/c.jpg</Key><Size>7</Size></Contents></ListBucketResult>";
  char e[IMGPCA_ERRMAX];
  S3ListPage pg;
  long n, nPoints = 0;
  int rc = IMGPCA_NOMEM, bad = 0;
  imgpca_set_allocator(&fa);
  for (n = 1; rc != IMGPCA_OK && n < 10000; n++) {
    g_failAt = n;
    g_nAlloc = 0;
    g_live = 0;
    memset(&pg, 0, sizeof pg);
    rc = s3_xml_list(list, strlen(list), &pg, e);
    if (rc == IMGPCA_OK) {
      if (pg.n != 2 || strcmp(pg.a[1].zKey, "a/c.jpg") != 0) bad++;
      s3_list_page_free(&pg);
    } else if (rc != IMGPCA_NOMEM) {
      fprintf(stderr, "xml oom N=%ld: rc %d: %s\n", n, rc, e);
      bad++;
    }
    if (g_live != 0) bad++;
    nPoints++;
  }
  g_failAt = 0;
  imgpca_set_allocator(NULL);
  CHECK_EQ_INT(rc, IMGPCA_OK);
  CHECK_EQ_INT(bad, 0);
  /* our strings alone are 6 allocations; expat's parser, buffers and hash
  ** tables (19 with expat 2.5) must be counted too */
  CHECK(nPoints - 1 > 15);
  printf("xml oom: %ld allocation points\n", nPoints - 1);
}

/* Shared-file profiles: endpoint_url (services section first), nested
** entries kept apart, a missing profile and half a key pair are errors. */
static void test_profiles(void) {
  const char *conf_text =
      "[profile svc]\nservices = mine\nendpoint_url = http://own.example\ns3 =\n"
      "  endpoint_url = http://nested-in-profile.example\nregion = eu-west-3\n"
      "[profile own]\nendpoint_url = http://own.example\n"
      "[services mine]\nec2 =\n  endpoint_url = http://ec2.example\ns3 =\n"
      "  addressing_style = path\n  endpoint_url = http://svc.example:8080\n"
      "[profile half]\naws_access_key_id = AKHALF\n";
  const char *cred_text =
      "[svc]\naws_access_key_id = AKSVC\naws_secret_access_key = ssvc\n"
      "[halfcred]\naws_secret_access_key = only-the-secret\n";
  char conf[] = "/tmp/imgpca-unit-conf-XXXXXX", cred[] = "/tmp/imgpca-unit-cred-XXXXXX";
  char e[IMGPCA_ERRMAX], want[600];
  ImgpcaConfig c;
  S3Creds k;
  char *z;
  int fd1 = mkstemp(conf), fd2 = mkstemp(cred);
  CHECK(fd1 >= 0 && fd2 >= 0);
  if (fd1 < 0 || fd2 < 0) return;
  CHECK(write(fd1, conf_text, strlen(conf_text)) == (ssize_t)strlen(conf_text));
  CHECK(write(fd2, cred_text, strlen(cred_text)) == (ssize_t)strlen(cred_text));
  close(fd1);
  close(fd2);
  /* the INI reader */
  z = s3_ini_get(conf_text, "profile svc", "endpoint_url");
  CHECK_STR(z, "http://own.example"); /* not the entry nested under s3 */
  imgpca_free(z);
  z = s3_ini_get(conf_text, "profile svc", "region");
  CHECK_STR(z, "eu-west-3"); /* after a nested block */
  imgpca_free(z);
  z = s3_ini_get_nested(conf_text, "services mine", "s3", "endpoint_url");
  CHECK_STR(z, "http://svc.example:8080");
  imgpca_free(z);
  z = s3_ini_get_nested(conf_text, "services mine", "ec2", "endpoint_url");
  CHECK_STR(z, "http://ec2.example");
  imgpca_free(z);
  CHECK(s3_ini_get_nested(conf_text, "services mine", "sqs", "endpoint_url") == NULL);
  CHECK(s3_ini_get(conf_text, "services mine", "endpoint_url") == NULL);
  CHECK(s3_ini_has_section(conf_text, "profile own"));
  CHECK(!s3_ini_has_section(conf_text, "profile fruit"));
  /* resolution */
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_PROFILE");
  CHECK_EQ_INT(imgpca_config_init(&c, apStorageSettings, NULL), IMGPCA_OK);
  imgpca_config_set(&c, "s3.config_file", conf, e);
  imgpca_config_set(&c, "s3.credentials_file", cred, e);
  imgpca_config_set(&c, "s3.imds_disabled", "true", e);
  imgpca_config_set(&c, "s3.profile", "svc", e);
  CHECK_EQ_INT(s3_creds_resolve(&c, &k, e), IMGPCA_OK);
  CHECK_STR(k.zProfileEndpoint, "http://svc.example:8080"); /* services before the profile's own */
  CHECK(strstr(k.zEndpointSource, "[services mine]") != NULL);
  CHECK_STR(k.zAccess, "AKSVC");
  CHECK_STR(k.zProfileRegion, "eu-west-3");
  s3_creds_free(&k);
  imgpca_config_set(&c, "s3.profile", "own", e);
  CHECK_EQ_INT(s3_creds_resolve(&c, &k, e), IMGPCA_OK);
  CHECK_STR(k.zProfileEndpoint, "http://own.example");
  CHECK(k.zAccess == NULL); /* no credentials: unsigned */
  s3_creds_free(&k);
  imgpca_config_set(&c, "s3.profile", "fruit", e);
  CHECK_EQ_INT(s3_creds_resolve(&c, &k, e), IMGPCA_ERROR);
  snprintf(want, sizeof want, "profile 'fruit' (s3.profile) not found in %s or %s", conf, cred);
  CHECK_STR(e, want);
  setenv("AWS_ACCESS_KEY_ID", "AKENV", 1); /* also with credentials from the environment */
  setenv("AWS_SECRET_ACCESS_KEY", "senv", 1);
  CHECK_EQ_INT(s3_creds_resolve(&c, &k, e), IMGPCA_ERROR);
  CHECK_STR(e, want);
  imgpca_config_set(&c, "s3.profile", "half", e); /* half a pair is fine when unused */
  CHECK_EQ_INT(s3_creds_resolve(&c, &k, e), IMGPCA_OK);
  CHECK_STR(k.zAccess, "AKENV");
  s3_creds_free(&k);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  CHECK_EQ_INT(s3_creds_resolve(&c, &k, e), IMGPCA_ERROR);
  snprintf(want, sizeof want, "profile 'half' in %s has aws_access_key_id but no aws_secret_access_key", conf);
  CHECK_STR(e, want);
  imgpca_config_set(&c, "s3.profile", "halfcred", e);
  CHECK_EQ_INT(s3_creds_resolve(&c, &k, e), IMGPCA_ERROR);
  snprintf(want, sizeof want, "profile 'halfcred' in %s has aws_secret_access_key but no aws_access_key_id", cred);
  CHECK_STR(e, want);
  setenv("AWS_PROFILE", "fruit", 1); /* the connection setting wins; then the variable is named */
  imgpca_config_set(&c, "s3.profile", NULL, e);
  CHECK_EQ_INT(s3_creds_resolve(&c, &k, e), IMGPCA_ERROR);
  snprintf(want, sizeof want, "profile 'fruit' (AWS_PROFILE) not found in %s or %s", conf, cred);
  CHECK_STR(e, want);
  unsetenv("AWS_PROFILE");
  imgpca_config_clear(&c);
  unlink(conf);
  unlink(cred);
}

int main(void) {
  test_xml_oom();
  test_profiles();
  test_addressing();
  test_endpoint();
  test_region();
  test_ca_bundle();
  test_sha();
  test_sigv4();
  test_encoding();
  test_retry();
  test_xml();
  test_files();
  return UNIT_DONE();
}
