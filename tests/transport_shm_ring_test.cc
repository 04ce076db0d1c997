// The shared-memory ring transports (sysv_shm, posix_shm), each test run on
// both: messages of every awkward size (0, 1, around the ring's size,
// several rings) arrive exact from a forked writer; wrap-around at every
// offset of the ring; several writers never interleave; end of stream only
// after every writer closed (the writers still alive), waking every blocked
// reader; EPIPE to a writer blocked on a full ring when the reader closes;
// timeouts; a writer SIGKILLed in the middle of a message larger than the
// ring gives end of stream, never a torn message; Destroy() leaves no SysV
// id and no /dev/shm name.
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "ipcspec/inventory.h"
#include "tests/transport_test_util.h"

namespace ipcspec {
namespace {

using ::ipcspec::testing::Bytes;
using ::ipcspec::testing::Child;
using ::ipcspec::testing::Gate;
using ::ipcspec::testing::kLong;
using ::ipcspec::testing::Pattern;
using ::ipcspec::testing::WaitUntilBlockedIn;

constexpr size_t kRing = 65536;
constexpr size_t kMax = size_t{1} << 20;
constexpr size_t kMaxQueued = 1024;
// The ring's data area: the capacity plus an 8-byte header per queued chunk.
constexpr size_t kRingBytes = kRing + 8 * kMaxQueued;
constexpr int kTimeoutMs = 10000;

// "shm <id>", "sem <id>" and "/dev/shm/<name>" for every such object now.
std::set<std::string> IpcObjects() {
  std::set<std::string> out;
  const IpcSnapshot now = TakeIpcSnapshot();
  for (const SysvObject& o : now.sysv) {
    if (o.kind != 'q') out.insert(absl::StrCat(std::string(o.Table()), " ", o.id));
  }
  for (const std::string& n : now.shm) out.insert("/dev/shm/" + n);
  return out;
}

// Waits until `pid` is stopped (state T), with a deadline.
bool WaitUntilStopped(pid_t pid, absl::Duration timeout) {
  const Deadline deadline = Deadline::After(timeout);
  while (!deadline.Passed()) {
    std::string stat;
    std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/stat"), stat);
    const size_t paren = stat.rfind(')');
    if (paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] == 'T') {
      return true;
    }
    ::sched_yield();
  }
  return false;
}

// A message tagged with its writer and sequence number in its first 8 bytes.
std::vector<std::byte> Tagged(size_t n, uint32_t writer, uint32_t seq) {
  std::vector<std::byte> m = Pattern(n, writer * 1000 + seq);
  std::memcpy(m.data(), &writer, 4);
  std::memcpy(m.data() + 4, &seq, 4);
  return m;
}

bool SameBytes(std::span<const std::byte> got, const std::vector<std::byte>& want) {
  return got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin());
}

class ShmRingTest : public ::ipcspec::testing::ScratchDirTest,
                    public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    const std::set<std::string> before = IpcObjects();
    auto ch = Find(GetParam()).Create(dir_);
    ASSERT_TRUE(ch.ok()) << ch.status();
    ch_ = *std::move(ch);
    for (const std::string& o : IpcObjects()) {
      if (!before.contains(o)) mine_.insert(o);
    }
    // One segment and one semaphore set, or one /dev/shm name.
    ASSERT_EQ(mine_.size(), GetParam() == "sysv_shm" ? 2u : 1u);
  }
  void TearDown() override {
    if (ch_ != nullptr) {
      absl::Status s = ch_->Destroy();
      EXPECT_TRUE(s.ok()) << s;
    }
    const std::set<std::string> after = IpcObjects();
    for (const std::string& o : mine_) EXPECT_FALSE(after.contains(o)) << o << " left behind";
    ScratchDirTest::TearDown();
  }
  std::unique_ptr<End> Open(Role role) {
    auto end = ch_->Open(role);
    EXPECT_TRUE(end.ok()) << end.status();
    return end.ok() ? *std::move(end) : nullptr;
  }
  // In a child: opens a writer, detaches, says so (WaitWritersOpened), runs
  // fn(writer); closes on return.
  Child StartWriter(const std::function<int(End&)>& fn) {
    return Child::Start([this, fn] {
      auto end = ch_->Open(Role::kWriter);
      if (!end.ok()) return 100;
      ch_->Detach();
      writer_opened_.Open();
      return fn(**end);
    });
  }
  // As in ipcspec's cases, every writer opens before the traffic that
  // matters: "all writers closed" is about the writers that opened.
  bool WaitWritersOpened(int n) {
    for (int i = 0; i < n; ++i) {
      if (!writer_opened_.Wait(kLong)) return false;
    }
    return true;
  }

  std::unique_ptr<Channel> ch_;
  ::ipcspec::testing::Gate writer_opened_;
  std::set<std::string> mine_;
};

