// The SEM-* checks can fail: SEM-UNDO under the interposed libc that gives a
// killed holder's unit back without SEM_UNDO (or loses it with SEM_UNDO),
// SEM-NOWAIT under one whose semtimedop drops the timeout's seconds, and
// the exclusion behind SEM-COUNT (and FILE-LOCK) with a semaphore that does
// not exclude. Each also passes on this kernel.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/sandbox.h"
#include "properties/sem/sem_checks.h"
#include "properties/support/shm_sem.h"
#include "tests/support/shim_run.h"

namespace ipcspec {
namespace {

using ::testing::HasSubstr;
using testing::PairRunOptions;
using testing::RunPair;

PairRunOptions Shim(const std::string& mode) {
  return {.shim_library = IPCSPEC_SHIM_LIBRARY, .shim_mode = mode, .extra_args = {"--examples=20"}};
}

TEST(SemUndoTest, PassesOnThisKernel) {
  testing::PairRun ok =
      RunPair(IPCSPEC_BINARY, "sysv_shm", "SEM-UNDO", {.extra_args = {"--examples=20"}});
  EXPECT_EQ(ok.outcome, "pass") << ok.output;
}

TEST(SemUndoTest, UnitGivenBackWithoutUndoFails) {
  testing::PairRun bad = RunPair(IPCSPEC_BINARY, "sysv_shm", "SEM-UNDO", Shim("sem-undo-always"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("without SEM_UNDO and was SIGKILLed"));
  EXPECT_THAT(bad.message, HasSubstr("1 of 1 blocked waiters had got it"));
  EXPECT_THAT(bad.counterexample, HasSubstr("without SEM_UNDO (a plain decrement)"));
}

TEST(SemUndoTest, UndoIgnoredFails) {
  testing::PairRun bad = RunPair(IPCSPEC_BINARY, "sysv_shm", "SEM-UNDO", Shim("sem-undo-ignored"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("with SEM_UNDO and was SIGKILLed"));
  EXPECT_THAT(bad.message, HasSubstr("0 of 1 blocked waiters had got it"));
}

TEST(SemNoWaitTest, TimeoutThatLosesItsSecondsFails) {
  testing::PairRun ok =
      RunPair(IPCSPEC_BINARY, "sysv_shm", "SEM-NOWAIT", {.extra_args = {"--examples=20"}});
  EXPECT_EQ(ok.outcome, "pass") << ok.output;
  testing::PairRun bad =
      RunPair(IPCSPEC_BINARY, "sysv_shm", "SEM-NOWAIT", Shim("semtimedop-drops-sec"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("bounded by 1 s returned -EAGAIN at once"));
}

TEST(SemNoWaitTest, OperationsOfOneCallAppliedOneByOneFail) {
  testing::PairRun bad =
      RunPair(IPCSPEC_BINARY, "sysv_shm", "SEM-NOWAIT", Shim("semop-multi-nonatomic"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("the operations of one call are atomic"));
}

TEST(SemNoWaitTest, NowaitDecrementToExactlyZeroRefusedFails) {
  testing::PairRun bad =
      RunPair(IPCSPEC_BINARY, "sysv_shm", "SEM-NOWAIT", Shim("semop-nowait-zero-refused"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("which it leaves at exactly 0: -EAGAIN"));
}

SandboxOptions Options() { return {.timeout = absl::Seconds(10)}; }

TEST(SemCountTest, RealSemaphoresExclude) {
  for (bool sysv : {true, false}) {
    CaseResult r = RunCase(Options(), [&](const CaseEnv& env) {
      std::string err;
      std::unique_ptr<props::Semaphore> sem =
          sysv ? props::MakeSysvSemaphore(1, &err) : props::MakePosixSemaphore(1, &err);
      if (!sem) return Verdict::Broken(err);
      return props::CheckSemaphoreExcludes(*sem, sysv, 3, 50, env);
    });
    EXPECT_EQ(r.outcome, Outcome::kPass) << (sysv ? "System V: " : "POSIX: ") << r.message;
  }
}

TEST(SemCountTest, SemaphoreThatDoesNotExcludeFailsEveryRun) {
  for (bool sysv : {true, false}) {
    for (int run = 0; run < 5; ++run) {
      CaseResult r = RunCase(Options(), [&](const CaseEnv& env) {
        std::unique_ptr<props::Semaphore> sem = props::MakeNonExcludingSemaphore();
        return props::CheckSemaphoreExcludes(*sem, sysv, 2, 1, env);
      });
      ASSERT_EQ(r.outcome, Outcome::kFail) << r.message;
      EXPECT_THAT(r.message, HasSubstr("critical sections overlapped"));
    }
  }
}

}  // namespace
}  // namespace ipcspec
