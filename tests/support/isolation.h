// tests/support/isolation.h: a test process's own IPC world, so that tests
// which look at machine-wide state (SysV ids, /dev/shm, mqueue names) run in
// parallel with each other and with anything else on the machine.
//
// Every test binary links tests/support/test_main.cc, which calls this before
// GoogleTest starts and before any thread exists (unshare(2) of a mount
// namespace needs a single-threaded process):
//
//   Isolation iso = EnterTestIsolation();
//   if (!iso.isolated) std::fprintf(stderr, "%s\n", iso.how.c_str());
//
// Where that is not permitted, tests/CMakeLists.txt has found out at
// configure time (the same code, built as a probe) and the tests share one
// RESOURCE_LOCK instead, so ctest runs them one at a time.
//
// This file depends on libc alone: CMake's try_run compiles it by itself
// with IPCSPEC_ISOLATION_PROBE defined.
#ifndef IPCSPEC_TESTS_SUPPORT_ISOLATION_H_
#define IPCSPEC_TESTS_SUPPORT_ISOLATION_H_

#include <string>

namespace ipcspec::testing {

struct Isolation {
  bool isolated = false;
  std::string how;  // one line: which namespaces, or why none
};

// Moves this process into a private IPC namespace (SysV objects, POSIX
// message queues) and a private mount namespace with a fresh tmpfs on
// /dev/shm and, where /dev/mqueue exists, a fresh mqueue mount there. As
// root directly; otherwise inside a user namespace of its own that maps the
// caller's uid and gid to themselves. Nothing changes when neither is
// permitted, or when IPCSPEC_TEST_SHARED=1 asks to stay in the shared
// namespaces. Idempotent.
Isolation EnterTestIsolation();

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_ISOLATION_H_
