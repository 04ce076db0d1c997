// The shared-memory ring transports (sysv_shm, posix_shm), each test run on
// both, the peers: end of stream only after every writer closed (the writers
// still alive), waking every blocked reader; EPIPE to a writer blocked on a
// full ring when the reader closes or dies; a reader that times out half way
// through a message keeps the pieces; a writer SIGKILLed in the middle of a
// message larger than the ring gives end of stream, never a torn message,
// and one killed holding the writer lock lets the next writer on. A death
// wakes the blocked peer by itself (nothing polls): every wait here is
// bounded far above what a wake-up takes, so a lost one fails the test.
#include "tests/transport_shm_ring_util.h"

namespace ipcspec::testing {
namespace {

class ShmRingPeerTest : public ShmRingTest {};

TEST_P(ShmRingPeerTest, EndOnlyAfterEveryWriterClosedWhileTheyLive) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  // As in ipcspec's cases: every writer opens before any traffic.
  Gate opened, go, closed[2], exit_now;
  std::vector<Child> writers;
  for (int k = 0; k < 2; ++k) {
    writers.push_back(StartEnd(*ch_, Role::kWriter, [&, k](std::unique_ptr<End>& end) {
      opened.Open();
      if (!go.Wait(kLong)) return 3;
      size_t sent = 0;
      if (end->Send(Pattern(10, k), &sent, kTimeoutMs) != 0) return 1;
      end.reset();
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

TEST_P(ShmRingPeerTest, NoEndWhileOneWriterIsOpen) {
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

TEST_P(ShmRingPeerTest, ClosingTheLastWriterWakesEveryBlockedReader) {
  auto w = Open(Role::kWriter);
  ASSERT_NE(w, nullptr);
  std::vector<Child> readers;
  for (int k = 0; k < 2; ++k) {
    readers.push_back(StartEnd(*ch_, Role::kReader, [&](std::unique_ptr<End>& end) {
      std::vector<std::byte> buf(16);
      size_t n = 0;
      return end->Recv(buf, &n, kTimeoutMs) == kEnd ? 0 : 1;
    }));
  }
  ch_->Detach();
  for (Child& c : readers) {
    ASSERT_TRUE(WaitUntilBlockedIn(c.pid(), kRingWaits, kLong));
  }
  const absl::Time start = absl::Now();
  w.reset();
  for (Child& c : readers) EXPECT_EQ(c.Wait(kLong), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_P(ShmRingPeerTest, ReaderCloseGivesEpipeToAWriterBlockedOnAFullRing) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  Child w = StartWriter([](End& end) {
    size_t sent = 0;
    return end.Send(Pattern(3 * kRing + 7, 1), &sent, kTimeoutMs) == -EPIPE && sent == 0 ? 0 : 1;
  });
  ch_->Detach();
  ASSERT_TRUE(WaitUntilBlockedIn(w.pid(), kRingWaits, kLong));
  const absl::Time start = absl::Now();
  r.reset();
  EXPECT_EQ(w.Wait(kLong), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "woken, not timed out";
  auto w2 = Open(Role::kWriter);
  ASSERT_NE(w2, nullptr);
  size_t sent = 0;
  EXPECT_EQ(w2->Send(Bytes("x"), &sent, 0), -EPIPE) << "after the reader closed";
}

// The reader's process is SIGKILLed while a writer is blocked on the full
// ring: the writer wakes (the kernel posts for the dead) with EPIPE.
TEST_P(ShmRingPeerTest, ReaderKilledGivesEpipeToAWriterBlockedOnAFullRing) {
  auto w = Open(Role::kWriter);
  ASSERT_NE(w, nullptr);
  Gate opened;
  Child reader = StartEnd(*ch_, Role::kReader, [&](std::unique_ptr<End>&) {
    opened.Open();
    // Dies without closing, once the writer sleeps on the full ring.
    if (!WaitUntilBlockedIn(::getppid(), kRingWaits, kLong)) return 1;
    ::raise(SIGKILL);
    return 2;
  });
  ch_->Detach();
  ASSERT_TRUE(opened.Wait(kLong));
  size_t sent = 0;
  const absl::Time start = absl::Now();
  EXPECT_EQ(w->Send(Pattern(3 * kRing + 7, 1), &sent, kTimeoutMs), -EPIPE);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "woken by the death, not by a clock";
  EXPECT_EQ(reader.Wait(kLong), -SIGKILL);
}

TEST_P(ShmRingPeerTest, ReaderTimingOutHalfWayKeepsThePieces) {
  auto r = Open(Role::kReader);
  ASSERT_NE(r, nullptr);
  const std::vector<std::byte> big = Pattern(3 * kRing + 7, 5);
  // The writer is stopped (SIGSTOP) half way through, blocked on the ring.
  Child w = StartWriter([&](End& end) {
    size_t sent = 0;
    return end.Send(big, &sent, kTimeoutMs) == 0 ? 0 : 1;
  });
  ch_->Detach();
  ASSERT_TRUE(WaitUntilBlockedIn(w.pid(), kRingWaits, kLong));
  ASSERT_EQ(::kill(w.pid(), SIGSTOP), 0);
  ASSERT_TRUE(w.WaitStopped());
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

// The writer dies with part of a big message in the ring and part already
// taken into the reader's reassembly: the reader gets end of stream (the
// killed writer is a zombie, not yet reaped), never the torn message.
TEST_P(ShmRingPeerTest, WriterKilledMidMessageGivesEndNeverATornMessage) {
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
  ASSERT_TRUE(WaitUntilBlockedIn(w.pid(), kRingWaits, kLong));
  ASSERT_EQ(::kill(w.pid(), SIGSTOP), 0);
  ASSERT_TRUE(w.WaitStopped());
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
TEST_P(ShmRingPeerTest, WriterKilledHoldingTheLockLetsTheNextWriterOn) {
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
  ASSERT_TRUE(WaitUntilBlockedIn(a.pid(), kRingWaits, kLong));
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

INSTANTIATE_TEST_SUITE_P(Shm, ShmRingPeerTest, ::testing::ValuesIn(ShmRingTransports()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ShmRingPeerTest);

}  // namespace
}  // namespace ipcspec::testing
