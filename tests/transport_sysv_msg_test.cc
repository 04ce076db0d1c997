// The sysv_msg transport: forked writers and readers, message boundaries
// (zero-length and max_message messages), EMSGSIZE that keeps the queue
// intact, capacity in bytes and in messages, bounded waits by the interrupt
// timer (and the signal state it leaves), EIDRM for callers blocked when
// the queue is removed, and that Destroy() leaves no queue.
#include <signal.h>
#include <sys/msg.h>
#include <sys/syscall.h>

#include <cstring>
#include <fstream>

#include "ipcspec/inventory.h"
#include "tests/transport_test_util.h"

namespace ipcspec::testing {
namespace {

constexpr size_t kMax = 8192;

// Message queue ids now (ipcspec/inventory.h).
std::vector<int> QueueIds() {
  std::vector<int> ids;
  for (const SysvObject& o : ListSysv('q')) ids.push_back(o.id);
  return ids;
}

class SysvMsgTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    before_ = QueueIds();
    auto ch = Find("sysv_msg").Create(dir_);
    ASSERT_TRUE(ch.ok()) << ch.status();
    ch_ = *std::move(ch);
    ASSERT_EQ(QueueIds().size(), before_.size() + 1);
  }
  void TearDown() override {
    if (ch_ != nullptr && !destroyed_) {
      EXPECT_TRUE(ch_->Destroy().ok());
    }
    EXPECT_EQ(QueueIds(), before_) << "Destroy() left a queue behind";
    ScratchDirTest::TearDown();
  }
  std::unique_ptr<End> Open(Role role) {
    auto end = ch_->Open(role);
    EXPECT_TRUE(end.ok()) << end.status();
    return end.ok() ? *std::move(end) : nullptr;
  }

  std::vector<int> before_;
  std::unique_ptr<Channel> ch_;
  bool destroyed_ = false;
};

TEST_F(SysvMsgTest, CapabilitiesMatchTheKernelDefaults) {
  const Capabilities& caps = Find("sysv_msg").caps();
  EXPECT_EQ(caps.framing, Framing::kMessage);
  EXPECT_EQ(caps.model, ModelClass::kTypedQueue);
  EXPECT_FALSE(caps.peer_close);
  EXPECT_TRUE(caps.named);
  EXPECT_EQ(caps.max_message, kMax);
  EXPECT_EQ(caps.capacity, 16384u);
  EXPECT_EQ(caps.atomic_write, kMax);
}

TEST_F(SysvMsgTest, ChildWriterMessagesArriveWholeAndInOrder) {
  const std::vector<size_t> sizes = {0, 1, 7, 0, 100, kMax - 1, kMax, 0, 3};
  Child w = StartEnd(*ch_, Role::kWriter, [&](std::unique_ptr<End>& end) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      size_t sent = 0;
      if (end->Send(Pattern(sizes[i], i), &sent, 10000) != 0 || sent != sizes[i]) return 11;
    }
    return 0;
  });
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  std::vector<std::byte> buf(kMax);
  for (size_t i = 0; i < sizes.size(); ++i) {
    size_t n = 99;
    ASSERT_EQ(r->Recv(buf, &n, 10000), 0) << "message " << i;
    ASSERT_EQ(n, sizes[i]) << "message " << i << ": a zero-length message is a message";
    EXPECT_TRUE(
        std::equal(buf.begin(), buf.begin() + static_cast<long>(n), Pattern(sizes[i], i).begin()));
  }
  EXPECT_EQ(w.Wait(kLong), 0);
  size_t n = 0;
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN) << "no end of stream: peer_close is not declared";
}

TEST_F(SysvMsgTest, OversizeSendAndShortBufferGiveEmsgsizeAndLoseNothing) {
  auto r = Open(Role::kReader);
  auto w = Open(Role::kWriter);
  ASSERT_TRUE(r && w);
  size_t sent = 0;
  EXPECT_EQ(w->Send(Pattern(kMax + 1, 1), &sent, 1000), -EMSGSIZE);
  EXPECT_EQ(sent, 0u);
  ASSERT_EQ(w->Send(Bytes("twelve bytes"), &sent, 1000), 0);
  std::vector<std::byte> small(4);
  size_t n = 0;
  EXPECT_EQ(r->Recv(small, &n, 1000), -EMSGSIZE);
  std::vector<std::byte> buf(kMax);
  ASSERT_EQ(r->Recv(buf, &n, 1000), 0) << "the message stays queued";
  buf.resize(n);
  EXPECT_EQ(buf, Bytes("twelve bytes"));
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
}

TEST_F(SysvMsgTest, FullQueueGivesEagainThenTimesOutThenResumes) {
  auto r = Open(Role::kReader);
  auto w = Open(Role::kWriter);
  ASSERT_TRUE(r && w);
  size_t sent = 0;
  ASSERT_EQ(w->Send(Pattern(kMax, 1), &sent, 0), 0);
  ASSERT_EQ(w->Send(Pattern(kMax, 2), &sent, 0), 0);
  EXPECT_EQ(w->Send(Bytes("x"), &sent, 0), -EAGAIN) << "capacity is 16384 bytes";
  const absl::Time start = absl::Now();
  EXPECT_EQ(w->Send(Bytes("x"), &sent, 150), -ETIMEDOUT);
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(150));
  EXPECT_LT(took, absl::Milliseconds(2150));
  std::vector<std::byte> buf(kMax);
  size_t n = 0;
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_EQ(buf, Pattern(kMax, 1));
  EXPECT_EQ(w->Send(Bytes("x"), &sent, 0), 0) << "room again after a receive";
}

