// The eventfd transport (a counter: sends sum, a receive takes and resets)
// and the signal transport (RT signals as 7-byte messages with peer close),
// with forked writers and readers.
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstring>

#include "tests/transport_test_util.h"

namespace ipcspec::testing {
namespace {

std::vector<std::byte> Value(uint64_t v) {
  std::vector<std::byte> out(8);
  std::memcpy(out.data(), &v, 8);
  return out;
}

uint64_t AsValue(std::span<const std::byte> b) {
  uint64_t v = 0;
  std::memcpy(&v, b.data(), 8);
  return v;
}

class TransportTest : public ScratchDirTest {
 protected:
  static std::unique_ptr<End> Open(Channel& ch, Role role) {
    auto end = ch.Open(role);
    EXPECT_TRUE(end.ok()) << end.status();
    return end.ok() ? *std::move(end) : nullptr;
  }
  // Both Ends of `ch`, opened in this process, which then drops its hold on
  // the channel (Detach) as the participants do.
  struct Ends {
    std::unique_ptr<End> reader, writer;
  };
  static Ends OpenBothThenDetach(Channel& ch) {
    Ends ends = {Open(ch, Role::kReader), Open(ch, Role::kWriter)};
    ch.Detach();
    return ends;
  }
};

using EventfdTest = TransportTest;

TEST_F(EventfdTest, ForkedWritersSumIntoTheCounter) {
  constexpr uint64_t kWriters = 4, kValues = 500;
  Channel* ch = CreateChannel("eventfd");
  ASSERT_NE(ch, nullptr);
  std::vector<Child> writers;
  for (uint64_t i = 0; i < kWriters; ++i) {
    writers.push_back(StartEnd(*ch, Role::kWriter, [&, i](std::unique_ptr<End>& end) {
      for (uint64_t v = 1; v <= kValues; ++v) {
        size_t sent = 0;
        if (end->Send(Value(v * (i + 1)), &sent, 10000) != 0 || sent != 8) return 11;
      }
      return 0;
    }));
  }
  auto r = Open(*ch, Role::kReader);
  ASSERT_NE(r, nullptr);
  ch->Detach();
  const uint64_t want = kValues * (kValues + 1) / 2 * (kWriters * (kWriters + 1) / 2);
  uint64_t total = 0;
  std::vector<std::byte> buf(8);
  while (total < want) {
    size_t n = 0;
    ASSERT_EQ(r->Recv(buf, &n, 10000), 0) << "total so far " << total << " of " << want;
    ASSERT_EQ(n, 8u);
    ASSERT_GT(AsValue(buf), 0u) << "a read returns the counter only once it is non-zero";
    total += AsValue(buf);
  }
  EXPECT_EQ(total, want);
  for (Child& w : writers) EXPECT_EQ(w.Wait(kLong), 0);
  size_t n = 0;
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN) << "the counter was reset";
}

TEST_F(EventfdTest, ReceiveTakesTheSumAndResetsBothWays) {
  Channel* ch = CreateChannel("eventfd");
  ASSERT_NE(ch, nullptr);
  auto [a, b] = OpenBothThenDetach(*ch);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(ch->Open(Role::kReader).ok()) << "anonymous: no open after detach";
  size_t sent = 0, n = 0;
  std::vector<std::byte> buf(16);  // larger than 8 is fine
  ASSERT_EQ(b->Send(Value(5), &sent, 0), 0);
  ASSERT_EQ(b->Send(Value(7), &sent, 0), 0);
  ASSERT_EQ(a->Recv(buf, &n, 0), 0);
  EXPECT_EQ(n, 8u);
  EXPECT_EQ(AsValue(buf), 12u);
  EXPECT_EQ(a->Recv(buf, &n, 0), -EAGAIN);
  // Duplex: the reader End sends and the writer End receives.
  ASSERT_EQ(a->Send(Value(3), &sent, 0), 0);
  ASSERT_EQ(b->Recv(buf, &n, 1000), 0);
  EXPECT_EQ(AsValue(buf), 3u);
}

TEST_F(EventfdTest, LengthsAndValuesAreTheKernelsBusiness) {
  Channel* ch = CreateChannel("eventfd");
  ASSERT_NE(ch, nullptr);
  auto e = Open(*ch, Role::kWriter);
  ASSERT_NE(e, nullptr);
  size_t sent = 0, n = 0;
  EXPECT_EQ(e->Send(Bytes("four"), &sent, 0), -EINVAL);
  EXPECT_EQ(e->Send({}, &sent, 0), -EINVAL);
  EXPECT_EQ(e->Send(Bytes("nine bytes"), &sent, 0), -EMSGSIZE) << "over max_message";
  EXPECT_EQ(e->Send(Value(~uint64_t{0}), &sent, 0), -EINVAL);
  ASSERT_EQ(e->Send(Value(1), &sent, 0), 0);
  std::vector<std::byte> small(4), buf(8);
  EXPECT_EQ(e->Recv(small, &n, 0), -EINVAL);
  ASSERT_EQ(e->Recv(buf, &n, 0), 0) << "the short read took nothing";
  EXPECT_EQ(AsValue(buf), 1u);
  const absl::Time start = absl::Now();
  EXPECT_EQ(e->Recv(buf, &n, 120), -ETIMEDOUT);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(120));
  e.reset();
  ch->Detach();
}

