// tests/transport_shm_ring_util.h: what the tests of the shared-memory ring
// transports (sysv_shm, posix_shm) share: the ring's sizes, a listing of the
// IPC objects that exist, tagged messages, and the fixture, which creates a
// channel and checks that Destroy() leaves none of its objects behind.
//
//   class ShmRingPeerTest : public ShmRingTest {};
//   TEST_P(ShmRingPeerTest, Something) { auto r = Open(Role::kReader); ... }
//   INSTANTIATE_TEST_SUITE_P(Shm, ShmRingPeerTest, ::testing::ValuesIn(ShmRingTransports()),
//                            [](const auto& info) { return info.param; });
#ifndef IPCSPEC_TESTS_TRANSPORT_SHM_RING_UTIL_H_
#define IPCSPEC_TESTS_TRANSPORT_SHM_RING_UTIL_H_

#include <sys/syscall.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "ipcspec/inventory.h"
#include "tests/transport_test_util.h"

namespace ipcspec::testing {

constexpr size_t kRing = 65536;
constexpr size_t kMax = size_t{1} << 20;
constexpr size_t kMaxQueued = 1024;
// The ring's data area: the capacity plus an 8-byte header per queued chunk.
constexpr size_t kRingBytes = kRing + 8 * kMaxQueued;
constexpr int kTimeoutMs = 10000;

// Every SysV shared-memory segment and semaphore set ("SysV shared memory id
// 3 (key 0x1a2b)"), and every /dev/shm name, that exists now.
inline std::set<std::string> IpcObjects() {
  std::set<std::string> out;
  for (const SysvObject& o : ListSysv()) {
    if (o.kind == 'm' || o.kind == 's') out.insert(o.Describe());
  }
  for (const std::string& name : ListDir("/dev/shm")) out.insert("/dev/shm/" + name);
  return out;
}

// A message tagged with its writer and sequence number in its first 8 bytes.
inline std::vector<std::byte> Tagged(size_t n, uint32_t writer, uint32_t seq) {
  std::vector<std::byte> m = Pattern(n, writer * 1000 + seq);
  std::memcpy(m.data(), &writer, 4);
  std::memcpy(m.data() + 4, &seq, 4);
  return m;
}

inline bool SameBytes(std::span<const std::byte> got, const std::vector<std::byte>& want) {
  return got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin());
}

class ShmRingTest : public ScratchDirTest, public ::testing::WithParamInterface<std::string> {
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
  // A reader and a writer of the channel in this process.
  struct Ends {
    std::unique_ptr<End> r, w;
  };
  Ends OpenBoth() { return {Open(Role::kReader), Open(Role::kWriter)}; }
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
  Gate writer_opened_;
  std::set<std::string> mine_;
};

// Where the ring's Ends sleep when they wait: SysV semaphores, a futex, or
// futex_waitv (posix_shm: its event and its peers' liveness at once).
inline constexpr std::initializer_list<long> kRingWaits = {SYS_semtimedop, SYS_futex,
                                                           SYS_futex_waitv};

// The ring transports that are built here.
inline std::vector<std::string> ShmRingTransports() {
  std::vector<std::string> out;
  for (const char* name : {"sysv_shm", "posix_shm"}) {
    if (TransportRegistry::Global().Find(name) != nullptr) out.push_back(name);
  }
  return out;
}

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_TRANSPORT_SHM_RING_UTIL_H_
