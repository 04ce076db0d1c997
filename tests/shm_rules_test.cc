// The SHM-* kernel rules can fail: each passes when the real `ipcspec` runs
// it, and fails when the interposed libc (tests/shim/shim_shm.c) breaks
// exactly that rule. SHM-PUBLISH-ATOMIC and SHM-PUBLISH-SEM fail on a torn
// publisher: a stand-in for a weak memory model that makes the flag visible
// before the data, deterministically and on any CPU (x86's stores are never
// reordered, so a relaxed flag alone could never show the bug here).
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "properties/support/shm_sem.h"
#include "tests/support/shim_breakage.h"

namespace ipcspec {
namespace {

using testing::Breakage;
using testing::BreakageName;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::RulesWithoutAWayToFail;
using testing::ShimBreakageTest;

// From message `first_torn` on, publishes message i, waits until the reader
// has taken it, and only then writes the payload: what a weak memory model
// may show a reader of a publisher that stores the flag before the data.
// Earlier messages go right (data, then flag).
class TornPublisher : public props::Publisher {
 public:
  explicit TornPublisher(int first_torn = 0) : first_torn_(first_torn) {}
  std::string name() const override {
    return first_torn_ == 0 ? "flag, then payload"
                            : absl::StrFormat("torn from message %d", first_torn_);
  }
  void Write(uint8_t* data, const std::vector<uint8_t>& payload,
             const std::function<void()>& publish,
             const std::function<bool()>& consumed) const override {
    if (calls_++ < first_torn_) {
      props::DataThenFlag().Write(data, payload, publish, consumed);
      return;
    }
    publish();
    consumed();
    std::memcpy(data, payload.data(), payload.size());
  }

