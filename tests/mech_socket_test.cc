// The UNIX-* checks that issue 12 found unable to fail can fail: each passes
// on this kernel and fails under the interposed libc mode that breaks its
// rule (tests/shim/shim_socket.c):
//   UNIX-EPIPE      a MSG_NOSIGNAL send raising SIGPIPE; a plain send not raising it
//   UNIX-PEERCRED   SO_PEERCRED naming the caller instead of the peer
//   UNIX-ADDRINUSE  a bind that steals a taken name; an abstract name outliving its
//                   socket; a path refused after it was unlinked
// UNIX-PEERCRED's other-uid branch runs as root without dropping privileges.
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "tests/support/shim_run.h"

namespace ipcspec {
namespace {

using ::testing::HasSubstr;
using testing::PairRun;
using testing::PairRunOptions;
using testing::RunPair;

PairRunOptions Shim(const std::string& mode) {
  return {.shim_library = IPCSPEC_SHIM_LIBRARY, .shim_mode = mode, .extra_args = {"--examples=30"}};
}
PairRunOptions Plain() { return {.extra_args = {"--examples=30"}}; }

TEST(UnixEpipeTest, PassesOnThisKernel) {
  for (const char* t : {"unix_stream", "unix_seqpacket", "socketpair_stream"}) {
    PairRun ok = RunPair(IPCSPEC_BINARY, t, "UNIX-EPIPE", Plain());
    EXPECT_EQ(ok.outcome, "pass") << t << "\n" << ok.output;
  }
}

TEST(UnixEpipeTest, SigpipeDespiteNosignalFails) {
  PairRun bad = RunPair(IPCSPEC_BINARY, "unix_stream", "UNIX-EPIPE", Shim("send-nosignal-ignored"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("send(MSG_NOSIGNAL)"));
  EXPECT_THAT(bad.message, HasSubstr("raised 1 SIGPIPE, expected 0"));
}

TEST(UnixEpipeTest, NoSigpipeForAPlainSendFails) {
  for (const char* t : {"unix_stream", "socketpair_stream"}) {
    PairRun bad = RunPair(IPCSPEC_BINARY, t, "UNIX-EPIPE", Shim("send-no-sigpipe"));
    ASSERT_EQ(bad.outcome, "fail") << t << "\n" << bad.output;
    EXPECT_THAT(bad.message, HasSubstr("raised 0 SIGPIPE, expected 1"));
  }
}

// `property` passes on each transport of `ts` on this kernel and fails
// under shim `mode`, its message saying `says`.
void ExpectCaughtUnderShim(std::initializer_list<const char*> ts, const char* property,
                           const char* mode, const char* says) {
  for (const char* t : ts) {
    PairRun ok = RunPair(IPCSPEC_BINARY, t, property, Plain());
    EXPECT_EQ(ok.outcome, "pass") << t << "\n" << ok.output;
    PairRun bad = RunPair(IPCSPEC_BINARY, t, property, Shim(mode));
    ASSERT_EQ(bad.outcome, "fail") << t << "\n" << bad.output;
    EXPECT_THAT(bad.message, HasSubstr(says)) << t;
  }
}

TEST(UnixScmRightsTest, CloseOnExecIgnoredFails) {
  ExpectCaughtUnderShim({"unix_stream", "socketpair_dgram"}, "UNIX-SCM-RIGHTS",
                        "scm-cmsg-cloexec-ignored",
                        "close-on-exec clear after recvmsg with MSG_CMSG_CLOEXEC");
}

TEST(UnixShutdownTest, ReadShutdownThatDoesNothingFails) {
  ExpectCaughtUnderShim({"unix_stream", "socketpair_seqpacket"}, "UNIX-SHUTDOWN",
                        "shutdown-rd-noop",
                        "recv after its own SHUT_RD, the peer still open: EAGAIN");
}

TEST(UnixScmRightsTest, ASecondCopyOfAPassedDescriptorFails) {
  ExpectCaughtUnderShim({"socketpair_stream"}, "UNIX-SCM-RIGHTS", "scm-rights-dup-kept",
                        "still refers to passed pipe 0");
}

TEST(UnixScmCredentialsTest, CredentialsThatNameNoSenderFail) {
  ExpectCaughtUnderShim({"unix_dgram", "socketpair_stream", "unix_seqpacket"},
                        "UNIX-SCM-CREDENTIALS", "scm-creds-pid-zero", "SCM_CREDENTIALS say pid 0");
}

TEST(UnixPeerCredTest, PassesOnThisKernel) {
  for (const char* t : {"unix_stream", "unix_seqpacket", "socketpair_stream", "socketpair_dgram"}) {
    PairRun ok = RunPair(IPCSPEC_BINARY, t, "UNIX-PEERCRED", Plain());
    EXPECT_EQ(ok.outcome, "pass") << t << "\n" << ok.output;
  }
}

TEST(UnixPeerCredTest, CredentialsOfTheCallerFail) {
  for (const char* t : {"unix_stream", "socketpair_seqpacket"}) {
    PairRun bad = RunPair(IPCSPEC_BINARY, t, "UNIX-PEERCRED", Shim("peercred-names-caller"));
    ASSERT_EQ(bad.outcome, "fail") << t << "\n" << bad.output;
    EXPECT_THAT(bad.message, HasSubstr("SO_PEERCRED")) << t;
    EXPECT_THAT(bad.message, HasSubstr("expected the")) << t;
  }
}

// As root, with privileges kept, the connecting process switches uid/gid,
// hands its socket to a child and exits, three forks deep: SO_PEERCRED still
// names it, with the switched ids.
TEST(UnixPeerCredTest, OtherUidAndHandOffAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch uid";
  SandboxOptions o;
  o.timeout = absl::Seconds(10);
  o.drop_privileges = false;
  DirectRunner runner(o);
  for (const char* t : {"unix_stream", "socketpair_stream"}) {
    const Scenario s{"UNIX-PEERCRED", t, {Step::Param(0, 3), Step::Param(1, 1), Step::Param(2, 1)}};
    CaseResult r = runner.Run(s);
    EXPECT_EQ(r.outcome, Outcome::kPass) << t << ": " << r.message;
  }
}

TEST(UnixAddrInUseTest, PassesOnThisKernel) {
  for (const char* t : {"unix_stream", "unix_dgram", "unix_seqpacket"}) {
    PairRun ok = RunPair(IPCSPEC_BINARY, t, "UNIX-ADDRINUSE", Plain());
    EXPECT_EQ(ok.outcome, "pass") << t << "\n" << ok.output;
  }
}

TEST(UnixAddrInUseTest, StolenNameFails) {
  PairRun bad =
      RunPair(IPCSPEC_BINARY, "unix_stream", "UNIX-ADDRINUSE", Shim("unix-bind-steals-name"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("while it is bound: succeeded, expected EADDRINUSE"));
}

TEST(UnixAddrInUseTest, AbstractNameOutlivingItsSocketFails) {
  PairRun bad =
      RunPair(IPCSPEC_BINARY, "unix_dgram", "UNIX-ADDRINUSE", Shim("unix-abstract-name-lingers"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("after its only socket closed: EADDRINUSE, expected success"));
  EXPECT_THAT(bad.counterexample, HasSubstr("the name is an abstract name"));
  EXPECT_THAT(bad.counterexample, HasSubstr("closed before the rebind: yes"));
}

TEST(UnixAddrInUseTest, PathRefusedAfterUnlinkFails) {
  PairRun bad = RunPair(IPCSPEC_BINARY, "unix_seqpacket", "UNIX-ADDRINUSE",
                        Shim("unix-bind-path-stays-taken"));
  ASSERT_EQ(bad.outcome, "fail") << bad.output;
  EXPECT_THAT(bad.message, HasSubstr("after unlink: EADDRINUSE, expected success"));
  EXPECT_THAT(bad.counterexample, HasSubstr("a path in the scratch directory"));
}

}  // namespace
}  // namespace ipcspec