TEST_F(SysvMsgTest, QueueHoldsAtMostMaxQueuedMessages) {
  auto w = Open(Role::kWriter);
  ASSERT_NE(w, nullptr);
  const uint64_t max_queued = Find("sysv_msg").caps().max_queued;
  size_t sent = 0;
  for (uint64_t i = 0; i < max_queued; ++i) {
    ASSERT_EQ(w->Send({}, &sent, 0), 0) << "message " << i;
  }
  EXPECT_EQ(w->Send({}, &sent, 0), -EAGAIN);
}

TEST_F(SysvMsgTest, BoundedReceiveTimesOutAndRestoresTheSignalState) {
  const int sig = SIGRTMAX - 1;
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  std::vector<std::byte> buf(kMax);
  size_t n = 0;
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
  for (bool blocked : {false, true}) {
    sigset_t set, mask;
    sigemptyset(&set);
    sigaddset(&set, sig);
    ASSERT_EQ(::pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr), 0);
    const absl::Time start = absl::Now();
    EXPECT_EQ(r->Recv(buf, &n, 120), -ETIMEDOUT);
    const absl::Duration took = absl::Now() - start;
    EXPECT_GE(took, absl::Milliseconds(120));
    EXPECT_LT(took, absl::Milliseconds(2120));
    struct sigaction sa;
    ASSERT_EQ(::sigaction(sig, nullptr, &sa), 0);
    EXPECT_EQ(sa.sa_handler, SIG_DFL) << "handler restored";
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
    EXPECT_EQ(sigismember(&mask, sig) == 1, blocked) << "mask restored";
    sigset_t pending;
    ASSERT_EQ(::sigpending(&pending), 0);
    EXPECT_EQ(sigismember(&pending, sig), 0) << "no timer signal left pending";
    ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &set, nullptr), 0);
  }
}

TEST_F(SysvMsgTest, WrongDirectionIsEbadfAndLeavesDataAlone) {
  auto r = Open(Role::kReader);
  auto w = Open(Role::kWriter);
  ASSERT_TRUE(r && w);
  size_t sent = 0;
  ASSERT_EQ(w->Send(Bytes("abc"), &sent, 0), 0);
  EXPECT_EQ(r->Send(Bytes("zz"), &sent, 0), -EBADF);
  std::vector<std::byte> buf(kMax);
  size_t n = 0;
  EXPECT_EQ(w->Recv(buf, &n, 0), -EBADF);
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  buf.resize(n);
  EXPECT_EQ(buf, Bytes("abc"));
}

TEST_F(SysvMsgTest, SeveralWritersKeepTheirOwnOrder) {
  constexpr uint32_t kWriters = 3, kMessages = 200;
  std::vector<Child> writers;
  for (uint32_t i = 0; i < kWriters; ++i) {
    writers.push_back(StartEnd(*ch_, Role::kWriter, [&, i](std::unique_ptr<End>& end) {
      for (uint32_t s = 0; s < kMessages; ++s) {
        std::vector<std::byte> msg = Pattern(8 + (s * 37) % 3000, s);
        std::memcpy(msg.data(), &i, 4);
        std::memcpy(msg.data() + 4, &s, 4);
        size_t sent = 0;
        if (end->Send(msg, &sent, 10000) != 0) return 11;
      }
      return 0;
    }));
  }
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  std::vector<uint32_t> next(kWriters, 0);
  std::vector<std::byte> buf(kMax);
  for (uint32_t k = 0; k < kWriters * kMessages; ++k) {
    size_t n = 0;
    ASSERT_EQ(r->Recv(buf, &n, 10000), 0) << "after " << k << " messages";
    uint32_t writer, seq;
    std::memcpy(&writer, buf.data(), 4);
    std::memcpy(&seq, buf.data() + 4, 4);
    ASSERT_LT(writer, kWriters);
    ASSERT_EQ(seq, next[writer]++);
    ASSERT_EQ(n, 8 + (seq * 37) % 3000);
  }
  for (Child& w : writers) EXPECT_EQ(w.Wait(kLong), 0);
}

TEST_F(SysvMsgTest, RemovalWakesBlockedReceiversWithEidrm) {
  // One waits forever (plain blocking msgrcv), one with a bound (the timer
  // path); both are asleep in msgrcv when the queue goes.
  std::vector<Child> readers;
  for (int timeout_ms : {-1, 20000}) {
    readers.push_back(StartEnd(*ch_, Role::kReader, [&, timeout_ms](std::unique_ptr<End>& end) {
      std::vector<std::byte> buf(kMax);
      size_t n = 0;
      return end->Recv(buf, &n, timeout_ms) == -EIDRM ? 0 : 11;
    }));
  }
  for (Child& c : readers) ASSERT_TRUE(WaitUntilBlockedIn(c.pid(), {SYS_msgrcv}, kLong));
  ASSERT_TRUE(ch_->Destroy().ok());
  destroyed_ = true;
  for (Child& c : readers) EXPECT_EQ(c.Wait(kLong), 0) << "exit 11: not EIDRM";
}

TEST_F(SysvMsgTest, QueueIsPrivateToItsOwner) {
  bool found = false;
  for (const SysvObject& o : ListSysv('q')) {
    if (std::find(before_.begin(), before_.end(), o.id) == before_.end()) {
      found = true;
      EXPECT_EQ(o.mode & 0777, 0600u);
      EXPECT_NE(o.key, 0u) << "not IPC_PRIVATE: reachable by its key";
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace ipcspec::testing
