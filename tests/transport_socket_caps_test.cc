// The socket transports against the kernel, what holds for some of them,
// each suite instantiated for the transports whose declared capabilities it
// is about: message sockets (the kernel's own limit is max_message, empty
// messages are not the end, EMSGSIZE both ways), several writers on message
// sockets, EPIPE where peer_close is declared, a blocked stream send's
// partial count, and a full reliable socket that times out and resumes.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <map>
#include <set>

#include "tests/transport_socket_util.h"

namespace ipcspec::testing {
namespace {

class MessageSocketTest : public SocketTest {};
class ManyWriterSocketTest : public SocketTest {};
class PeerCloseSocketTest : public SocketTest {};
class StreamSocketTest : public SocketTest {};
class ReliableSocketTest : public SocketTest {};

// The kernel itself takes a message of max_message and refuses one more
// byte, so the declared limit is the real one, not just our own check.
TEST_P(MessageSocketTest, KernelAgreesWithMaxMessage) {
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

// A zero-length message is a message; END comes only after the close, even
// when the last thing queued before the close is a zero-length message.
TEST_P(MessageSocketTest, ZeroLengthMessagesAreNotEnd) {
  Channel* ch = nullptr;
  std::unique_ptr<End> r, w;
  ASSERT_NO_FATAL_FAILURE(OpenBoth(&ch, &r, &w));
  const std::vector<size_t> sizes = {0, 3, 0, 0};
  size_t sent = 99;
  for (size_t s : sizes) {
    ASSERT_EQ(w->Send(Pattern(s, 1), &sent, 1000), 0);
    EXPECT_EQ(sent, s);
  }
  w.reset();
  Buf buf(16);
  for (size_t s : sizes) {
    size_t n = 99;
    ASSERT_EQ(r->Recv(buf, &n, 1000), 0);
    EXPECT_EQ(n, s);
  }
  size_t n = 0;
  if (caps().peer_close) {
    EXPECT_EQ(r->Recv(buf, &n, 1000), kEnd);
    EXPECT_EQ(r->Recv(std::span<std::byte>(), &n, 0), kEnd) << "empty buffer, after END";
  } else {
    EXPECT_EQ(r->Recv(buf, &n, 0), -EAGAIN);
  }
}

// max_message + 1 fails and queues nothing; max_message arrives whole; a
// buffer too small gives EMSGSIZE and the message stays queued.
TEST_P(MessageSocketTest, MessageSizeLimits) {
  Channel* ch = nullptr;
  std::unique_ptr<End> r, w;
  ASSERT_NO_FATAL_FAILURE(OpenBoth(&ch, &r, &w));
  const size_t max = caps().max_message;
  size_t sent = 99;
  ASSERT_EQ(w->Send(Bytes("a"), &sent, 1000), 0);
  EXPECT_EQ(w->Send(Pattern(max + 1, 1), &sent, 1000), -EMSGSIZE);
  EXPECT_EQ(sent, 0u);
  ASSERT_EQ(w->Send(Pattern(100, 2), &sent, 1000), 0);
  ASSERT_EQ(w->Send(Pattern(max, 3), &sent, 1000), 0);
  EXPECT_EQ(sent, max);
  Buf small(10), exact(max);
  size_t n = 0;
  ASSERT_EQ(r->Recv(small, &n, 1000), 0);
  EXPECT_EQ(Buf(small.begin(), small.begin() + n), Bytes("a"));
  EXPECT_EQ(r->Recv(small, &n, 1000), -EMSGSIZE);
  EXPECT_EQ(r->Recv(std::span<std::byte>(), &n, 1000), -EMSGSIZE);
  ASSERT_EQ(r->Recv(exact, &n, 1000), 0) << "the 100-byte message stayed queued";
  EXPECT_EQ(Buf(exact.begin(), exact.begin() + n), Pattern(100, 2));
  ASSERT_EQ(r->Recv(exact, &n, 1000), 0);
  EXPECT_EQ(n, max);
  EXPECT_TRUE(exact == Pattern(max, 3));
}

// K forked writers at once: every message whole and in its writer's order
// (where ordered), none duplicated; END after the last writer closed (where
// declared). udp may lose messages, never corrupt or duplicate them.
TEST_P(ManyWriterSocketTest, SeveralWriters) {
  constexpr int kWriters = 3, kPerWriter = 200;
  Channel* ch = CreateChannel(GetParam());
  ASSERT_NE(ch, nullptr);
  Gate go;
  std::vector<Child> writers;
  for (int id = 0; id < kWriters; ++id) {
    writers.push_back(StartEnd(*ch, Role::kWriter, [&, id](std::unique_ptr<End>& w) {
      if (!go.Wait(kLong)) return 11;
      for (int seq = 0; seq < kPerWriter; ++seq) {
        Buf m = Pattern(8 + static_cast<size_t>(seq * 37 % 300), id * 1000 + seq);
        m[0] = std::byte(id);
        m[1] = std::byte(seq & 0xff);
        m[2] = std::byte(seq >> 8);
        if (Put(*w, m, 10000) != 0) return 12;
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
}

// The reader closes: a writer gets EPIPE, within a bounded number of sends
// (TCP takes one send to provoke the reset), never SIGPIPE.
TEST_P(PeerCloseSocketTest, EpipeAfterReaderClose) {
  Channel* ch = CreateChannel(GetParam());
  ASSERT_NE(ch, nullptr);
  ClosingPeer reader(*ch, Role::kReader, [&](End& r) {
    Buf buf(RecvCap());
    size_t n = 0;
    return r.Recv(buf, &n, 10000) != 0 || n != 1 ? 11 : 0;
  });
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  ch->Detach();
  size_t sent = 0;
  ASSERT_EQ((*w)->Send(Bytes("x"), &sent, 1000), 0);
  ASSERT_TRUE(reader.WaitClosed());
  int rc = 0;
  for (int i = 0; i < 100 && rc == 0; ++i) rc = (*w)->Send(Bytes("y"), &sent, 1000);
  EXPECT_EQ(rc, -EPIPE);
  EXPECT_EQ((*w)->Send(Bytes("z"), &sent, 1000), -EPIPE) << "stays EPIPE";
  EXPECT_EQ(reader.Release(), 0);
}

// A stream writer blocked in a large Send when the reader closes: the
// partial count first, EPIPE with the next call.
TEST_P(StreamSocketTest, BlockedStreamSendReportsPartialThenEpipe) {
  Channel* ch = CreateChannel(GetParam());
  ASSERT_NE(ch, nullptr);
  Gate sending, release;
  Child reader = StartEnd(*ch, Role::kReader, [&](std::unique_ptr<End>& r) {
    Buf buf(1);
    size_t n = 0;
    if (!sending.Wait(kLong)) return 11;
    // Bytes of the big send have arrived, so the writer is inside it (it
    // cannot finish before this side reads).
    if (r->Recv(buf, &n, 10000) != 0) return 12;
    r.reset();
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
}

// Full: never-block gives EAGAIN, a bounded wait ETIMEDOUT not early,
// nothing is lost, and sends resume after a drain, in both directions. (An
// unreliable transport drops instead of filling.)
TEST_P(ReliableSocketTest, FullSendTimesOutAndResumesAfterADrain) {
  Channel* ch = nullptr;
  std::unique_ptr<End> r, w;
  ASSERT_NO_FATAL_FAILURE(OpenBoth(&ch, &r, &w));
  Buf buf(RecvCap());
  size_t n = 0;
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
    fill_and_drain(*w, *r);
  }
  {
    SCOPED_TRACE("reader to writer");
    fill_and_drain(*r, *w);
  }
}

INSTANTIATE_TEST_SUITE_P(Sockets, MessageSocketTest, ::testing::ValuesIn(SocketsWhere(Messages)),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Sockets, ManyWriterSocketTest,
                         ::testing::ValuesIn(SocketsWhere(MessagesFromManyWriters)), ParamName);
INSTANTIATE_TEST_SUITE_P(Sockets, PeerCloseSocketTest, ::testing::ValuesIn(SocketsWhere(PeerClose)),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Sockets, StreamSocketTest, ::testing::ValuesIn(SocketsWhere(Streams)),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Sockets, ReliableSocketTest, ::testing::ValuesIn(SocketsWhere(Reliable)),
                         ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MessageSocketTest);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ManyWriterSocketTest);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PeerCloseSocketTest);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StreamSocketTest);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReliableSocketTest);

}  // namespace
}  // namespace ipcspec::testing