 private:
  const int first_torn_;
  mutable int calls_ = 0;
};

SandboxOptions Options() { return {.timeout = absl::Seconds(10)}; }

struct PublishCase {
  props::Publish how;
  const props::SegmentKind& (*kind)();
  bool next_page;
};

class TornPublishTest : public ::testing::TestWithParam<PublishCase> {};

TEST_P(TornPublishTest, CorrectPublisherPassesTornOneFailsOnTheFirstMessage) {
  const PublishCase& c = GetParam();
  const std::vector<uint64_t> sizes = {1, 4095, 4097, 70000};
  for (uint32_t seed : {1u, 77u}) {
    props::PublishOptions ok;
    ok.seed = seed;
    ok.next_page = c.next_page;
    CaseResult good = RunCase(Options(), [&](const CaseEnv& env) {
      return props::CheckPublish(c.kind(), c.how, sizes, ok, env);
    });
    EXPECT_EQ(good.outcome, Outcome::kPass) << good.message;
    static const TornPublisher torn;
    props::PublishOptions bad = ok;
    bad.publisher = &torn;
    CaseResult r = RunCase(Options(), [&](const CaseEnv& env) {
      return props::CheckPublish(c.kind(), c.how, sizes, bad, env);
    });
    ASSERT_EQ(r.outcome, Outcome::kFail) << r.message;
    EXPECT_THAT(r.message, HasSubstr("message 0 (1 byte)"));
    EXPECT_THAT(r.message, HasSubstr("it is still zero"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Publish, TornPublishTest,
    ::testing::Values(PublishCase{props::Publish::kAtomic, props::SysvSegments, false},
                      PublishCase{props::Publish::kAtomic, props::PosixSegments, true},
                      PublishCase{props::Publish::kSysvSemaphore, props::SysvSegments, false},
                      PublishCase{props::Publish::kPosixSemaphore, props::PosixSegments, true}));

// Later messages show the previous message's bytes, never a mix by chance.
TEST(TornPublishTest, ALaterMessageShowsThePreviousOne) {
  // The first message alone goes right, so the reader sees message 0's
  // bytes in message 1.
  static const TornPublisher second(/*first_torn=*/1);
  props::PublishOptions o;
  o.publisher = &second;
  CaseResult r = RunCase(Options(), [&](const CaseEnv& env) {
    return props::CheckPublish(props::PosixSegments(), props::Publish::kAtomic, {64, 64}, o, env);
  });
  ASSERT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("message 1 (64 bytes)"));
  EXPECT_THAT(r.message, HasSubstr("it holds the previous message"));
}

TEST(PublishPatternTest, EveryByteDiffersFromThePreviousMessageAndIsNeverZero) {
  for (uint32_t seed : {1u, 2u, 999u}) {
    for (uint64_t msg = 0; msg < 600; ++msg) {
      for (uint64_t b = 0; b < 64; ++b) {
        ASSERT_NE(props::MessageByte(seed, msg, b), 0);
        if (msg > 0) {
          ASSERT_NE(props::MessageByte(seed, msg, b), props::MessageByte(seed, msg - 1, b));
        }
      }
    }
  }
}

const Breakage kBreakages[] = {
    {"sysv_shm", "SHM-PERSIST", "shm-zero-on-last-detach"},
    {"posix_shm", "SHM-PERSIST", "shm-zero-on-last-detach"},
    {"sysv_shm", "SHM-RMID-REATTACH", "shmat-removed-einval"},
    {"sysv_shm", "SHM-RMID-REPEAT", "rmid-twice-destroys"},
    {"sysv_shm", "SHM-RMID-KEY-GONE", "rmid-key-lingers"},
    {"posix_shm", "SHM-UNLINK-RECREATE", "shm-open-resurrect"},
    {"posix_shm", "SHM-UNLINK-FD", "mmap-deleted-shm-ebadf"},
    {"posix_shm", "SHM-RESIZE", "ftruncate-shm-grow-ignored"},
    {"posix_shm", "SHM-SIGBUS", "sigsegv-not-sigbus"},
    {"posix_shm", "SHM-PARTIAL-PAGE", "shm-tail-garbage"},
    {"posix_shm", "SHM-ZERO-FILL", "shm-grow-stale"},
    {"sysv_shm", "SHM-ZERO-FILL", "shm-grow-stale"},
    {"posix_shm", "SHM-MREMAP-MOVE", "mremap-shared-privatize"},
    {"posix_shm", "SHM-MREMAP-ALIAS", "mremap-alias-copy"},
    {"posix_shm", "SHM-MAP-PRIVATE", "map-private-shared"},
    {"posix_shm", "SHM-COW-FORK", "map-private-shared"},
    {"posix_shm", "SHM-ANON-SHARED-FORK", "anon-shared-private"},
    {"posix_shm", "SHM-DONTFORK", "dontfork-ignored"},
    {"sysv_shm", "SHM-IPC-STAT", "ipcstat-stale-lpid"},
    {"sysv_shm", "SHM-IPC-SET", "ipcset-ignored"},
    {"sysv_shm", "SHM-RDONLY-MPROTECT", "shm-rdonly-upgradable"},
    {"sysv_shm", "SHM-SIZE-BOUNDS", "shmget-size-clamp"},
    {"sysv_shm", "SHM-SIZE-FIXED", "shmget-existing-grow"},
    {"sysv_shm", "SHM-RND", "shmat-rnd-up"},
    {"sysv_shm", "SHM-KEY-LOOKUP", "shmget-implicit-create"},
    {"sysv_shm", "SHM-DT-EINVAL", "shmdt-lenient"},
    {"posix_shm", "SHM-OPEN-RDONLY", "shm-open-rdonly-rw"},
    {"posix_shm", "SHM-OPEN-NAMES", "shm-open-lenient-names"},
    {"posix_shm", "SHM-OPEN-ENOENT", "shm-open-implicit-create"},
    {"posix_shm", "SHM-OPEN-TRUNC", "shm-open-trunc-ignored"},
    {"posix_shm", "SHM-OPEN-CLOEXEC", "shm-open-no-cloexec"},
    {"posix_shm", "SHM-OPEN-SIZE0", "shm-open-presize"},
    {"posix_shm", "SHM-CREATE-EXCL", "excl-ignored"},
    {"sysv_shm", "SHM-CREATE-EXCL", "excl-ignored"},
    {"sysv_shm", "SHM-SEGV", "rdonly-ignored"},
    {"sysv_shm", "SHM-NATTCH", "nattch-local"},
    {"sysv_shm", "SHM-RMID-ATTACHED", "rmid-drops-dest"},
    {"posix_shm", "SHM-UNLINK-MAPPED", "shm-unlink-noop"},
};

INSTANTIATE_TEST_SUITE_P(Shm, ShimBreakageTest, ::testing::ValuesIn(kBreakages), BreakageName);

// Every SHM-* property has a way to fail: a shim mode above, the torn
// publisher, or a wrong segment kind (mech_signal_shm_socket_test.cc).
TEST(ShmRuleCoverageTest, EveryShmRuleHasAWayToFail) {
  const std::set<std::string> elsewhere = {"SHM-PUBLISH-ATOMIC", "SHM-PUBLISH-SEM",
                                           "SHM-FORK",           "SHM-NATTCH",
                                           "SHM-RMID-ATTACHED",  "SHM-UNLINK-MAPPED"};
  int shm = 0;
  EXPECT_THAT(RulesWithoutAWayToFail({"SHM-"}, kBreakages, elsewhere, &shm), IsEmpty());
  EXPECT_GE(shm, 26);
}

}  // namespace
}  // namespace ipcspec
