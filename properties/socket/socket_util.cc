#include "properties/socket/socket_util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {

int TypeOf(const Transport& t) {
  const std::string_view n = t.name();
  if (n.find("stream") != std::string_view::npos) return SOCK_STREAM;
  if (n.find("seqpacket") != std::string_view::npos) return SOCK_SEQPACKET;
  return SOCK_DGRAM;
}
bool IsPair(const Transport& t) { return t.name().substr(0, 10) == "socketpair"; }

sockaddr_un UnixAddr(const std::string& path) {
  sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  return a;
}

FileDescriptor Loopback(int type, sockaddr_in* addr) {
  FileDescriptor fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  *addr = {};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *addr;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(addr), sizeof *addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(addr), &len) != 0) {
    return FileDescriptor();
  }
  return fd;
}

// A connected pair of the transport's kind: `a` the client, `b` the server
// side. Bound paths are unlinked once connected.
Verdict Connect(const Transport& t, const CaseEnv& env, FileDescriptor* a, FileDescriptor* b) {
  const int type = TypeOf(t);
  if (IsPair(t)) {
    int sv[2];
    if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0)
      return Verdict::Broken("socketpair");
    *a = FileDescriptor(sv[0]);
    *b = FileDescriptor(sv[1]);
    return Verdict::Pass();
  }
  const std::string server_path = env.scratch_dir + "/s", client_path = env.scratch_dir + "/c";
  const sockaddr_un sa = UnixAddr(server_path), ca = UnixAddr(client_path);
  FileDescriptor server(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  *a = FileDescriptor(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  auto unlink_all = [&] {
    ::unlink(server_path.c_str());
    ::unlink(client_path.c_str());
  };
  if (!server || !*a ||
      ::bind(server.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    unlink_all();
    return Verdict::Broken(absl::StrCat("socket/bind: ", ErrnoName(errno)));
  }
  if (type == SOCK_DGRAM) {
    const bool ok = ::bind(a->get(), reinterpret_cast<const sockaddr*>(&ca), sizeof ca) == 0 &&
                    ::connect(a->get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0 &&
                    ::connect(server.get(), reinterpret_cast<const sockaddr*>(&ca), sizeof ca) == 0;
    unlink_all();
    if (!ok) return Verdict::Broken(absl::StrCat("dgram bind/connect: ", ErrnoName(errno)));
    *b = std::move(server);
    return Verdict::Pass();
  }
  const bool ok = ::listen(server.get(), 8) == 0 &&
                  ::connect(a->get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
  if (ok) *b = FileDescriptor(::accept4(server.get(), nullptr, nullptr, SOCK_CLOEXEC));
  unlink_all();
  if (!ok || !*b) return Verdict::Broken(absl::StrCat("listen/connect/accept: ", ErrnoName(errno)));
  return Verdict::Pass();
}

std::string Check(const std::vector<std::byte>& got, uint32_t writer, uint64_t msg, uint64_t size) {
  if (got.size() != size) return absl::StrFormat("%d bytes, expected %d", got.size(), size);
  for (uint64_t i = 0; i < size; ++i) {
    if (got[i] != std::byte{PatternByte(writer, msg, i)})
      return absl::StrFormat("byte %d differs", i);
  }
  return "";
}

}  // namespace ipcspec::props
