// The socket transports (unix_*, socketpair_*, tcp, udp) against the kernel:
// forked writer and reader processes, one-process use in both opening orders,
// boundaries, zero-length messages versus end of stream, EPIPE, timeouts,
// EMSGSIZE at max_message + 1, several writers, and that Destroy leaves no
// node behind. Every wait is bounded; children are always reaped.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "tests/transport_test_util.h"

namespace ipcspec::testing {
namespace {

using Buf = std::vector<std::byte>;

const std::vector<std::string>& SocketTransports() {
  static const std::vector<std::string> names = {
      "unix_stream",          "unix_seqpacket",   "unix_dgram", "socketpair_stream",
      "socketpair_seqpacket", "socketpair_dgram", "tcp",        "udp"};
  return names;
}

int KernelType(std::string_view name) {
  if (name.ends_with("stream") || name == "tcp") return SOCK_STREAM;
  if (name.ends_with("seqpacket")) return SOCK_SEQPACKET;
  return SOCK_DGRAM;
}

// SO_SNDBUF of a fresh AF_UNIX socket, measured here independently.
uint64_t FreshSndbuf(int type) {
  int sv[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  FileDescriptor a(sv[0]), b(sv[1]);
  int v = 0;
  socklen_t len = sizeof v;
  ::getsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &v, &len);
  return static_cast<uint64_t>(v);
}

// One message, or all of a stream buffer (SendAll sends nothing for an empty
// buffer, and an empty message must still be sent).
int Put(End& end, std::span<const std::byte> buf, int timeout_ms) {
  size_t sent = 0;
  int rc = end.Send(buf, &sent, timeout_ms);
  if (rc != 0) return rc;
  return sent == buf.size() ? 0 : SendAll(end, buf.subspan(sent), timeout_ms);
}

class SocketTest : public ScratchDirTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    // Default action: a send without MSG_NOSIGNAL would kill the test.
    ::signal(SIGPIPE, SIG_DFL);
    t_ = TransportRegistry::Global().Find(GetParam());
    ASSERT_NE(t_, nullptr);
  }
  const Capabilities& caps() const { return t_->caps(); }
  bool message() const { return caps().framing == Framing::kMessage; }
  std::unique_ptr<Channel> Create(const std::string& dir) {
    auto ch = t_->Create(dir);
    EXPECT_TRUE(ch.ok()) << ch.status();
    return ch.ok() ? *std::move(ch) : nullptr;
  }
  std::vector<std::string> Entries(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path());
    return out;
  }
  // Sizes a writer sends: a message transport includes empty messages and
  // max_message itself.
  std::vector<size_t> Sizes() const {
    if (!message()) return {1, 7, 1000, 300000, 5};
    return {0, 1, 7, 0, 1000, caps().max_message, 0, 5, 0};
  }
  size_t RecvCap() const { return message() ? caps().max_message : 65536; }

  const Transport* t_ = nullptr;
};

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