TEST_P(ShmRingTest, CapabilitiesAreTheRingsOwn) {
  const Capabilities& caps = Find(GetParam()).caps();
  EXPECT_EQ(caps.framing, Framing::kMessage);
  EXPECT_EQ(caps.direction, Direction::kOneWay);
  EXPECT_TRUE(caps.reliable && caps.ordered && caps.multi_writer && caps.peer_close);
  EXPECT_TRUE(caps.named);
  EXPECT_EQ(caps.model, ModelClass::kFifoQueue);
  EXPECT_EQ(caps.max_message, kMax);
  EXPECT_EQ(caps.capacity, kRing);
  EXPECT_EQ(caps.atomic_write, kMax);
  EXPECT_EQ(caps.max_queued, kMaxQueued);
  EXPECT_EQ(caps.Contradiction(), "");
}

TEST_P(ShmRingTest, EveryAwkwardSizeAfterEveryPrefixArrivesExactThenEnd) {
  const std::vector<size_t> prefixes = {0, 1, 2, 3, 5, 7, 8, 9, 4095, kRing - 1};
  const std::vector<size_t> sizes = {0, 1, kRing - 1, kRing, kRing + 1, 3 * kRing + 7};
  std::vector<size_t> all;
  for (size_t p : prefixes) {
    all.push_back(p);
    all.insert(all.end(), sizes.begin(), sizes.end());
  }
  all.push_back(kMax);
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  Child w = StartWriter([&](End& end) {
    for (size_t i = 0; i < all.size(); ++i) {
      size_t sent = 0;
      if (end.Send(Pattern(all[i], static_cast<uint32_t>(i)), &sent, kTimeoutMs) != 0) return 1;
      if (sent != all[i]) return 2;
    }
    return 0;
  });
  ch_->Detach();
  std::vector<std::byte> buf(kMax);
  for (size_t i = 0; i < all.size(); ++i) {
    size_t n = 99;
    ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0) << "message " << i;
    ASSERT_EQ(n, all[i]) << "message " << i;
    ASSERT_TRUE(SameBytes(std::span(buf).first(n), Pattern(n, static_cast<uint32_t>(i))))
        << "message " << i << " of " << n << " bytes";
  }
  size_t n = 0;
  EXPECT_EQ(r->Recv(buf, &n, kTimeoutMs), kEnd);
  EXPECT_EQ(w.Wait(kLong), 0);
}

TEST_P(ShmRingTest, WrapAroundAtEveryOffsetInOneProcess) {
  auto r = Open(Role::kReader);
  auto w = Open(Role::kWriter);
  ASSERT_TRUE(r && w);
  std::vector<std::byte> buf(kRing);
  size_t sent = 0, n = 0;
  // 5-byte messages make 13-byte records; 13 is prime to the ring's 73728
  // bytes, so records start at every offset, headers and bodies split at
  // every position.
  static_assert(kRingBytes % 13 != 0);
  for (uint32_t i = 0; i < kRingBytes; ++i) {
    const std::vector<std::byte> m = Pattern(5, i);
    ASSERT_EQ(w->Send(m, &sent, 0), 0) << i;
    ASSERT_EQ(r->Recv(buf, &n, 0), 0) << i;
    ASSERT_TRUE(SameBytes(std::span(buf).first(n), m)) << i;
  }
  // Larger messages, up to the whole ring, after a prefix of every size up
  // to a header and a bit.
  const std::vector<size_t> sizes = {0, 1, 2, 7, 8, 9, 100, 4096, kRing / 2, kRing - 1, kRing};
  uint32_t seed = 0;
  for (size_t prefix = 0; prefix < 24; ++prefix) {
    for (size_t size : sizes) {
      for (size_t len : {prefix, size}) {
        const std::vector<std::byte> m = Pattern(len, ++seed);
        ASSERT_EQ(w->Send(m, &sent, 0), 0) << len;
        ASSERT_EQ(r->Recv(buf, &n, 0), 0) << len;
        ASSERT_TRUE(SameBytes(std::span(buf).first(n), m)) << len << " after " << prefix;
      }
    }
  }
}

