/* Unit tests of imgpca_cpus_available (ext/common/cpus.c): the affinity mask
** bounds it, capped by the cgroup v2 cpu.max quotas (read here on their own). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/common.h"
#include "unit.h"

/* The smallest ceil(quota / period) of cpu.max along this process's cgroup v2
** path (its cgroup and the ancestors), 0 without a quota. */
static int cgroup_quota(void) {
  char line[4096], dir[4200], path[4300];
  long long quota, period;
  int best = 0;
  FILE *fp = fopen("/proc/self/cgroup", "r");
  if (!fp) return 0;
  dir[0] = 0;
  while (fgets(line, sizeof line, fp))
    if (strncmp(line, "0::", 3) == 0) {
      line[strcspn(line, "\n")] = 0;
      snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", strcmp(line + 3, "/") ? line + 3 : "");
    }
  fclose(fp);
  while (dir[0]) {
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if ((fp = fopen(path, "r")) != NULL) {
      if (fscanf(fp, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
        int k = (int)((quota + period - 1) / period);
        if (best == 0 || k < best) best = k;
      }
      fclose(fp);
    }
    if (strcmp(dir, "/sys/fs/cgroup") == 0) break;
    *strrchr(dir, '/') = 0;
  }
  return best;
}

int main(void) {
  cpu_set_t all, one;
  int n, nAff, q;
  CHECK_EQ_INT(sched_getaffinity(0, sizeof all, &all), 0);
  nAff = CPU_COUNT(&all);
  q = cgroup_quota();
  n = imgpca_cpus_available();
  CHECK(n >= 1);
  CHECK(n <= nAff);
  if (q > 0) CHECK(n <= q);
  /* without a quota the affinity mask is the answer */
  if (q == 0 || q >= nAff) CHECK_EQ_INT(n, nAff);
  /* one CPU in the mask (taskset -c N): 1 */
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  CHECK_EQ_INT(sched_setaffinity(0, sizeof one, &one), 0);
  CHECK_EQ_INT(imgpca_cpus_available(), 1);
  /* two CPUs in the mask, when the machine has them */
  if (nAff >= 2) {
    cpu_set_t two = one;
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &all) && !CPU_ISSET(c, &one)) {
        CPU_SET(c, &two);
        break;
      }
    CHECK_EQ_INT(sched_setaffinity(0, sizeof two, &two), 0);
    CHECK_EQ_INT(imgpca_cpus_available(), q > 0 && q < 2 ? q : 2);
  }
  CHECK_EQ_INT(sched_setaffinity(0, sizeof all, &all), 0);
  CHECK_EQ_INT(imgpca_cpus_available(), n);
  return UNIT_DONE();
}
