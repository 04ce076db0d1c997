// tests/transport_socket_util.h: what the tests of the socket transports
// (unix_*, socketpair_*, tcp, udp) share: the fixture, the kernel's own
// figures, and the lists of sockets a test applies to, chosen by their
// declared capabilities (a test never skips at run time):
//
//   class MessageSocketTest : public SocketTest {};
//   TEST_P(MessageSocketTest, Something) { Channel* ch = CreateChannel(GetParam()); ... }
//   INSTANTIATE_TEST_SUITE_P(Sockets, MessageSocketTest,
//                            ::testing::ValuesIn(SocketsWhere(Messages)), ParamName);
#ifndef IPCSPEC_TESTS_TRANSPORT_SOCKET_UTIL_H_
#define IPCSPEC_TESTS_TRANSPORT_SOCKET_UTIL_H_

#include <sys/socket.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/transport_test_util.h"

namespace ipcspec::testing {

using Buf = std::vector<std::byte>;

// The socket transports built here whose capabilities satisfy `pred`: a
// test that applies only to some is instantiated only for those.
inline std::vector<std::string> SocketsWhere(bool (*pred)(const Capabilities&)) {
  std::vector<std::string> out;
  for (const char* name : {"unix_stream", "unix_seqpacket", "unix_dgram", "socketpair_stream",
                           "socketpair_seqpacket", "socketpair_dgram", "tcp", "udp"}) {
    const Transport* t = TransportRegistry::Global().Find(name);
    if (t != nullptr && pred(t->caps())) out.push_back(name);
  }
  return out;
}
inline bool AnySocket(const Capabilities&) { return true; }
inline bool Messages(const Capabilities& c) { return c.framing == Framing::kMessage; }
inline bool Streams(const Capabilities& c) { return c.framing == Framing::kStream; }
inline bool PeerClose(const Capabilities& c) { return c.peer_close; }
inline bool Reliable(const Capabilities& c) { return c.reliable; }
inline bool MessagesFromManyWriters(const Capabilities& c) { return Messages(c) && c.multi_writer; }

inline int KernelType(std::string_view name) {
  if (name.ends_with("stream") || name == "tcp") return SOCK_STREAM;
  if (name.ends_with("seqpacket")) return SOCK_SEQPACKET;
  return SOCK_DGRAM;
}

// SO_SNDBUF of a fresh AF_UNIX socket, measured here independently.
inline uint64_t FreshSndbuf(int type) {
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
inline int Put(End& end, std::span<const std::byte> buf, int timeout_ms) {
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

  // A channel with its reader and writer open in this process, the channel's
  // own hold dropped (Detach).
  void OpenBoth(Channel** ch, std::unique_ptr<End>* r, std::unique_ptr<End>* w) {
    *ch = CreateChannel(GetParam());
    ASSERT_NE(*ch, nullptr);
    auto reader = (*ch)->Open(Role::kReader);
    auto writer = (*ch)->Open(Role::kWriter);
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_TRUE(writer.ok()) << writer.status();
    (*ch)->Detach();
    *r = *std::move(reader);
    *w = *std::move(writer);
  }

  const Transport* t_ = nullptr;
};

inline std::string ParamName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_TRANSPORT_SOCKET_UTIL_H_
