#define _GNU_SOURCE
#include "slices.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* struct sched_attr's first version, which glibc does not declare. */
typedef struct sched_attr_v1 {
  uint32_t size;
  uint32_t policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime_ns;
  uint64_t deadline_ns;
  uint64_t period_ns;
} sched_attr_v1;

/* Thread tid's slice (0: the calling thread); UINT64_MAX if unreadable. */
static uint64_t slice_of(pid_t tid) {
  sched_attr_v1 attr;
  memset(&attr, 0, sizeof attr);
  if (syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0) {
    return UINT64_MAX;
  }
  return attr.runtime_ns;
}

uint64_t cgotest_own_slice(void) { return slice_of(0); }

uint32_t cgotest_count_threads(const char* name, uint64_t slice_ns) {
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == NULL) {
    return 0;
  }
  uint32_t count = 0;
  for (const struct dirent* task = readdir(tasks); task != NULL; task = readdir(tasks)) {
    if (task->d_name[0] == '.') {
      continue;
    }
    char path[64];
    char comm[32] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", task->d_name);
    FILE* file = fopen(path, "r");
    if (file == NULL) {
      continue; /* the thread ended meanwhile */
    }
    const int read = fgets(comm, sizeof comm, file) != NULL;
    fclose(file);
    comm[strcspn(comm, "\n")] = '\0';
    if (read && strcmp(comm, name) == 0 && slice_of((pid_t)atoi(task->d_name)) == slice_ns) {
      ++count;
    }
  }
  closedir(tasks);
  return count;
}
