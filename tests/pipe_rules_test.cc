// The PIPE-*, PIPE2-*, FIFO-* and SPLICE-*/TEE-*/VMSPLICE-* kernel rules can
// fail: each passes when the real `ipcspec` runs it, and fails when the
// interposed libc (tests/shim/shim_pipe.c, shim_splice.c) breaks exactly that
// rule. A stream that keeps message boundaries (a seqpacket socketpair posing
// as a pipe) fails PIPE-STREAM-MERGE through MechHooks.
#include <sys/socket.h>

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "properties/support/mech_common.h"
#include "tests/support/shim_breakage.h"

namespace ipcspec {
namespace {

using testing::Breakage;
using testing::BreakageName;
using ::testing::IsEmpty;
using testing::PairRun;
using testing::RulesWithoutAWayToFail;
using testing::RunPair;
using testing::ShimBreakageTest;

const Breakage kBreakages[] = {
    {"pipe", "PIPE-EOF", "eof-before-data"},
    {"pipe", "PIPE-EOF", "pipe-nb-eof-eagain"},
    {"eventfd", "EVENTFD-COUNTER", "efd-blocking-read-eagain"},
    {"eventfd", "EVENTFD-SEMAPHORE", "efd-blocking-read-eagain"},
    {"eventfd", "EVENTFD-COUNTER", "efd-write-zero-einval"},
    {"eventfd", "EVENTFD-COUNTER", "efd-large-buffer-einval"},
    {"eventfd", "EVENTFD-EAGAIN", "efd-blocking-overflow-eagain"},
    {"file", "FILE-HANDOFF", "file-write-deferred"},
    {"fifo", "PIPE-EBADF", "read-end-writable"},
    {"pipe", "PIPE-EPIPE", "epipe-no-signal"},
    {"fifo", "PIPE-ESPIPE", "pipe-lseek-zero"},
    {"pipe", "PIPE-EAGAIN", "eagain-as-zero"},
    {"pipe", "PIPE-PARTIAL", "partial-short-by-one"},
    {"fifo", "PIPE-PARTIAL", "partial-short-by-one"},
    {"pipe", "PIPE-PARTIAL-CLOSED", "partial-as-epipe"},
    {"pipe", "PIPE-ATOMIC", "pipe-split-writes"},
    {"fifo", "PIPE-WAKE-ALL", "eof-wakes-one"},
    {"pipe", "PIPE-SETPIPE-SZ-EINVAL", "setpipe-sz-clamp-big"},
    {"fifo", "PIPE-SETPIPE-SZ-EPERM", "setpipe-sz-clamp-max"},
    {"pipe", "PIPE-SETPIPE-SZ-ROUND", "setpipe-sz-exact"},
    {"pipe", "PIPE-GETFL", "getfl-rdwr"},
    {"pipe", "PIPE2-EINVAL", "pipe2-lenient"},
    {"pipe", "PIPE2-CLOEXEC", "pipe2-cloexec-dropped"},
    {"pipe", "PIPE2-NONBLOCK", "pipe2-nonblock-write-only"},
    {"pipe", "PIPE-SIGPIPE-KILL", "sigpipe-ignored"},
    {"pipe", "PIPE-PACKET", "pipe2-direct-ignored"},
    {"fifo", "PIPE-PACKET", "pipe2-direct-ignored"},
    {"pipe", "PIPE-PACKET-TRUNC", "packet-short-read-keeps-rest"},
    {"pipe", "PIPE-ZERO-IO", "zero-io-eagain"},
    {"fifo", "PIPE-FIONREAD", "fionread-write-end-zero"},
    {"pipe", "PIPE-READ-AVAILABLE", "read-waits-full"},
    {"pipe", "PIPE-POLL-HUP", "poll-hup-as-in"},
    {"fifo", "PIPE-POLL-ERR", "poll-no-err"},
    {"pipe", "PIPE-POLL-READY", "poll-always-writable"},
    {"pipe", "PIPE-PROC-REOPEN", "proc-reopen-enxio"},
    {"pipe", "PIPE-PROC-NOREF", "proc-stat-leaks-ref"},
    {"pipe", "PIPE-INODE", "pipe-ino-differs"},
    {"fifo", "PIPE-BLOCKED-EPIPE", "blocked-epipe-as-zero"},
    {"pipe", "PIPE-EMFILE", "emfile-leaks-fd"},
    {"fifo", "FIFO-ENXIO", "fifo-enxio-rdwr"},
    {"fifo", "FIFO-RDWR", "fifo-rdwr-as-rdonly"},
    {"fifo", "FIFO-RENDEZVOUS", "fifo-open-nonblock"},
    {"fifo", "FIFO-EINTR", "fifo-open-restart"},
    {"fifo", "FIFO-MKNOD", "mknod-fifo-regular"},
    {"fifo", "FIFO-EEXIST", "mkfifo-replace"},
    {"fifo", "FIFO-OTRUNC", "fifo-otrunc-drains"},
    {"fifo", "FIFO-TRUNCATE", "fifo-truncate-ok"},
    {"fifo", "FIFO-DISCARD", "fifo-keeps-data"},
    {"fifo", "FIFO-POLL-NOHUP", "fifo-poll-early-hup"},
    {"fifo", "FIFO-NB-READ-EOF", "fifo-nb-eof-eagain"},
    {"pipe", "SPLICE-FILE-TO-PIPE", "splice-ignore-off-in"},
    {"pipe", "SPLICE-PIPE-TO-FILE", "splice-out-pwrite0"},
    {"pipe", "SPLICE-PIPE-TO-PIPE", "splice-pipe-as-tee"},
    {"fifo", "SPLICE-ESPIPE", "splice-pipe-offset-dropped"},
    {"pipe", "SPLICE-EINVAL-NOPIPE", "splice-copy-fallback"},
    {"pipe", "SPLICE-EINVAL-SAMEPIPE", "splice-same-pipe-ok"},
    {"pipe", "SPLICE-EINVAL-APPEND", "splice-append-ok"},
    {"pipe", "SPLICE-NONBLOCK", "splice-nonblock-stripped"},
    {"fifo", "TEE-DUPLICATE", "tee-consumes"},
    {"pipe", "TEE-EINVAL", "tee-file-ok"},
    {"pipe", "VMSPLICE-TO-PIPE", "vmsplice-drop-last-iov"},
    {"pipe", "VMSPLICE-FROM-PIPE", "vmsplice-readend-ebadf"},
};

INSTANTIATE_TEST_SUITE_P(Pipe, ShimBreakageTest, ::testing::ValuesIn(kBreakages), BreakageName);

// (The eventfd and file breakages above are here because this file's shim
// wraps read, write and close.) Every PIPE-*, PIPE2-*, FIFO-*, SPLICE-*, TEE-* and VMSPLICE-*
// property has a breakage above, or a wrong pipe elsewhere: PIPE-SETPIPE-SZ (a socketpair,
// mech_queue_pipe_test.cc) and PIPE-STREAM-MERGE (below).
TEST(PipeRuleCoverageTest, EveryPipeRuleHasAWayToFail) {
  const std::set<std::string> elsewhere = {"PIPE-SETPIPE-SZ", "PIPE-STREAM-MERGE"};
  int pipes = 0, splicing = 0;
  EXPECT_THAT(RulesWithoutAWayToFail({"PIPE", "FIFO-"}, kBreakages, elsewhere, &pipes), IsEmpty());
  EXPECT_THAT(
      RulesWithoutAWayToFail({"SPLICE-", "TEE-", "VMSPLICE-"}, kBreakages, elsewhere, &splicing),
      IsEmpty());
  EXPECT_GE(pipes, 35);
  EXPECT_GE(splicing, 10);
}

// The transports write to pipes and FIFOs as pwritev2(RWF_NOSIGNAL). Where
// the kernel refuses the flag (before Linux 6.18; the shim's
// "kernel-before-6.18" mode refuses it), they block SIGPIPE around a
// write(2) instead: a writer whose reader has gone still gets -EPIPE, and
// no SIGPIPE, whether its call waits or not.
TEST(PipeWriteFallbackTest, NoSigpipeWhereTheKernelRefusesRwfNosignal) {
  for (const char* transport : {"pipe", "fifo"}) {
    PairRun r = RunPair(IPCSPEC_BINARY, transport, "G-PEER-GONE",
                        {.shim_library = IPCSPEC_SHIM_LIBRARY,
                         .shim_mode = "kernel-before-6.18",
                         .extra_args = {"--examples=30"}});
    EXPECT_EQ(r.outcome, "pass") << transport << ": " << r.message << "\n" << r.output;
  }
}

int SeqpacketPipe(int fds[2]) {
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return -errno;
  ::shutdown(fds[0], SHUT_WR);
  ::shutdown(fds[1], SHUT_RD);
  return 0;
}

TEST(PipeRuleWrongPipeTest, PipeKeepingWriteBoundariesFailsStreamMerge) {
  const Transport* t = TransportRegistry::Global().Find("pipe");
  const Property* p = PropertyRegistry::Global().Find("PIPE-STREAM-MERGE");
  ASSERT_NE(t, nullptr);
  ASSERT_NE(p, nullptr);
  SandboxOptions o;
  DirectRunner runner(o);
  RunConfig config;
  config.seed = 3;
  config.examples = 10;
  EXPECT_EQ(RunProperty(*t, *p, config, runner).outcome, Outcome::kPass);
  props::Hooks().make_pipe = SeqpacketPipe;
  PropertyResult r = RunProperty(*t, *p, config, runner);
  props::Hooks() = props::MechHooks{};
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, ::testing::HasSubstr("write boundaries kept"));
}

}  // namespace
}  // namespace ipcspec