TEST_P(ShmRingTest, NonblockingSendIsAllOrNothingAtCapacityOrMaxQueued) {
  auto r = Open(Role::kReader);
  auto w = Open(Role::kWriter);
  ASSERT_TRUE(r && w);
  size_t sent = 0, n = 0;
  ASSERT_EQ(w->Send(Pattern(kRing, 1), &sent, 0), 0) << "one message of the capacity fits";
  EXPECT_EQ(w->Send(Bytes("x"), &sent, 0), -EAGAIN) << "and fills the bytes";
  ASSERT_EQ(w->Send({}, &sent, 0), 0) << "an empty message takes no bytes";
  std::vector<std::byte> buf(kMax);
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_TRUE(SameBytes(std::span(buf).first(n), Pattern(kRing, 1)));
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_EQ(n, 0u);
  size_t empties = 0;
  while (w->Send({}, &sent, 0) == 0) ++empties;
  EXPECT_EQ(empties, kMaxQueued) << "bounded by count";
  for (size_t i = 0; i < empties; ++i) ASSERT_EQ(r->Recv(buf, &n, 0), 0) << i;
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
  EXPECT_EQ(w->Send(Pattern(kRing + 1, 2), &sent, 0), -EAGAIN) << "never fits at once";
  int count = 0;
  while (w->Send(Pattern(1000, count), &sent, 0) == 0) ++count;
  EXPECT_EQ(count, 65) << "65000 of 65536 bytes";
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(r->Recv(buf, &n, 0), 0);
    ASSERT_TRUE(SameBytes(std::span(buf).first(n), Pattern(1000, i))) << i;
  }
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
}

TEST_P(ShmRingTest, SeveralWritersNeverInterleave) {
  constexpr uint32_t kWriters = 3;
  const std::vector<size_t> sizes = {8, 100, kRing - 1, kRing, kRing + 1, 3 * kRing + 7, 9};
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  Gate go;
  std::vector<Child> writers;
  for (uint32_t k = 0; k < kWriters; ++k) {
    writers.push_back(StartWriter([&, k](End& end) {
      if (!go.Wait(kLong)) return 1;
      for (uint32_t round = 0, seq = 0; round < 3; ++round) {
        for (size_t size : sizes) {
          size_t sent = 0;
          if (end.Send(Tagged(size, k, seq++), &sent, kTimeoutMs) != 0) return 2;
        }
      }
      return 0;
    }));
  }
  ch_->Detach();
  ASSERT_TRUE(WaitWritersOpened(kWriters));
  for (uint32_t k = 0; k < kWriters; ++k) go.Open();
  std::vector<uint32_t> next(kWriters, 0);
  std::vector<std::byte> buf(kMax);
  for (size_t i = 0; i < kWriters * 3 * sizes.size(); ++i) {
    size_t n = 0;
    ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0) << "message " << i;
    ASSERT_GE(n, 8u);
    uint32_t k, seq;
    std::memcpy(&k, buf.data(), 4);
    std::memcpy(&seq, buf.data() + 4, 4);
    ASSERT_LT(k, kWriters);
    ASSERT_EQ(seq, next[k]) << "writer " << k << " out of order";
    ASSERT_EQ(n, sizes[seq % sizes.size()]);
    ASSERT_TRUE(SameBytes(std::span(buf).first(n), Tagged(n, k, seq)))
        << "writer " << k << " message " << seq << " interleaved or torn";
    ++next[k];
  }
  size_t n = 0;
  EXPECT_EQ(r->Recv(buf, &n, kTimeoutMs), kEnd);
  for (Child& c : writers) EXPECT_EQ(c.Wait(kLong), 0);
}

