/* Unit tests of the glob matcher used by s3_list. */
#include "common/common.h"
#include "s3/s3.h"
#include "unit.h"

static void test_match(void) {
  CHECK(s3_glob_match("*.jpg", "a.jpg"));
  CHECK(!s3_glob_match("*.jpg", "d/a.jpg"));        /* '*' stays in one segment */
  CHECK(s3_glob_match("**/*.jpg", "d/e/a.jpg"));
  CHECK(s3_glob_match("**/*.jpg", "a.jpg"));         /* '**' + '/' may match nothing */
  CHECK(s3_glob_match("a/**/b.txt", "a/b.txt"));
  CHECK(s3_glob_match("a/**/b.txt", "a/x/y/b.txt"));
  CHECK(!s3_glob_match("a/**/b.txt", "ab.txt"));
  CHECK(s3_glob_match("a/**", "a/x/y"));
  CHECK(s3_glob_match("**", "anything/at/all"));
  CHECK(s3_glob_match("Test/*/r_*_100.jpg", "Test/Apple 6/r_12_100.jpg"));
  CHECK(!s3_glob_match("Test/*/r_*_100.jpg", "Test/Apple 6/x/r_12_100.jpg"));
  CHECK(s3_glob_match("img?.png", "img1.png"));
  CHECK(!s3_glob_match("img?.png", "img12.png"));
  CHECK(!s3_glob_match("a?b", "a/b"));
  CHECK(s3_glob_match("[abc]x", "bx"));
  CHECK(!s3_glob_match("[abc]x", "dx"));
  CHECK(s3_glob_match("[a-c][0-9]", "c7"));
  CHECK(s3_glob_match("[!a-c]z", "dz"));
  CHECK(!s3_glob_match("[^a-c]z", "bz"));
  CHECK(s3_glob_match("[]]x", "]x"));
  CHECK(s3_glob_match("a[b", "a[b"));                /* unclosed class: literal */
  CHECK(s3_glob_match("\\*x", "*x"));
  CHECK(!s3_glob_match("\\*x", "ax"));
  CHECK(s3_glob_match("sp ace/+&=é*", "sp ace/+&=é.txt"));
  CHECK(!s3_glob_match("*.jpg", "a.jpeg"));
  CHECK(s3_glob_match("", ""));
  CHECK(!s3_glob_match("", "a"));
  CHECK(s3_glob_match("*", ""));
}

static void test_prefix(void) {
  char *z = NULL;
  CHECK_EQ_INT(s3_glob_prefix("fruits/Test/**/*.jpg", &z), 12);
  CHECK_STR(z, "fruits/Test/");
  imgpca_free(z);
  CHECK_EQ_INT(s3_glob_prefix("a\\*b/*", &z), 5);
  CHECK_STR(z, "a*b/");
  imgpca_free(z);
  CHECK_EQ_INT(s3_glob_prefix("plain/key", NULL), 9);
  CHECK(s3_glob_has_magic("a/[x]"));
  CHECK(!s3_glob_has_magic("a/\\*"));
  CHECK(!s3_glob_has_magic("a/b c+&="));
}

int main(void) {
  test_match();
  test_prefix();
  return UNIT_DONE();
}
