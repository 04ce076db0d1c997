// TouchTrap: a read of the trapped bytes in user space stops the reading
// thread and is reported; a read by the kernel (a write(2) of them) goes
// through with the right bytes and is not.
#include "properties/support/touch_trap.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class TouchTrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TouchTrap::Available()) {
      GTEST_SKIP() << "no userfaultfd here (it needs CAP_SYS_PTRACE or "
                      "vm.unprivileged_userfaultfd=1)";
    }
  }
  // Two and a half pages: a read of any of them is the first touch.
  const std::vector<std::byte> payload_ = Payload(1, 7, 10000);
};

TEST_F(TouchTrapTest, AReadInUserSpaceStopsTheThreadUntilTheTrapIsGone) {
  std::promise<void> touched;
  auto trap = TouchTrap::Arm(payload_, [&] { touched.set_value(); });
  ASSERT_NE(trap, nullptr);
  std::vector<std::byte> copy(payload_.size());
  std::atomic<bool> copied{false};
  std::thread reader([&] {
    std::memcpy(copy.data(), trap->bytes().data(), copy.size());
    copied.store(true);
  });
  touched.get_future().wait();
  // Reported while the thread waits inside its memcpy: it has not finished.
  EXPECT_FALSE(copied.load());
  trap->Release();  // fills every page: the thread goes on with the bytes
  reader.join();
  EXPECT_TRUE(copied.load());
  EXPECT_EQ(copy, payload_);
}

TEST_F(TouchTrapTest, AReadByTheKernelGoesThroughWithTheBytesAndIsNotReported) {
  std::atomic<int> touches{0};
  auto trap = TouchTrap::Arm(payload_, [&] { touches.fetch_add(1); });
  ASSERT_NE(trap, nullptr);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  FileDescriptor r(p[0]), w(p[1]);
  // Less than a pipe's 64 KiB: the write copies it all at once.
  ASSERT_EQ(::write(w.get(), trap->bytes().data(), trap->bytes().size()),
            static_cast<ssize_t>(payload_.size()));
  std::vector<std::byte> got(payload_.size());
  size_t have = 0;
  while (have < got.size()) {
    const ssize_t n = ::read(r.get(), got.data() + have, got.size() - have);
    ASSERT_GT(n, 0);
    have += static_cast<size_t>(n);
  }
  EXPECT_EQ(got, payload_);
  trap.reset();
  EXPECT_EQ(touches.load(), 0);
}

TEST_F(TouchTrapTest, NothingToTrapInAnEmptyMessage) {
  EXPECT_EQ(TouchTrap::Arm({}, [] {}), nullptr);
}

}  // namespace
}  // namespace ipcspec::props