TEST_P(ShmRingTest, EndOnlyAfterEveryWriterClosedWhileTheyLive) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  // As in ipcspec's cases: every writer opens before any traffic.
  Gate opened, go, closed[2], exit_now;
  std::vector<Child> writers;
  for (int k = 0; k < 2; ++k) {
    writers.push_back(Child::Start([&, k] {
      auto end = ch_->Open(Role::kWriter);
      if (!end.ok()) return 100;
      ch_->Detach();
      opened.Open();
      if (!go.Wait(kLong)) return 3;
      size_t sent = 0;
      if ((*end)->Send(Pattern(10, k), &sent, kTimeoutMs) != 0) return 1;
      end->reset();
      closed[k].Open();
      return exit_now.Wait(kLong) ? 0 : 2;  // alive until the reader saw the end
    }));
  }
  ch_->Detach();
  ASSERT_TRUE(opened.Wait(kLong) && opened.Wait(kLong));
  go.Open();
  go.Open();
  ASSERT_TRUE(closed[0].Wait(kLong));
  std::vector<std::byte> buf(kMax);
  size_t n = 0;
  ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0);
  ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0) << "both messages";
  ASSERT_TRUE(closed[1].Wait(kLong));
  EXPECT_EQ(r->Recv(buf, &n, kTimeoutMs), kEnd) << "both writers closed, both alive";
  EXPECT_EQ(r->Recv(buf, &n, 0), kEnd) << "and it stays";
  exit_now.Open();
  exit_now.Open();
  for (Child& c : writers) EXPECT_EQ(c.Wait(kLong), 0);
}

TEST_P(ShmRingTest, NoEndWhileOneWriterIsOpen) {
  auto r = Open(Role::kReader);
  auto w1 = Open(Role::kWriter);
  auto w2 = Open(Role::kWriter);
  ASSERT_TRUE(r && w1 && w2);
  size_t sent = 0, n = 0;
  ASSERT_EQ(w1->Send(Bytes("a"), &sent, 0), 0);
  w1.reset();
  std::vector<std::byte> buf(16);
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN) << "w2 is still open";
  w2.reset();
  EXPECT_EQ(r->Recv(buf, &n, 0), kEnd);
}

