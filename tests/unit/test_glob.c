/* Unit tests of the glob matcher used by s3_list. */
#include <string.h>

#include "common/common.h"
#include "s3/s3.h"
#include "unit.h"

static void test_match(void) {
  CHECK(imgpca_glob_match("*.jpg", "a.jpg"));
  CHECK(!imgpca_glob_match("*.jpg", "d/a.jpg")); /* '*' stays in one segment */
  CHECK(imgpca_glob_match("**/*.jpg", "d/e/a.jpg"));
  CHECK(imgpca_glob_match("**/*.jpg", "a.jpg")); /* '**' + '/' may match nothing */
  CHECK(imgpca_glob_match("a/**/b.txt", "a/b.txt"));
  CHECK(imgpca_glob_match("a/**/b.txt", "a/x/y/b.txt"));
  CHECK(!imgpca_glob_match("a/**/b.txt", "ab.txt"));
  CHECK(imgpca_glob_match("a/**", "a/x/y"));
  CHECK(imgpca_glob_match("**", "anything/at/all"));
  CHECK(imgpca_glob_match("Test/*/r_*_100.jpg", "Test/Apple 6/r_12_100.jpg"));
  CHECK(!imgpca_glob_match("Test/*/r_*_100.jpg", "Test/Apple 6/x/r_12_100.jpg"));
  CHECK(imgpca_glob_match("img?.png", "img1.png"));
  CHECK(!imgpca_glob_match("img?.png", "img12.png"));
  CHECK(!imgpca_glob_match("a?b", "a/b"));
  CHECK(imgpca_glob_match("[abc]x", "bx"));
  CHECK(!imgpca_glob_match("[abc]x", "dx"));
  CHECK(imgpca_glob_match("[a-c][0-9]", "c7"));
  CHECK(imgpca_glob_match("[!a-c]z", "dz"));
  CHECK(!imgpca_glob_match("[^a-c]z", "bz"));
  CHECK(imgpca_glob_match("[]]x", "]x"));
  CHECK(imgpca_glob_match("a[b", "a[b")); /* unclosed class: literal */
  CHECK(imgpca_glob_match("\\*x", "*x"));
  CHECK(!imgpca_glob_match("\\*x", "ax"));
  CHECK(imgpca_glob_match("sp ace/+&=é*", "sp ace/+&=é.txt"));
  CHECK(!imgpca_glob_match("*.jpg", "a.jpeg"));
  CHECK(imgpca_glob_match("", ""));
  CHECK(!imgpca_glob_match("", "a"));
  CHECK(imgpca_glob_match("*", ""));
  CHECK(!imgpca_glob_match("**/", "a")); /* zero segments only before "**" consumes */
  CHECK(imgpca_glob_match("**/", "a/"));
  CHECK(imgpca_glob_match("x**/y", "xy"));
  CHECK(imgpca_glob_match("x**/y", "xa/b/y"));
  CHECK(!imgpca_glob_match("x**/y", "xay"));
}

static void test_prefix(void) {
  char *z = NULL;
  CHECK_EQ_INT(imgpca_glob_prefix("fruits/Test/**/*.jpg", &z), 12);
  CHECK_STR(z, "fruits/Test/");
  imgpca_free(z);
  CHECK_EQ_INT(imgpca_glob_prefix("a\\*b/*", &z), 5);
  CHECK_STR(z, "a*b/");
  imgpca_free(z);
  CHECK_EQ_INT(imgpca_glob_prefix("plain/key", NULL), 9);
  CHECK(imgpca_glob_has_magic("a/[x]"));
  CHECK(!imgpca_glob_has_magic("a/\\*"));
  CHECK(!imgpca_glob_has_magic("a/b c+&="));
}

/* Patterns that make a backtracking matcher take exponential time: the
** answers must be right (the matcher simulates the pattern instead). */
static void test_pathological(void) {
  char pat[200], key[400];
  size_t i, n;
  /* "*a" x 40 then 'b' against 300 x 'a': no match (no 'b') */
  for (n = 0, i = 0; i < 40; i++) {
    pat[n++] = '*';
    pat[n++] = 'a';
  }
  pat[n++] = 'b';
  pat[n] = 0;
  memset(key, 'a', 300);
  key[300] = 0;
  CHECK(!imgpca_glob_match(pat, key));
  key[299] = 'b';
  CHECK(imgpca_glob_match(pat, key));
  key[40] = 0;
  key[39] = 'b'; /* only 39 'a' for 40 "*a" */
  CHECK(!imgpca_glob_match(pat, key));
  /* "**" + "/" x 20 then "x" against "a/" x 150 + "y" */
  for (n = 0, i = 0; i < 20; i++) {
    memcpy(pat + n, "**/", 3);
    n += 3;
  }
  pat[n++] = 'x';
  pat[n] = 0;
  for (n = 0, i = 0; i < 150; i++) {
    key[n++] = 'a';
    key[n++] = '/';
  }
  key[n] = 'y';
  key[n + 1] = 0;
  CHECK(!imgpca_glob_match(pat, key));
  key[n] = 'x';
  CHECK(imgpca_glob_match(pat, key));
  /* mixed: "**" and '*' in turn */
  CHECK(!imgpca_glob_match("**a*a**a*a**a*a**a*a**a*a**b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
  CHECK(imgpca_glob_match("**a*a**a*a**a*a**b", "aaaaaaa/aaaaaaa/aaab"));
  CHECK(!imgpca_glob_match("*a*a*a*a*b", "aaaaaaa/aaaaaaa/aaab")); /* '*' stays in one segment */
}

int main(void) {
  test_match();
  test_prefix();
  test_pathological();
  return UNIT_DONE();
}