// A value that does not fit below the counter's maximum waits for a receive
// to empty the counter, without spinning (poll() says writable all along):
// with a timeout it gives ETIMEDOUT, and without one the receive lets it in.
TEST_F(EventfdTest, ValueThatDoesNotFitWaitsForAReceive) {
  Channel* ch = CreateChannel("eventfd");
  ASSERT_NE(ch, nullptr);
  const uint64_t kAlmostFull = ~uint64_t{0} - 10;
  Gate bounded_done;
  Child writer = StartEnd(*ch, Role::kWriter, [&](std::unique_ptr<End>& end) {
    size_t sent = 0;
    if (end->Send(Value(kAlmostFull), &sent, 0) != 0) return 11;
    if (end->Send(Value(100), &sent, 0) != -EAGAIN) return 12;
    if (end->Send(Value(100), &sent, 50) != -ETIMEDOUT) return 13;
    bounded_done.Open();
    if (end->Send(Value(100), &sent, -1) != 0 || sent != 8) return 14;
    return 0;
  });
  auto r = Open(*ch, Role::kReader);
  ASSERT_NE(r, nullptr);
  ch->Detach();
  ASSERT_TRUE(bounded_done.Wait(kLong)) << "exit code " << writer.Wait(kLong);
  ASSERT_TRUE(
      WaitUntilBlockedIn(writer.pid(), {SYS_epoll_wait, SYS_epoll_pwait}, Deadline::After(kLong)))
      << "the unbounded send waits in epoll_wait";
  std::vector<std::byte> buf(8);
  size_t n = 0;
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_EQ(AsValue(buf), kAlmostFull);
  EXPECT_EQ(writer.Wait(kLong), 0);
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_EQ(AsValue(buf), 100u);
}

using SignalTest = TransportTest;

std::vector<std::byte> Msg(uint32_t writer, uint32_t seq) {
  const size_t len = seq % 8;  // 0..7 bytes
  std::vector<std::byte> m(len);
  for (size_t i = 0; i < len; ++i) m[i] = std::byte((writer * 31 + seq * 7 + i) & 0xff);
  if (len >= 2) {
    m[0] = std::byte(writer);
    m[1] = std::byte(seq & 0xff);
  }
  return m;
}

