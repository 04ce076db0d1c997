#include "fuzz/fuzz_coverage.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/util.h"

// Defined by the linker when some object has the section: the counters of
// this module (what its sancov constructor passes to
// __sanitizer_cov_8bit_counters_init). Null without -fsanitize-coverage.
extern "C" {
extern uint8_t __start___sancov_cntrs[] __attribute__((weak, visibility("hidden")));
extern uint8_t __stop___sancov_cntrs[] __attribute__((weak, visibility("hidden")));
}

// The loops over counters are neither instrumented nor checked
// (IPCSPEC_NOT_INSTRUMENTED): they would count themselves, and they run on
// every child exit.

namespace ipcspec {
namespace {

// The copied parts: [begin, shared_begin) and [shared_end, end).
struct Copied {
  uint8_t* ptr = nullptr;
  size_t len = 0;
};
Copied g_parts[2];
uint8_t* g_buffer = nullptr;  // shared: g_parts[0].len + g_parts[1].len bytes
bool g_active = false;        // copying (there are copied parts)
bool g_shared = false;        // ShareCountersWithChildren succeeded once

IPCSPEC_NOT_INSTRUMENTED void ZeroCopiedParts() {
  for (const Copied& p : g_parts) {
    for (size_t i = 0; i < p.len; ++i) p.ptr[i] = 0;
  }
}

IPCSPEC_NOT_INSTRUMENTED uint8_t SaturatingAdd(uint8_t a, uint8_t b) {
  const unsigned sum = unsigned{a} + b;
  return sum > 255 ? 255 : static_cast<uint8_t>(sum);
}

}  // namespace

IPCSPEC_NOT_INSTRUMENTED void FlushChildCoverage() {
  if (!g_active) return;
  size_t at = 0;
  for (const Copied& p : g_parts) {
    for (size_t i = 0; i < p.len; ++i, ++at) {
      if (p.ptr[i] == 0) continue;
      // Several children may flush at once.
      uint8_t old = __atomic_load_n(&g_buffer[at], __ATOMIC_RELAXED);
      while (!__atomic_compare_exchange_n(&g_buffer[at], &old, SaturatingAdd(old, p.ptr[i]), true,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      }
      p.ptr[i] = 0;
    }
  }
}

IPCSPEC_NOT_INSTRUMENTED void MergeChildCoverage() {
  if (!g_active) return;
  size_t at = 0;
  for (const Copied& p : g_parts) {
    for (size_t i = 0; i < p.len; ++i, ++at) {
      if (g_buffer[at] == 0) continue;
      p.ptr[i] = SaturatingAdd(p.ptr[i], g_buffer[at]);
      g_buffer[at] = 0;
    }
  }
}

std::string ShareCountersWithChildren(uint8_t* begin, uint8_t* end) {
  if (g_shared) return "child coverage: already shared";
  if (begin == nullptr || end <= begin) return "child coverage: no counters (not instrumented)";
  if (const char* e = std::getenv("IPCSPEC_FUZZ_CHILD_COVERAGE"); e != nullptr && e[0] == '0') {
    return "child coverage: off (IPCSPEC_FUZZ_CHILD_COVERAGE=0)";
  }
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = reinterpret_cast<uintptr_t>(begin), e = reinterpret_cast<uintptr_t>(end);
  uintptr_t sb = (b + page - 1) & ~(page - 1), se = e & ~(page - 1);
  if (sb >= se) sb = se = b;  // no whole page: copy them all
  if (sb < se) {
    // The whole pages become shared memory with the same contents.
    std::vector<uint8_t> saved(reinterpret_cast<uint8_t*>(sb), reinterpret_cast<uint8_t*>(se));
    void* p = ::mmap(reinterpret_cast<void*>(sb), se - sb, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) {
      return absl::StrFormat("child coverage: off (mmap: %s)", ErrnoName(errno));
    }
    std::memcpy(p, saved.data(), saved.size());
  }
  g_parts[0] = {begin, sb - b};
  g_parts[1] = {reinterpret_cast<uint8_t*>(se), e - se};
  const size_t copied = g_parts[0].len + g_parts[1].len;
  if (copied > 0) {
    void* buf = ::mmap(nullptr, copied, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
      return absl::StrFormat("child coverage: shared pages only (mmap: %s)", ErrnoName(errno));
    }
    g_buffer = static_cast<uint8_t*>(buf);
    ::pthread_atfork(nullptr, nullptr, ZeroCopiedParts);
    SetChildExitHook(FlushChildCoverage);
  }
  g_active = copied > 0;
  g_shared = true;
  return absl::StrFormat("child coverage: %d counters on shared pages, %d copied at child exit",
                         se - sb, copied);
}

std::string ShareCoverageWithChildren() {
  return ShareCountersWithChildren(__start___sancov_cntrs, __stop___sancov_cntrs);
}

}  // namespace ipcspec
