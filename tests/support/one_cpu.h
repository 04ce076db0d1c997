// tests/support/one_cpu.h: a CPU set holding one CPU this process may run
// on (its first), for tests that put several processes on one CPU so that
// they queue for it.
#ifndef IPCSPEC_TESTS_SUPPORT_ONE_CPU_H_
#define IPCSPEC_TESTS_SUPPORT_ONE_CPU_H_

#include <sched.h>

namespace ipcspec::testing {

// The first CPU of this process's affinity, alone; an empty set if the
// affinity cannot be read.
inline cpu_set_t OneOfMyCpus() {
  cpu_set_t mine, one;
  CPU_ZERO(&one);
  if (::sched_getaffinity(0, sizeof mine, &mine) != 0) return one;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &mine)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  return one;
}

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_ONE_CPU_H_
