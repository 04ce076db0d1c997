// RunMark (properties/support/run_mark.h): the time between two marks less
// the run-queue wait between them, which the wake-up and timeout-0 checks
// judge. The arithmetic, and a process that queues for its CPU beside a
// spinner: its marks take that wait out of the clock's interval.
#include "properties/support/run_mark.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "ipcspec/proc.h"
#include "ipcspec/util.h"
#include "tests/support/one_cpu.h"

namespace ipcspec::props {
namespace {

TEST(RunMarkTest, TakesOutTheRunQueueWaitBetweenTwoMarks) {
  EXPECT_EQ((RunMark{5000, 300}.SinceNs(RunMark{1000, 100})), 3800);
  // A figure unknown at either end: the clock's interval.
  EXPECT_EQ((RunMark{5000, -1}.SinceNs(RunMark{1000, 100})), 4000);
  EXPECT_EQ((RunMark{5000, 300}.SinceNs(RunMark{1000, -1})), 4000);
  // A figure that went down (another process's): nothing is taken out.
  EXPECT_EQ((RunMark{5000, 50}.SinceNs(RunMark{1000, 100})), 4000);
  // Never below zero: a mark before the beginning, or a wait longer than
  // the clock saw (a figure read after the clock).
  EXPECT_EQ((RunMark{1000, 0}.SinceNs(RunMark{5000, 0})), 0);
  EXPECT_EQ((RunMark{2000, 9000}.SinceNs(RunMark{1000, 0})), 0);
}

TEST(RunMarkTest, AProcessQueuedBesideASpinnerHasThatWaitTakenOut) {
  if (RunQueueWaitNs(::getpid()) < 0) GTEST_SKIP() << "no /proc/PID/schedstat here";
  cpu_set_t mine;
  ASSERT_EQ(::sched_getaffinity(0, sizeof mine, &mine), 0);
  const cpu_set_t one = ipcspec::testing::OneOfMyCpus();
  ASSERT_EQ(CPU_COUNT(&one), 1);
  ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
  const pid_t spinner = ::fork();
  ASSERT_GE(spinner, 0);
  if (spinner == 0) {
    for (;;) {
    }
  }
  // Spin beside it until this process has queued a millisecond for its CPU
  // (a /proc reading each turn; the deadline is the last resort).
  const RunMark start = RunMark::Start();
  const Deadline deadline = Deadline::After(absl::Seconds(20));
  while (RunQueueWaitNs(::getpid()) <= start.queued_ns + 1000000 && !deadline.Passed()) {
  }
  const RunMark stop = RunMark::Stop();
  ::kill(spinner, SIGKILL);
  ::waitpid(spinner, nullptr, 0);
  ASSERT_EQ(::sched_setaffinity(0, sizeof mine, &mine), 0);
  ASSERT_GT(stop.queued_ns, start.queued_ns + 1000000);
  EXPECT_EQ(stop.SinceNs(start), stop.ns - start.ns - (stop.queued_ns - start.queued_ns));
  EXPECT_LT(stop.SinceNs(start), stop.ns - start.ns - 1000000);
}

}  // namespace
}  // namespace ipcspec::props