// The kernel itself takes a message of max_message and refuses one more
// byte, so the declared limit is the real one, not just our own check.
TEST_P(SocketTest, KernelAgreesWithMaxMessage) {
  if (!message()) GTEST_SKIP() << "stream";
  Buf big(caps().max_message + 1);
  FileDescriptor a, b;
  if (GetParam() == "udp") {
    a.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(a.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
    ASSERT_EQ(::getsockname(a.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ASSERT_EQ(::connect(a.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  } else {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, KernelType(GetParam()) | SOCK_CLOEXEC, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
  EXPECT_EQ(::send(a.get(), big.data(), big.size(), MSG_DONTWAIT | MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EMSGSIZE);
  EXPECT_EQ(::send(a.get(), big.data(), big.size() - 1, MSG_DONTWAIT | MSG_NOSIGNAL),
            static_cast<ssize_t>(big.size() - 1));
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
  auto ch = Create(dir_);
  ASSERT_NE(ch, nullptr);
  Gate closed, release;
  const std::vector<size_t> sizes = Sizes();
  Child writer = Child::Start([&] {
    auto w = ch->Open(Role::kWriter);
    if (!w.ok()) return 10;
    ch->Detach();
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (Put(**w, Pattern(sizes[i], static_cast<uint32_t>(i)), 10000) != 0) return 11;
    }
    w->reset();
    closed.Open();
    return release.Wait(kLong) ? 0 : 12;
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
  ASSERT_TRUE(closed.Wait(kLong));
  size_t n = 0;
  if (caps().peer_close) {
    EXPECT_EQ((*r)->Recv(buf, &n, 10000), kEnd);
    EXPECT_EQ((*r)->Recv(buf, &n, 0), kEnd) << "END is sticky";
    EXPECT_EQ(::kill(writer.pid(), 0), 0) << "the writer still lives";
  } else {
    EXPECT_EQ((*r)->Recv(buf, &n, 50), -ETIMEDOUT);
  }
  release.Open();
  EXPECT_EQ(writer.Wait(kLong), 0);
  r->reset();
  EXPECT_TRUE(ch->Destroy().ok());
}

// A zero-length message is a message; END comes only after the close, even
// when the last thing queued before the close is a zero-length message.
TEST_P(SocketTest, ZeroLengthMessagesAreNotEnd) {
  if (!message()) GTEST_SKIP() << "stream";
  auto ch = Create(dir_);
  ASSERT_NE(ch, nullptr);
  auto r = ch->Open(Role::kReader);
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(r.ok() && w.ok());
  ch->Detach();
  const std::vector<size_t> sizes = {0, 3, 0, 0};
  size_t sent = 99;
  for (size_t s : sizes) {
    ASSERT_EQ((*w)->Send(Pattern(s, 1), &sent, 1000), 0);
    EXPECT_EQ(sent, s);
  }
  w->reset();
  Buf buf(16);
  for (size_t s : sizes) {
    size_t n = 99;
    ASSERT_EQ((*r)->Recv(buf, &n, 1000), 0);
    EXPECT_EQ(n, s);
  }
  size_t n = 0;
  if (caps().peer_close) {
    EXPECT_EQ((*r)->Recv(buf, &n, 1000), kEnd);
    EXPECT_EQ((*r)->Recv(std::span<std::byte>(), &n, 0), kEnd) << "empty buffer, after END";
  } else {
    EXPECT_EQ((*r)->Recv(buf, &n, 0), -EAGAIN);
  }
  r->reset();
  EXPECT_TRUE(ch->Destroy().ok());
}

// The reader closes: a writer gets EPIPE, within a bounded number of sends
// (TCP takes one send to provoke the reset), never SIGPIPE.
TEST_P(SocketTest, EpipeAfterReaderClose) {
  if (!caps().peer_close) GTEST_SKIP() << "no peer_close";
  auto ch = Create(dir_);
  ASSERT_NE(ch, nullptr);
  Gate closed, release;
  Child reader = Child::Start([&] {
    auto r = ch->Open(Role::kReader);
    if (!r.ok()) return 10;
    ch->Detach();
    Buf buf(RecvCap());
    size_t n = 0;
    if ((*r)->Recv(buf, &n, 10000) != 0 || n != 1) return 11;
    r->reset();
    closed.Open();
    return release.Wait(kLong) ? 0 : 12;
  });
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  ch->Detach();
  size_t sent = 0;
  ASSERT_EQ((*w)->Send(Bytes("x"), &sent, 1000), 0);
  ASSERT_TRUE(closed.Wait(kLong));
  int rc = 0;
  for (int i = 0; i < 100 && rc == 0; ++i) rc = (*w)->Send(Bytes("y"), &sent, 1000);
  EXPECT_EQ(rc, -EPIPE);
  EXPECT_EQ((*w)->Send(Bytes("z"), &sent, 1000), -EPIPE) << "stays EPIPE";
  release.Open();
  EXPECT_EQ(reader.Wait(kLong), 0);
  w->reset();
  EXPECT_TRUE(ch->Destroy().ok());
}

// A stream writer blocked in a large Send when the reader closes: the
// partial count first, EPIPE with the next call.
TEST_P(SocketTest, BlockedStreamSendReportsPartialThenEpipe) {
  if (message()) GTEST_SKIP() << "message framing";
  auto ch = Create(dir_);
  ASSERT_NE(ch, nullptr);
  Gate sending, release;
  Child reader = Child::Start([&] {
    auto r = ch->Open(Role::kReader);
    if (!r.ok()) return 10;
    ch->Detach();
    Buf buf(1);
    size_t n = 0;
    if (!sending.Wait(kLong)) return 11;
    // Bytes of the big send have arrived, so the writer is inside it (it
    // cannot finish before this side reads).
    if ((*r)->Recv(buf, &n, 10000) != 0) return 12;
    r->reset();
    return release.Wait(kLong) ? 0 : 13;
  });
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  ch->Detach();
  const Buf big(64 << 20);
  size_t sent = 0;
  sending.Open();
  EXPECT_EQ((*w)->Send(big, &sent, 10000), 0);
  EXPECT_GT(sent, 0u);
  EXPECT_LT(sent, big.size());
  EXPECT_EQ((*w)->Send(big, &sent, 1000), -EPIPE);
  release.Open();
  EXPECT_EQ(reader.Wait(kLong), 0);
  w->reset();
  EXPECT_TRUE(ch->Destroy().ok());
}

// Empty: never-block gives EAGAIN, a bounded wait ETIMEDOUT not early. Full:
// the same for Send, nothing is lost, and sends resume after a drain.
TEST_P(SocketTest, TimeoutsOnEmptyAndFull) {
  auto ch = Create(dir_);
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
  if (!caps().reliable) {
    w->reset();
    r->reset();
    EXPECT_TRUE(ch->Destroy().ok());
    GTEST_SKIP() << "an unreliable transport drops instead of filling";
  }
  // Fill one direction without blocking, time out, drain, resume.
  auto fill_and_drain = [&](End& from, End& to) {
    const Buf chunk = Pattern(message() ? 1 : 65536, 3);
    size_t total = 0, sent = 0;
    int rc = 0;
    for (int i = 0; i < 100000 && rc == 0; ++i) {
      rc = from.Send(chunk, &sent, 0);
      total += sent;
    }
    ASSERT_EQ(rc, -EAGAIN) << "never filled after " << total << " bytes";
    const absl::Time t0 = absl::Now();
    EXPECT_EQ(from.Send(chunk, &sent, 150), -ETIMEDOUT);
    EXPECT_GE(absl::Now() - t0, absl::Milliseconds(150));
    // TCP moves what the window held back as the reader drains: wait for it.
    size_t drained = 0;
    while (drained < total && to.Recv(buf, &n, 10000) == 0) drained += n;
    EXPECT_EQ(drained, total);
    EXPECT_EQ(to.Recv(buf, &n, 0), -EAGAIN);
    EXPECT_EQ(from.Send(chunk, &sent, 1000), 0);
    EXPECT_EQ(to.Recv(buf, &n, 1000), 0);
  };
  {
    SCOPED_TRACE("writer to reader");
    fill_and_drain(**w, **r);
  }
  {
    SCOPED_TRACE("reader to writer");
    fill_and_drain(**r, **w);
  }
  w->reset();
  r->reset();
  EXPECT_TRUE(ch->Destroy().ok());
}

// max_message + 1 fails and queues nothing; max_message arrives whole; a
// buffer too small gives EMSGSIZE and the message stays queued.
TEST_P(SocketTest, MessageSizeLimits) {
  if (!message()) GTEST_SKIP() << "stream";
  auto ch = Create(dir_);
  ASSERT_NE(ch, nullptr);
  auto r = ch->Open(Role::kReader);
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(r.ok() && w.ok());
  ch->Detach();
  const size_t max = caps().max_message;
  size_t sent = 99;
  ASSERT_EQ((*w)->Send(Bytes("a"), &sent, 1000), 0);
  EXPECT_EQ((*w)->Send(Pattern(max + 1, 1), &sent, 1000), -EMSGSIZE);
  EXPECT_EQ(sent, 0u);
  ASSERT_EQ((*w)->Send(Pattern(100, 2), &sent, 1000), 0);
  ASSERT_EQ((*w)->Send(Pattern(max, 3), &sent, 1000), 0);
  EXPECT_EQ(sent, max);
  Buf small(10), exact(max);
  size_t n = 0;
  ASSERT_EQ((*r)->Recv(small, &n, 1000), 0);
  EXPECT_EQ(Buf(small.begin(), small.begin() + n), Bytes("a"));
  EXPECT_EQ((*r)->Recv(small, &n, 1000), -EMSGSIZE);
  EXPECT_EQ((*r)->Recv(std::span<std::byte>(), &n, 1000), -EMSGSIZE);
  ASSERT_EQ((*r)->Recv(exact, &n, 1000), 0) << "the 100-byte message stayed queued";
  EXPECT_EQ(Buf(exact.begin(), exact.begin() + n), Pattern(100, 2));
  ASSERT_EQ((*r)->Recv(exact, &n, 1000), 0);
  EXPECT_EQ(n, max);
  EXPECT_TRUE(exact == Pattern(max, 3));
  w->reset();
  r->reset();
  EXPECT_TRUE(ch->Destroy().ok());
}

// K forked writers at once: every message whole and in its writer's order
// (where ordered), none duplicated; END after the last writer closed (where
// declared). udp may lose messages, never corrupt or duplicate them.
TEST_P(SocketTest, SeveralWriters) {
  if (!caps().multi_writer || !message()) GTEST_SKIP() << "one writer or stream";
  constexpr int kWriters = 3, kPerWriter = 200;
  auto ch = Create(dir_);
  ASSERT_NE(ch, nullptr);
  Gate go;
  std::vector<Child> writers;
  for (int id = 0; id < kWriters; ++id) {
    writers.push_back(Child::Start([&, id] {
      auto w = ch->Open(Role::kWriter);
      if (!w.ok()) return 10;
      ch->Detach();
      if (!go.Wait(kLong)) return 11;
      for (int seq = 0; seq < kPerWriter; ++seq) {
        Buf m = Pattern(8 + static_cast<size_t>(seq * 37 % 300), id * 1000 + seq);
        m[0] = std::byte(id);
        m[1] = std::byte(seq & 0xff);
        m[2] = std::byte(seq >> 8);
        if (Put(**w, m, 10000) != 0) return 12;
      }
      return 0;
    }));
  }
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok());
  ch->Detach();
  for (int i = 0; i < kWriters; ++i) go.Open();
  std::map<int, int> next;
  std::set<std::pair<int, int>> seen;
  Buf buf(RecvCap());
  int received = 0;
  for (; received < kWriters * kPerWriter; ++received) {
    size_t n = 0;
    int rc = (*r)->Recv(buf, &n, caps().reliable ? 10000 : 1000);
    if (rc == -ETIMEDOUT && !caps().reliable) break;
    ASSERT_EQ(rc, 0) << "after " << received;
    ASSERT_GE(n, 8u);
    const int id = static_cast<int>(buf[0]);
    const int seq = static_cast<int>(buf[1]) | static_cast<int>(buf[2]) << 8;
    ASSERT_LT(id, kWriters);
    Buf want = Pattern(8 + static_cast<size_t>(seq * 37 % 300), id * 1000 + seq);
    ASSERT_EQ(n, want.size()) << "writer " << id << " seq " << seq;
    EXPECT_TRUE(std::equal(buf.begin() + 3, buf.begin() + n, want.begin() + 3)) << "torn";
    EXPECT_TRUE(seen.insert({id, seq}).second) << "duplicate " << id << "/" << seq;
    if (caps().ordered) {
      EXPECT_EQ(seq, next[id]++) << "writer " << id;
    }
  }
  if (caps().reliable) {
    EXPECT_EQ(received, kWriters * kPerWriter);
  }
  EXPECT_GT(received, 0);
  for (Child& c : writers) EXPECT_EQ(c.Wait(kLong), 0);
  size_t n = 0;
  if (caps().peer_close) {
    EXPECT_EQ((*r)->Recv(buf, &n, 10000), kEnd);
  }
  r->reset();
  EXPECT_TRUE(ch->Destroy().ok());
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
    Child writer = Child::Start([&] {
      auto w = ch->Open(Role::kWriter);
      if (!w.ok()) return 10;
      ch->Detach();
      if (Put(**w, Bytes("hi"), 10000) != 0) return 11;
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

INSTANTIATE_TEST_SUITE_P(Sockets, SocketTest, ::testing::ValuesIn(SocketTransports()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ipcspec::testing