TEST_P(ShmRingTest, ClosingTheLastWriterWakesEveryBlockedReader) {
  auto w = Open(Role::kWriter);
  ASSERT_NE(w, nullptr);
  std::vector<Child> readers;
  for (int k = 0; k < 2; ++k) {
    readers.push_back(Child::Start([&] {
      auto end = ch_->Open(Role::kReader);
      if (!end.ok()) return 100;
      ch_->Detach();
      std::vector<std::byte> buf(16);
      size_t n = 0;
      return (*end)->Recv(buf, &n, kTimeoutMs) == kEnd ? 0 : 1;
    }));
  }
  ch_->Detach();
  for (Child& c : readers) {
    ASSERT_TRUE(WaitUntilBlockedIn(c.pid(), {SYS_semtimedop, SYS_futex, SYS_futex_waitv}, kLong));
  }
  const absl::Time start = absl::Now();
  w.reset();
  for (Child& c : readers) EXPECT_EQ(c.Wait(kLong), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_P(ShmRingTest, ReaderCloseGivesEpipeToAWriterBlockedOnAFullRing) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  Child w = StartWriter([](End& end) {
    size_t sent = 0;
    return end.Send(Pattern(3 * kRing + 7, 1), &sent, kTimeoutMs) == -EPIPE && sent == 0 ? 0 : 1;
  });
  ch_->Detach();
  ASSERT_TRUE(WaitUntilBlockedIn(w.pid(), {SYS_semtimedop, SYS_futex, SYS_futex_waitv}, kLong));
  const absl::Time start = absl::Now();
  r.reset();
  EXPECT_EQ(w.Wait(kLong), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "woken, not timed out";
  auto w2 = Open(Role::kWriter);
  ASSERT_NE(w2, nullptr);
  size_t sent = 0;
  EXPECT_EQ(w2->Send(Bytes("x"), &sent, 0), -EPIPE) << "after the reader closed";
}

TEST_P(ShmRingTest, TimeoutsOnEmptyAndFullAndAHalfSentMessageIsDropped) {
  auto r = Open(Role::kReader);
  auto w = Open(Role::kWriter);
  ASSERT_TRUE(r && w);
  std::vector<std::byte> buf(kMax);
  size_t n = 0, sent = 0;
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
  absl::Time start = absl::Now();
  EXPECT_EQ(r->Recv(buf, &n, 150), -ETIMEDOUT);
  absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(150));
  EXPECT_LT(took, absl::Milliseconds(2150));
  // A message larger than the ring fills it, then times out half sent.
  start = absl::Now();
  EXPECT_EQ(w->Send(Pattern(3 * kRing + 7, 1), &sent, 150), -ETIMEDOUT);
  took = absl::Now() - start;
  EXPECT_EQ(sent, 0u);
  EXPECT_GE(took, absl::Milliseconds(150));
  EXPECT_LT(took, absl::Milliseconds(2150));
  EXPECT_EQ(w->Send(Bytes("x"), &sent, 0), -EAGAIN) << "the ring is full";
  EXPECT_EQ(w->Send(Bytes("x"), &sent, 120), -ETIMEDOUT);
  EXPECT_EQ(r->Recv(buf, &n, 100), -ETIMEDOUT) << "the half-sent message is not delivered";
  ASSERT_EQ(w->Send(Pattern(77, 2), &sent, 0), 0);
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_TRUE(SameBytes(std::span(buf).first(n), Pattern(77, 2))) << "not the abandoned one";
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
}

TEST_P(ShmRingTest, ReaderTimingOutHalfWayKeepsThePieces) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  const std::vector<std::byte> big = Pattern(3 * kRing + 7, 5);
  // The writer is stopped (SIGSTOP) half way through, blocked on the ring.
  Child w = StartWriter([&](End& end) {
    size_t sent = 0;
    return end.Send(big, &sent, kTimeoutMs) == 0 ? 0 : 1;
  });
  ch_->Detach();
  ASSERT_TRUE(WaitUntilBlockedIn(w.pid(), {SYS_semtimedop, SYS_futex, SYS_futex_waitv}, kLong));
  ASSERT_EQ(::kill(w.pid(), SIGSTOP), 0);
  ASSERT_TRUE(WaitUntilStopped(w.pid(), kLong));
  std::vector<std::byte> buf(kMax);
  size_t n = 0;
  EXPECT_EQ(r->Recv(buf, &n, 100), -ETIMEDOUT) << "half a message is not a message";
  std::vector<std::byte> small(kRing);
  EXPECT_EQ(r->Recv(small, &n, 0), -EMSGSIZE) << "the message being assembled is too big";
  ASSERT_EQ(::kill(w.pid(), SIGCONT), 0);
  ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0);
  EXPECT_TRUE(SameBytes(std::span(buf).first(n), big));
  EXPECT_EQ(r->Recv(buf, &n, kTimeoutMs), kEnd);
  EXPECT_EQ(w.Wait(kLong), 0);
}

TEST_P(ShmRingTest, ShortBufferGivesEmsgsizeAndTheMessageStays) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  Child w = StartWriter([](End& end) {
    size_t sent = 0;
    if (end.Send(Pattern(3 * kRing + 7, 1), &sent, kTimeoutMs) != 0) return 1;
    return end.Send(Pattern(kMax + 1, 2), &sent, kTimeoutMs) == -EMSGSIZE ? 0 : 2;
  });
  ch_->Detach();
  std::vector<std::byte> small(kRing), buf(kMax);
  size_t n = 0;
  EXPECT_EQ(r->Recv(small, &n, kTimeoutMs), -EMSGSIZE) << "known from the first piece";
  EXPECT_EQ(r->Recv(small, &n, 0), -EMSGSIZE);
  ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0);
  EXPECT_TRUE(SameBytes(std::span(buf).first(n), Pattern(3 * kRing + 7, 1)));
  EXPECT_EQ(r->Recv(buf, &n, kTimeoutMs), kEnd) << "the oversize send queued nothing";
  EXPECT_EQ(w.Wait(kLong), 0);
}

TEST_P(ShmRingTest, WrongDirectionIsEbadfAndLeavesDataAlone) {
  auto r = Open(Role::kReader);
  auto w = Open(Role::kWriter);
  ASSERT_TRUE(r && w);
  size_t sent = 0, n = 0;
  ASSERT_EQ(w->Send(Bytes("abc"), &sent, 0), 0);
  EXPECT_EQ(r->Send(Bytes("zz"), &sent, 0), -EBADF);
  std::vector<std::byte> buf(16);
  EXPECT_EQ(w->Recv(buf, &n, 0), -EBADF);
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_TRUE(SameBytes(std::span(buf).first(n), Bytes("abc")));
}

