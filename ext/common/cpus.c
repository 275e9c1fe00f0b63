/*
** CPUs available to the process (no SQL behaviour of its own): the default
** of the imgpca.threads setting, used by s3_fetch_many and knn_search.
*/
#include "common.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Smallest ceil(quota / period) of cpu.max along the cgroup v2 path of this
** process (the cgroup and its ancestors); 0 when there is no quota. */
static int cgroup_cpus(void) {
  char line[4096], dir[4200];
  FILE *fp = fopen("/proc/self/cgroup", "re");
  int best = 0;
  size_t n;
  if (!fp) return 0;
  dir[0] = 0;
  while (fgets(line, sizeof line, fp)) {
    if (strncmp(line, "0::", 3) == 0) {
      n = strlen(line);
      while (n && (line[n - 1] == '\n' || line[n - 1] == '/')) line[--n] = 0;
      snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", line + 3);
      break;
    }
  }
  fclose(fp);
  if (!dir[0]) return 0;
  for (;;) {
    char path[4300], buf[64];
    FILE *c;
    char *slash;
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    c = fopen(path, "re");
    if (c) {
      if (fgets(buf, sizeof buf, c)) {
        long long quota, period;
        if (sscanf(buf, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
          long long k = (quota + period - 1) / period;
          if (k < 1) k = 1;
          if (best == 0 || k < best) best = (int)(k > 1 << 20 ? 1 << 20 : k);
        }
      }
      fclose(c);
    }
    slash = strrchr(dir, '/');
    if (!slash || strcmp(dir, "/sys/fs/cgroup") == 0) break;
    *slash = 0;
  }
  return best;
}

int imgpca_cpus_available(void) {
  cpu_set_t set;
  int n = 0, q;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n < 1) {
    long k = sysconf(_SC_NPROCESSORS_ONLN);
    n = k > 0 ? (int)k : 1;
  }
  q = cgroup_cpus();
  if (q > 0 && q < n) n = q;
  return n;
}
