// The socket transports (unix_*, socketpair_*, tcp, udp) against the kernel,
// what holds for every one of them: capabilities that match the kernel, both
// opening orders in one process and both directions, a forked writer's data
// then end of stream (where declared) while it lives, timeouts on an empty
// socket, and that Destroy leaves no node behind. What holds only for some
// (by their capabilities): transport_socket_caps_test.cc. Every wait is
// bounded; children are always reaped.
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "tests/transport_socket_util.h"

namespace ipcspec::testing {
namespace {

TEST_P(SocketTest, CapabilitiesAreTheKernels) {
  EXPECT_EQ(caps().Contradiction(), "");
  EXPECT_EQ(caps().direction, Direction::kDuplex);
  EXPECT_EQ(caps().capacity, 0u);
  const int type = KernelType(GetParam());
  EXPECT_EQ(caps().framing == Framing::kStream, type == SOCK_STREAM);
  EXPECT_EQ(caps().peer_close, type != SOCK_DGRAM);
  EXPECT_EQ(caps().reliable, GetParam() != "udp");
  EXPECT_EQ(caps().ordered, GetParam() != "udp");
  EXPECT_EQ(caps().named, !GetParam().starts_with("socketpair"));
  if (type == SOCK_STREAM) {
    EXPECT_EQ(caps().max_message, 0u);
    EXPECT_EQ(caps().atomic_write, 0u);
  } else if (GetParam() == "udp") {
    EXPECT_EQ(caps().max_message, 65507u);
  } else {
    EXPECT_EQ(caps().max_message, FreshSndbuf(type) - 32);
  }
  if (caps().multi_writer && message()) {
    EXPECT_EQ(caps().atomic_write, caps().max_message);
  }
}

// Reader first and writer first, in one process; then the reader answers.
TEST_P(SocketTest, BothOpeningOrdersInOneProcessAndBothDirections) {
  for (bool reader_first : {true, false}) {
    SCOPED_TRACE(reader_first ? "reader first" : "writer first");
    auto ch = Create(dir_);
    ASSERT_NE(ch, nullptr);
    absl::StatusOr<std::unique_ptr<End>> r, w;
    if (reader_first) r = ch->Open(Role::kReader);
    w = ch->Open(Role::kWriter);
    if (!reader_first) r = ch->Open(Role::kReader);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(w.ok()) << w.status();
    ch->Detach();
    EXPECT_FALSE(ch->Open(Role::kReader).ok()) << "reader open after detach";
    const Buf ping = Bytes("ping"), pong = Bytes("pong!");
    ASSERT_EQ(Put(**w, ping, 1000), 0);
    Buf got(RecvCap());
    size_t n = 0;
    ASSERT_EQ((*r)->Recv(got, &n, 1000), 0);
    EXPECT_EQ(Buf(got.begin(), got.begin() + n), ping);
    ASSERT_EQ(Put(**r, pong, 1000), 0);
    ASSERT_EQ((*w)->Recv(got, &n, 1000), 0);
    EXPECT_EQ(Buf(got.begin(), got.begin() + n), pong);
    w->reset();
    r->reset();
    EXPECT_TRUE(ch->Destroy().ok());
    EXPECT_TRUE(Entries(dir_).empty());
  }
}

// A forked writer sends, closes its End and stays alive: the reader gets
// everything in order with boundaries kept, then END (if declared) while the
// writer process still lives.
TEST_P(SocketTest, ForkedWriterDataThenEndWhileWriterLives) {
  Channel* ch = CreateChannel(GetParam());
  ASSERT_NE(ch, nullptr);
  const std::vector<size_t> sizes = Sizes();
  ClosingPeer writer(*ch, Role::kWriter, [&](End& w) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (Put(w, Pattern(sizes[i], static_cast<uint32_t>(i)), 10000) != 0) return 11;
    }
    return 0;
  });
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  ch->Detach();
  Buf buf(RecvCap());
  if (message()) {
    std::vector<Buf> want, got;
    for (size_t i = 0; i < sizes.size(); ++i) want.push_back(Pattern(sizes[i], i));
    for (size_t i = 0; i < sizes.size(); ++i) {
      size_t n = 0;
      int rc = (*r)->Recv(buf, &n, 10000);
      ASSERT_EQ(rc, 0) << "message " << i << ": " << rc;
      got.emplace_back(buf.begin(), buf.begin() + n);
    }
    if (!caps().ordered) {
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
    }
    EXPECT_EQ(got, want);
  } else {
    Buf want, got;
    for (size_t i = 0; i < sizes.size(); ++i) {
      Buf p = Pattern(sizes[i], i);
      want.insert(want.end(), p.begin(), p.end());
    }
    int last = 0;
    got = RecvUntilEnd(**r, &last, 10000, want.size());
    EXPECT_EQ(got, want);
  }
  ASSERT_TRUE(writer.WaitClosed());
  size_t n = 0;
  if (caps().peer_close) {
    EXPECT_EQ((*r)->Recv(buf, &n, 10000), kEnd);
    EXPECT_EQ((*r)->Recv(buf, &n, 0), kEnd) << "END is sticky";
    EXPECT_EQ(::kill(writer.pid(), 0), 0) << "the writer still lives";
  } else {
    EXPECT_EQ((*r)->Recv(buf, &n, 50), -ETIMEDOUT);
  }
  EXPECT_EQ(writer.Release(), 0);
}

