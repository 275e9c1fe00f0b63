/* libcurl through the lazily loaded table (see lazylib.h).  Include after
** <curl/curl.h>. */
#ifndef IMGPCA_LAZY_CURL_H
#define IMGPCA_LAZY_CURL_H
#include <curl/curl.h>
#include "lazylib.h"

typedef struct ImgpcaCurlApi {
  CURL *(*easy_init)(void);
  void (*easy_cleanup)(CURL *);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  CURLcode (*easy_perform)(CURL *);
  void (*easy_reset)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  CURL *(*easy_duphandle)(CURL *);
  char *(*easy_escape)(CURL *, const char *, int);
  char *(*easy_unescape)(CURL *, const char *, int, int *);
  void (*free)(void *);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_cleanup)(CURLM *);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_perform)(CURLM *, int *);
  CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
  CURLMcode (*multi_wait)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
  CURLMcode (*multi_wakeup)(CURLM *);
  CURLMsg *(*multi_info_read)(CURLM *, int *);
  CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
  const char *(*multi_strerror)(CURLMcode);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
  curl_version_info_data *(*version_info)(CURLversion);
} ImgpcaCurlApi;
extern ImgpcaCurlApi imgpca_curl_api;

#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
/* constructors load the library on first use and answer NULL if it cannot be */
#define curl_easy_init() (imgpca_curl_load(NULL) == 0 ? imgpca_curl_api.easy_init() : (CURL *)0)
#define curl_multi_init() (imgpca_curl_load(NULL) == 0 ? imgpca_curl_api.multi_init() : (CURLM *)0)
#define curl_slist_append(l, s) \
  (imgpca_curl_load(NULL) == 0 ? imgpca_curl_api.slist_append(l, s) : (struct curl_slist *)0)
#define curl_version_info(v) \
  (imgpca_curl_load(NULL) == 0 ? imgpca_curl_api.version_info(v) : (curl_version_info_data *)0)
/* everything else needs a handle or list, so the library is loaded */
#define curl_easy_setopt(...) imgpca_curl_api.easy_setopt(__VA_ARGS__)
#define curl_easy_getinfo(...) imgpca_curl_api.easy_getinfo(__VA_ARGS__)
#define curl_easy_perform(...) imgpca_curl_api.easy_perform(__VA_ARGS__)
#define curl_easy_reset(...) imgpca_curl_api.easy_reset(__VA_ARGS__)
#define curl_easy_strerror(...) (imgpca_curl_loaded() ? imgpca_curl_api.easy_strerror(__VA_ARGS__) : "libcurl not loaded")
#define curl_easy_duphandle(...) imgpca_curl_api.easy_duphandle(__VA_ARGS__)
#define curl_easy_escape(...) imgpca_curl_api.easy_escape(__VA_ARGS__)
#define curl_easy_unescape(...) imgpca_curl_api.easy_unescape(__VA_ARGS__)
#define curl_free(...) imgpca_curl_api.free(__VA_ARGS__)
#define curl_multi_add_handle(...) imgpca_curl_api.multi_add_handle(__VA_ARGS__)
#define curl_multi_remove_handle(...) imgpca_curl_api.multi_remove_handle(__VA_ARGS__)
#define curl_multi_perform(...) imgpca_curl_api.multi_perform(__VA_ARGS__)
#define curl_multi_poll(...) imgpca_curl_api.multi_poll(__VA_ARGS__)
#define curl_multi_wait(...) imgpca_curl_api.multi_wait(__VA_ARGS__)
#define curl_multi_wakeup(...) imgpca_curl_api.multi_wakeup(__VA_ARGS__)
#define curl_multi_info_read(...) imgpca_curl_api.multi_info_read(__VA_ARGS__)
#define curl_multi_setopt(...) imgpca_curl_api.multi_setopt(__VA_ARGS__)
#define curl_multi_strerror(...) imgpca_curl_api.multi_strerror(__VA_ARGS__)
/* freeing NULL must work before the library is loaded */
static inline void imgpca_curl_easy_cleanup_(CURL *h) {
  if (h) imgpca_curl_api.easy_cleanup(h);
}
static inline CURLMcode imgpca_curl_multi_cleanup_(CURLM *m) {
  return m ? imgpca_curl_api.multi_cleanup(m) : CURLM_BAD_HANDLE;
}
static inline void imgpca_curl_slist_free_all_(struct curl_slist *l) {
  if (l) imgpca_curl_api.slist_free_all(l);
}
#define curl_easy_cleanup(h) imgpca_curl_easy_cleanup_(h)
#define curl_multi_cleanup(m) imgpca_curl_multi_cleanup_(m)
#define curl_slist_free_all(l) imgpca_curl_slist_free_all_(l)
#endif