// The writer dies with part of a big message in the ring and part already
// taken into the reader's reassembly: the reader gets end of stream (the
// killed writer is a zombie, not yet reaped), never the torn message.
TEST_P(ShmRingTest, WriterKilledMidMessageGivesEndNeverATornMessage) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  Child w = StartWriter([](End& end) {
    size_t sent = 0;
    if (end.Send(Pattern(100, 1), &sent, kTimeoutMs) != 0) return 1;
    end.Send(Pattern(3 * kRing + 7, 2), &sent, -1);
    return 2;
  });
  ch_->Detach();
  std::vector<std::byte> buf(kMax);
  size_t n = 0;
  ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0);
  ASSERT_TRUE(SameBytes(std::span(buf).first(n), Pattern(100, 1)));
  ASSERT_TRUE(WaitUntilBlockedIn(w.pid(), {SYS_semtimedop, SYS_futex, SYS_futex_waitv}, kLong));
  ASSERT_EQ(::kill(w.pid(), SIGSTOP), 0);
  ASSERT_TRUE(WaitUntilStopped(w.pid(), kLong));
  EXPECT_EQ(r->Recv(buf, &n, 100), -ETIMEDOUT);
  ASSERT_EQ(::kill(w.pid(), SIGKILL), 0);
  const absl::Time start = absl::Now();
  const int got = r->Recv(buf, &n, kTimeoutMs);
  EXPECT_EQ(got, kEnd) << "received " << n << " bytes";
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(w.Wait(kLong), -SIGKILL);
}

// The writer dies holding the writer lock with its half message in the
// ring; another writer then gets the lock (SEM_UNDO / robust mutex) and its
// messages arrive whole.
TEST_P(ShmRingTest, WriterKilledHoldingTheLockLetsTheNextWriterOn) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  Gate go;
  Child a = StartWriter([](End& end) {
    size_t sent = 0;
    end.Send(Pattern(3 * kRing + 7, 1), &sent, -1);
    return 2;
  });
  Child b = StartWriter([&](End& end) {
    if (!go.Wait(kLong)) return 1;
    size_t sent = 0;
    if (end.Send(Pattern(5000, 3), &sent, kTimeoutMs) != 0) return 2;
    return end.Send(Pattern(2 * kRing + 1, 4), &sent, kTimeoutMs) == 0 ? 0 : 3;
  });
  ch_->Detach();
  ASSERT_TRUE(WaitWritersOpened(2));
  ASSERT_TRUE(WaitUntilBlockedIn(a.pid(), {SYS_semtimedop, SYS_futex, SYS_futex_waitv}, kLong));
  ASSERT_EQ(::kill(a.pid(), SIGKILL), 0);
  EXPECT_EQ(a.Wait(kLong), -SIGKILL);
  go.Open();
  std::vector<std::byte> buf(kMax);
  size_t n = 0;
  ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0);
  EXPECT_TRUE(SameBytes(std::span(buf).first(n), Pattern(5000, 3))) << n << " bytes";
  ASSERT_EQ(r->Recv(buf, &n, kTimeoutMs), 0);
  EXPECT_TRUE(SameBytes(std::span(buf).first(n), Pattern(2 * kRing + 1, 4))) << n << " bytes";
  EXPECT_EQ(r->Recv(buf, &n, kTimeoutMs), kEnd);
  EXPECT_EQ(b.Wait(kLong), 0);
}

TEST_P(ShmRingTest, DestroyRemovesEverything) {
  auto r = Open(Role::kReader);
  auto w = Open(Role::kWriter);
  ASSERT_TRUE(r && w);
  ch_->Detach();
  const std::set<std::string> now = IpcObjects();
  for (const std::string& o : mine_) EXPECT_TRUE(now.contains(o)) << o;
  r.reset();
  w.reset();
  ASSERT_TRUE(ch_->Destroy().ok());
  ch_.reset();
  const std::set<std::string> after = IpcObjects();
  for (const std::string& o : mine_) EXPECT_FALSE(after.contains(o)) << o;
}

INSTANTIATE_TEST_SUITE_P(Shm, ShmRingTest, ::testing::Values("sysv_shm", "posix_shm"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ipcspec
