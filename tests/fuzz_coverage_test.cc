// Child coverage (fuzz/fuzz_coverage.h) on a counter array of the test's
// own, laid out like a module's: partial first and last pages (copied at
// child exit) around whole pages (shared). Counts made in sandboxed
// children, one of them killed with SIGKILL, reach this process.
// (The fuzz build proves the same with libFuzzer's own counters:
// fuzz/child_coverage_test.sh.)
#include "fuzz/fuzz_coverage.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "ipcspec/sandbox.h"

namespace ipcspec {
namespace {

TEST(ChildCoverageTest, CountsFromEveryChildReachTheParent) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* mem = ::mmap(nullptr, 5 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* base = static_cast<uint8_t*>(mem);
  uint8_t* begin = base + 100;            // partial first page
  uint8_t* end = base + 4 * page + 200;   // partial last page
  uint8_t* first = begin + 5;             // copied
  uint8_t* middle = base + 2 * page + 7;  // shared
  uint8_t* last = base + 4 * page + 150;  // copied
  uint8_t* by_killed = base + 3 * page;   // shared, counted by a SIGKILLed child
  *first = 1;                             // the parent's own count stays
  ASSERT_EQ(ShareCountersWithChildren(begin, end).find("child coverage: "), 0u);

  SandboxOptions o;
  o.private_ipc = false;
  o.drop_privileges = false;
  CaseResult r = RunCase(o, [&](const CaseEnv&) {
    // The case process counts too, and so do its participants.
    *first += 2;
    Participants ps(Deadline::After(absl::Seconds(5)));
    ps.Spawn("counter", [&] {
      *middle += 3;
      *last += 4;
      return Verdict::Pass();
    });
    ps.Spawn("killed", [&] {
      *by_killed += 5;
      ::raise(SIGKILL);
      return Verdict::Pass();
    });
    ps.JoinOne("counter");
    ps.JoinOne("killed");
    return Verdict::Pass();
  });
  ASSERT_EQ(r.outcome, Outcome::kPass) << r.message;
  MergeChildCoverage();
  EXPECT_EQ(*first, 3);
  EXPECT_EQ(*middle, 3);
  EXPECT_EQ(*last, 4);
  EXPECT_EQ(*by_killed, 5);
  // Merged once: the buffer is clear for the next input.
  MergeChildCoverage();
  EXPECT_EQ(*first, 3);
  EXPECT_EQ(*last, 4);
}

}  // namespace
}  // namespace ipcspec