TEST_F(SignalTest, EndOnlyAfterEveryWriterClosedAndAllIsDrained) {
  constexpr uint32_t kWriters = 3, kMessages = 300;
  Channel* ch = CreateChannel("signal");
  ASSERT_NE(ch, nullptr);
  std::vector<Gate> opened(kWriters), may_close(kWriters);
  std::vector<ClosingPeer> writers = StartClosingWriters(*ch, kWriters, [&](int i, End& end) {
    opened[i].Open();
    for (uint32_t s = 0; s < kMessages; ++s) {
      size_t sent = 0;
      if (end.Send(Msg(static_cast<uint32_t>(i), s), &sent, 10000) != 0) return 11;
    }
    return may_close[i].Wait(kLong) ? 0 : 13;
  });
  auto r = Open(*ch, Role::kReader);
  ASSERT_NE(r, nullptr);
  ch->Detach();
  // As ipcspec's properties do: every participant opens, then traffic. Then
  // every writer but the last may close at once: their ends sit in the queue
  // behind their data.
  for (Gate& g : opened) ASSERT_TRUE(g.Wait(kLong));
  for (uint32_t i = 0; i + 1 < kWriters; ++i) may_close[i].Open();
  std::vector<uint32_t> next(kWriters, 0);
  std::vector<std::byte> buf(7);
  size_t n = 0;
  // Messages of 0 and 1 bytes carry no writer tag: count them per length.
  for (uint32_t k = 0; k < kWriters * kMessages; ++k) {
    ASSERT_EQ(r->Recv(buf, &n, 10000), 0) << "after " << k << " messages";
    ASSERT_LE(n, 7u);
    if (n >= 2) {
      const uint32_t w = static_cast<uint32_t>(buf[0]);
      ASSERT_LT(w, kWriters);
      while (next[w] % 8 < 2) ++next[w];
      ASSERT_EQ(static_cast<uint32_t>(buf[1]), next[w] & 0xff) << "writer " << w;
      std::vector<std::byte> got(buf.begin(), buf.begin() + static_cast<long>(n));
      ASSERT_EQ(got, Msg(w, next[w])) << "writer " << w;
      ++next[w];
    }
  }
  for (uint32_t i = 0; i + 1 < kWriters; ++i) ASSERT_TRUE(writers[i].WaitClosed());
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN) << "one writer still has its end open";
  EXPECT_EQ(r->Recv(buf, &n, 50), -ETIMEDOUT);
  may_close[kWriters - 1].Open();
  ASSERT_TRUE(writers[kWriters - 1].WaitClosed());
  EXPECT_EQ(r->Recv(buf, &n, 10000), kEnd);
  EXPECT_EQ(r->Recv(buf, &n, 0), kEnd);
  for (ClosingPeer& w : writers) EXPECT_EQ(w.Release(), 0);
}

TEST_F(SignalTest, WriterGetsEpipeAfterTheReaderClosed) {
  Channel* ch = CreateChannel("signal");
  ASSERT_NE(ch, nullptr);
  Gate may_close;
  // Its close takes the unread message, so that cannot kill it later.
  ClosingPeer reader(*ch, Role::kReader, [&](End&) { return may_close.Wait(kLong) ? 0 : 11; });
  auto w = Open(*ch, Role::kWriter);  // waits for the reader's pid
  ASSERT_NE(w, nullptr);
  ch->Detach();
  size_t sent = 0;
  EXPECT_EQ(w->Send(Bytes("unread"), &sent, 1000), 0);
  may_close.Open();
  ASSERT_TRUE(reader.WaitClosed());
  EXPECT_EQ(w->Send(Bytes("late"), &sent, 1000), -EPIPE);
  EXPECT_EQ(w->Send(Bytes("late"), &sent, -1), -EPIPE);
  EXPECT_EQ(reader.Release(), 0) << "a signal killed the reader after its close?";
}

TEST_F(SignalTest, BoundariesDirectionAndTimeouts) {
  Channel* ch = CreateChannel("signal");
  ASSERT_NE(ch, nullptr);
  auto r = Open(*ch, Role::kReader);
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(ch->Open(Role::kReader).ok()) << "one reader per channel and process";
  auto w = Open(*ch, Role::kWriter);
  ASSERT_NE(w, nullptr);
  ch->Detach();
  size_t sent = 0, n = 0;
  std::vector<std::byte> buf(7);
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
  const absl::Time start = absl::Now();
  EXPECT_EQ(r->Recv(buf, &n, 120), -ETIMEDOUT);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(120));
  EXPECT_EQ(w->Send(Bytes("8 bytes!"), &sent, 0), -EMSGSIZE);
  ASSERT_EQ(w->Send(Bytes("seven!!"), &sent, 0), 0);
  ASSERT_EQ(w->Send({}, &sent, 0), 0);
  EXPECT_EQ(r->Send(Bytes("x"), &sent, 0), -EBADF);
  EXPECT_EQ(w->Recv(buf, &n, 0), -EBADF);
  std::vector<std::byte> small(3);
  EXPECT_EQ(r->Recv(small, &n, 0), -EMSGSIZE);
  ASSERT_EQ(r->Recv(buf, &n, 0), 0) << "the message was kept";
  EXPECT_EQ(std::vector<std::byte>(buf.begin(), buf.begin() + static_cast<long>(n)),
            Bytes("seven!!"));
  n = 99;
  ASSERT_EQ(r->Recv(buf, &n, 0), 0) << "a zero-length message is not the end";
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
  w.reset();
  EXPECT_EQ(r->Recv(buf, &n, 1000), kEnd);
}

