// Every built-in transport, driven from one process through the Transport
// interface: what goes in comes out, and destroy leaves nothing behind.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <numeric>
#include <vector>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "ipcspec/inventory.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"

namespace ipcspec::testing {
namespace {

class TransportBasicTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ipcspec-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  // The channel's destroy left nothing in its directory: rmdir succeeds.
  void TearDown() override {
    if (dir_.empty()) return;
    const std::vector<std::string> left = ListDir(dir_);
    EXPECT_EQ(::rmdir(dir_.c_str()), 0) << "rmdir(" << dir_ << "): " << ErrnoName(errno)
                                        << "; left behind: " << absl::StrJoin(left, ", ");
  }
  std::string dir_;
};

TEST_P(TransportBasicTest, SmallMessagesArriveInOrderInOneProcess) {
  const Transport* t = TransportRegistry::Global().Find(GetParam());
  ASSERT_NE(t, nullptr);
  auto ch = t->Create(dir_);
  ASSERT_TRUE(ch.ok()) << ch.status();
  auto r = (*ch)->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  auto w = (*ch)->Open(Role::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  (*ch)->Detach();
  const bool counter = t->caps().model == ModelClass::kCounter;
  for (int i = 1; i <= 3; ++i) {
    std::vector<std::byte> msg(counter ? 8 : static_cast<size_t>(i), std::byte(i));
    size_t sent = 0;
    ASSERT_EQ((*w)->Send(msg, &sent, 1000), 0) << "message " << i;
    ASSERT_EQ(sent, msg.size());
    if (counter) {
      std::vector<std::byte> got(8);
      size_t n = 0;
      ASSERT_EQ((*r)->Recv(got, &n, 1000), 0);
      ASSERT_EQ(n, 8u);
      EXPECT_EQ(got, msg);
    }
  }
  if (!counter) {
    std::vector<std::byte> got;
    std::vector<std::byte> buf(t->caps().max_message ? t->caps().max_message : 65536);
    while (got.size() < 6) {
      size_t n = 0;
      ASSERT_EQ((*r)->Recv(buf, &n, 1000), 0) << "after " << got.size() << " bytes";
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
    }
    std::vector<std::byte> want = {std::byte(1), std::byte(2), std::byte(2),
                                   std::byte(3), std::byte(3), std::byte(3)};
    EXPECT_EQ(got, want);
  }
  w->reset();
  r->reset();
  EXPECT_TRUE((*ch)->Destroy().ok());
}

std::vector<std::string> BuiltinNames() {
  std::vector<std::string> out;
  for (const Transport* t : TransportRegistry::Global().All()) out.emplace_back(t->name());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Builtins, TransportBasicTest, ::testing::ValuesIn(BuiltinNames()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ipcspec::testing
