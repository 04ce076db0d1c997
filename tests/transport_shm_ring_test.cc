// The shared-memory ring transports (sysv_shm, posix_shm), each test run on
// both, the data path: messages of every awkward size (0, 1, around the
// ring's size, several rings) arrive exact from a forked writer; wrap-around
// at every offset of the ring; non-blocking sends all or nothing; several
// writers never interleave; timeouts; short buffers; the wrong direction;
// Destroy() leaves no SysV id and no /dev/shm name. Peers closing and dying:
// transport_shm_ring_peer_test.cc.
#include "tests/transport_shm_ring_util.h"

namespace ipcspec::testing {
namespace {

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
  auto [r, w] = OpenBoth();
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
  auto [r, w] = OpenBoth();
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

TEST_P(ShmRingTest, TimeoutsOnEmptyAndFullAndAHalfSentMessageIsDropped) {
  auto [r, w] = OpenBoth();
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
  auto [r, w] = OpenBoth();
  ASSERT_TRUE(r && w);
  size_t sent = 0, n = 0;
  ASSERT_EQ(w->Send(Bytes("abc"), &sent, 0), 0);
  EXPECT_EQ(r->Send(Bytes("zz"), &sent, 0), -EBADF);
  std::vector<std::byte> buf(16);
  EXPECT_EQ(w->Recv(buf, &n, 0), -EBADF);
  ASSERT_EQ(r->Recv(buf, &n, 0), 0);
  EXPECT_TRUE(SameBytes(std::span(buf).first(n), Bytes("abc")));
}

TEST_P(ShmRingTest, DestroyRemovesEverything) {
  auto [r, w] = OpenBoth();
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

INSTANTIATE_TEST_SUITE_P(Shm, ShmRingTest, ::testing::ValuesIn(ShmRingTransports()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ShmRingTest);

}  // namespace
}  // namespace ipcspec::testing