TEST_F(SignalTest, SignalsFromOutsidersAreSkipped) {
  Channel* ch = CreateChannel("signal");
  ASSERT_NE(ch, nullptr);
  auto r = Open(*ch, Role::kReader);
  ASSERT_NE(r, nullptr);
  const pid_t me = ::getpid();
  // A process that never opened a writer End queues a look-alike message.
  Child outsider = Child::Start([me] {
    union sigval v;
    v.sival_ptr = reinterpret_cast<void*>(uintptr_t{0x4141410003});
    return ::sigqueue(me, SIGRTMIN + 2, v) == 0 ? 0 : 10;
  });
  ASSERT_EQ(outsider.Wait(kLong), 0);
  ASSERT_EQ(::kill(me, SIGRTMIN + 2), 0);  // SI_USER, not SI_QUEUE
  std::vector<std::byte> buf(7);
  size_t n = 0;
  EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
  auto w = Open(*ch, Role::kWriter);
  ASSERT_NE(w, nullptr);
  ch->Detach();
  size_t sent = 0;
  ASSERT_EQ(w->Send(Bytes("ok"), &sent, 0), 0);
  ASSERT_EQ(r->Recv(buf, &n, 1000), 0);
  EXPECT_EQ(std::vector<std::byte>(buf.begin(), buf.begin() + static_cast<long>(n)), Bytes("ok"));
  w.reset();
}

TEST_F(SignalTest, ReaderCloseDrainsPendingSignalsAndRestoresTheMask) {
  const int sig = SIGRTMIN + 2;
  Channel* ch = CreateChannel("signal");
  ASSERT_NE(ch, nullptr);
  auto [r, w] = OpenBothThenDetach(*ch);
  ASSERT_TRUE(r && w);
  sigset_t mask, pending;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
  EXPECT_EQ(sigismember(&mask, sig), 1) << "blocked while the reader is open";
  size_t sent = 0;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(w->Send(Bytes("x"), &sent, 0), 0);
  w.reset();  // queues its end marker too
  r.reset();
  ASSERT_EQ(::sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, sig), 0);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
  EXPECT_EQ(sigismember(&mask, sig), 0) << "unblocked again, as before";
}

TEST_F(SignalTest, FullSignalQueueGivesEagainThenWaitsForRoom) {
  // RLIMIT_SIGPENDING of the receiving process bounds its user's pending
  // signals, counted per user namespace: in a namespace of its own the
  // reader's count is its own, whatever else runs as this user.
  if (Child::Start([] { return ::unshare(CLONE_NEWUSER) == 0 ? 0 : 1; }).Wait(kLong) != 0) {
    GTEST_SKIP() << "unshare(CLONE_NEWUSER) is not permitted here";
  }
  Channel* ch = CreateChannel("signal");
  ASSERT_NE(ch, nullptr);
  constexpr rlim_t kLimit = 8;
  Gate full;
  Child reader = Child::Start([&] {
    if (::unshare(CLONE_NEWUSER) != 0) return 9;
    struct rlimit rl = {kLimit, kLimit};
    if (::setrlimit(RLIMIT_SIGPENDING, &rl) != 0) return 10;
    auto end = ch->Open(Role::kReader);
    if (!end.ok()) return 11;
    ch->Detach();
    if (!full.Wait(kLong)) return 12;
    std::vector<std::byte> buf(7);
    size_t n = 0;
    if ((*end)->Recv(buf, &n, 10000) != 0 || n != 1 || buf[0] != std::byte(0)) return 13;
    for (uint32_t k = 1;; ++k) {
      int r = (*end)->Recv(buf, &n, 10000);
      if (r == kEnd) return 0;
      if (r != 0 || n != 1 || buf[0] != std::byte(k)) return 14;
    }
  });
  auto w = Open(*ch, Role::kWriter);
  ASSERT_NE(w, nullptr);
  ch->Detach();
  size_t sent = 0;
  uint32_t queued = 0;
  for (; queued < 1000; ++queued) {
    std::vector<std::byte> m = {std::byte(queued)};
    int r = w->Send(m, &sent, 0);
    if (r == -EAGAIN) break;
    ASSERT_EQ(r, 0);
  }
  EXPECT_EQ(queued, kLimit);
  std::vector<std::byte> m = {std::byte(queued)};
  const absl::Time start = absl::Now();
  EXPECT_EQ(w->Send(m, &sent, 100), -ETIMEDOUT);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  full.Open();
  EXPECT_EQ(w->Send(m, &sent, 10000), 0) << "room once the reader took one";
  w.reset();  // the end marker waits for room the same way
  EXPECT_EQ(reader.Wait(kLong), 0);
}

}  // namespace
}  // namespace ipcspec::testing