// Empty: never-block gives EAGAIN, a bounded wait ETIMEDOUT not early.
TEST_P(SocketTest, TimeoutsOnEmpty) {
  Channel* ch = CreateChannel(GetParam());
  ASSERT_NE(ch, nullptr);
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok());
  Buf buf(RecvCap());
  size_t n = 0;
  auto timed_recv = [&](int ms) {
    const absl::Time t0 = absl::Now();
    EXPECT_EQ((*r)->Recv(buf, &n, ms), -ETIMEDOUT);
    const absl::Duration took = absl::Now() - t0;
    EXPECT_GE(took, absl::Milliseconds(ms));
    EXPECT_LT(took, absl::Milliseconds(ms + 2000));
  };
  // Before any writer (a reader that has not accepted yet waits the same).
  EXPECT_EQ((*r)->Recv(buf, &n, 0), -EAGAIN);
  timed_recv(150);
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(w.ok());
  ch->Detach();
  EXPECT_EQ((*r)->Recv(buf, &n, 0), -EAGAIN);
  timed_recv(150);
}

// The node is a socket of mode 0600 while the channel lives, and gone after
// Destroy; a scratch path too long for sun_path still works; errors name the
// call, the object and the errno.
TEST_P(SocketTest, NodeModeAndDestroyLeavesNothing) {
  const bool path = caps().named && GetParam() != "tcp" && GetParam() != "udp";
  if (path) {
    auto bad = t_->Create(dir_ + "/missing");
    ASSERT_FALSE(bad.ok());
    EXPECT_TRUE(absl::StrContains(bad.status().message(), dir_ + "/missing): ENOENT"))
        << bad.status();
  }
  for (bool long_dir : {false, true}) {
    SCOPED_TRACE(long_dir ? "long scratch dir" : "short scratch dir");
    std::string dir = dir_;
    if (long_dir) {
      dir = dir_ + "/" + std::string(100, 'd');
      ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    }
    auto ch = Create(dir);
    ASSERT_NE(ch, nullptr);
    std::vector<std::string> nodes = Entries(dir);
    if (path) {
      ASSERT_EQ(nodes.size(), 1u);
      struct stat st;
      ASSERT_EQ(::lstat(nodes[0].c_str(), &st), 0);
      EXPECT_TRUE(S_ISSOCK(st.st_mode));
      EXPECT_EQ(st.st_mode & 07777, 0600u);
    } else {
      EXPECT_TRUE(nodes.empty());
    }
    Gate done;
    Child writer = StartEnd(*ch, Role::kWriter, [&](std::unique_ptr<End>& w) {
      if (Put(*w, Bytes("hi"), 10000) != 0) return 11;
      return done.Wait(kLong) ? 0 : 12;
    });
    auto r = ch->Open(Role::kReader);
    ASSERT_TRUE(r.ok()) << r.status();
    ch->Detach();
    Buf buf(RecvCap());
    size_t n = 0;
    EXPECT_EQ((*r)->Recv(buf, &n, 10000), 0);
    EXPECT_EQ(n, 2u);
    done.Open();
    EXPECT_EQ(writer.Wait(kLong), 0);
    r->reset();
    EXPECT_TRUE(ch->Destroy().ok());
    EXPECT_TRUE(Entries(dir).empty());
    if (long_dir) {
      ASSERT_EQ(::rmdir(dir.c_str()), 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sockets, SocketTest, ::testing::ValuesIn(SocketsWhere(AnySocket)),
                         ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SocketTest);

}  // namespace
}  // namespace ipcspec::testing
