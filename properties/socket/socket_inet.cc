// INET-* (TCP and UDP on loopback) and the fork-per-connection server for
// UNIX and INET stream sockets (UNIX-FORK-SERVER, INET-FORK-SERVER).
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/socket/socket_server.h"
#include "properties/socket/socket_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

// A socket of `type` bound to 127.0.0.1 on an ephemeral port; its address.
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

// Reads until end of file or the deadline; false on timeout or error.
bool ReadToEnd(int fd, const Deadline& d, std::vector<std::byte>* out, std::string* err) {
  std::vector<std::byte> buf(1 << 16);
  for (;;) {
    if (PollOne(fd, POLLIN, d) <= 0) {
      *err = "timed out";
      return false;
    }
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      *err = ErrnoName(errno);
      return false;
    }
    if (n == 0) return true;
    out->insert(out->end(), buf.begin(), buf.begin() + n);
  }
}

std::vector<std::byte> Concat(const std::vector<uint64_t>& sizes, uint32_t writer) {
  std::vector<std::byte> all;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<std::byte> p = Payload(writer, i, sizes[i]);
    all.insert(all.end(), p.begin(), p.end());
  }
  return all;
}

class TcpStreamProperty : public NamedProperty {
 public:
  TcpStreamProperty()
      : NamedProperty(
            "INET-TCP-STREAM",
            "TCP on loopback is an ordered byte stream with half-close: after the client's "
            "SHUT_WR the server reads everything then EOF, and its reply still reaches the client",
            "tcp(7), shutdown(2); gVisor test/syscalls/linux/tcp_socket.cc; LTP "
            "testcases/network/") {}
  Applicability AppliesTo(const Transport& t) const override {
    return OnlyFor(t, {"tcp"}, "INET-TCP-* checks TCP itself");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      auto sizes = *rc::gen::resize(
          12, rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(1, 200000)));
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      steps.push_back(Step::Param(0, *rc::gen::inRange<uint64_t>(0, 100000)));  // reply size
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<uint64_t> sizes = SizesOf(s);
    const uint64_t reply = s.Param(0, 10);
    sockaddr_in addr;
    FileDescriptor listener = Loopback(SOCK_STREAM, &addr);
    if (!listener || ::listen(listener.get(), 4) != 0) return Verdict::Broken("tcp listen");
    const Deadline d = CaseDeadline(env);
    Participants ps(d);
    ps.Spawn("client", [&]() -> Verdict {
      listener.reset();
      FileDescriptor c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return Verdict::Broken("connect");
      std::vector<std::byte> all = Concat(sizes, 1);
      if (int rc = WriteFull(c.get(), all.data(), all.size()); rc != 0)
        return Verdict::Fail(absl::StrCat("write: ", Errno(rc)));
      if (::shutdown(c.get(), SHUT_WR) != 0) return Verdict::Broken("shutdown");
      std::vector<std::byte> got;
      std::string err;
      if (!ReadToEnd(c.get(), d, &got, &err))
        return Verdict::Fail("after SHUT_WR, reading the reply: " + err);
      if (std::string e = Check(got, 2, 0, reply); !e.empty())
        return Verdict::Fail("the reply after half-close: " + e);
      return Verdict::Pass();
    });
    FileDescriptor conn;
    if (PollOne(listener.get(), POLLIN, d) > 0)
      conn = FileDescriptor(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return Verdict::Broken("accept");
    std::vector<std::byte> got;
    std::string err;
    if (!ReadToEnd(conn.get(), d, &got, &err))
      return Verdict::Fail("no end of file after the client's SHUT_WR: " + err);
    const std::vector<std::byte> all = Concat(sizes, 1);
    if (got.size() != all.size())
      return Verdict::Fail(absl::StrFormat("%d bytes arrived, %d sent", got.size(), all.size()));
    for (size_t i = 0; i < all.size(); ++i) {
      if (got[i] != all[i]) return Verdict::Fail(absl::StrFormat("stream byte %d differs", i));
    }
    std::vector<std::byte> r = Payload(2, 0, reply);
    if (int rc = WriteFull(conn.get(), r.data(), r.size()); rc != 0)
      return Verdict::Fail(absl::StrCat("reply: ", Errno(rc)));
    conn.reset();
    return ps.Join();
  }
};
IPCSPEC_REGISTER_PROPERTY(TcpStreamProperty);

class TcpResetProperty : public NamedProperty {
 public:
  TcpResetProperty()
      : NamedProperty(
            "INET-TCP-RESET",
            "closing a TCP socket with unread received data resets the connection: the peer's "
            "next receive fails with ECONNRESET",
            "tcp(7), RFC 2525 2.17 / RFC 1122 4.2.2.13; gVisor test/syscalls/linux/tcp_socket.cc") {
  }
  Applicability AppliesTo(const Transport& t) const override {
    return OnlyFor(t, {"tcp"}, "INET-TCP-* checks TCP itself");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange<uint64_t>(1, 100000),
                        [](uint64_t n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t unread = s.Param(0, 10);
    sockaddr_in addr;
    FileDescriptor listener = Loopback(SOCK_STREAM, &addr);
    if (!listener || ::listen(listener.get(), 4) != 0) return Verdict::Broken("tcp listen");
    const Deadline d = CaseDeadline(env);
    FileDescriptor c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return Verdict::Broken("connect");
    FileDescriptor conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return Verdict::Broken("accept");
    std::vector<std::byte> p = Payload(1, 0, unread);
    if (int rc = WriteFull(c.get(), p.data(), p.size()); rc != 0) return Verdict::Broken("write");
    // Wait until all of it is in the server's receive queue, unread.
    int queued = 0;
    while (!d.Passed()) {
      if (PollOne(conn.get(), POLLIN, d) <= 0 || ::ioctl(conn.get(), FIONREAD, &queued) != 0) break;
      if (static_cast<uint64_t>(queued) >= unread) break;
      absl::SleepFor(absl::Microseconds(200));
    }
    conn.reset();
    if (PollOne(c.get(), POLLIN | POLLERR | POLLHUP, d) <= 0)
      return Verdict::Fail("nothing reached the peer after the close");
    char buf[16];
    const ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
    if (n != -1 || errno != ECONNRESET) {
      return Verdict::Fail(absl::StrFormat(
          "after the peer closed with %d unread bytes, recv gave %d %s, expected ECONNRESET",
          unread, n, n < 0 ? ErrnoName(errno) : ""));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(TcpResetProperty);

class UdpBoundaryProperty : public NamedProperty {
 public:
  UdpBoundaryProperty()
      : NamedProperty(
            "INET-UDP-BOUNDARY",
            "UDP keeps datagram boundaries: whatever arrives is one whole sent datagram, never "
            "merged, split, corrupted or duplicated (loss is allowed)",
            "udp(7); gVisor test/syscalls/linux/udp_socket.cc") {}
  Applicability AppliesTo(const Transport& t) const override {
    return OnlyFor(t, {"udp"}, "INET-UDP-* checks UDP itself");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(
        rc::gen::resize(
            20,
            rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                rc::gen::weightedOneOf<uint64_t>({{2, rc::gen::inRange<uint64_t>(0, 64)},
                                                  {1, rc::gen::inRange<uint64_t>(0, 65508)}})))),
        [](const std::vector<uint64_t>& sizes) {
          std::vector<Step> steps;
          for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
          return steps;
        });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<uint64_t> sizes = SizesOf(s);
    sockaddr_in raddr, saddr;
    FileDescriptor r = Loopback(SOCK_DGRAM, &raddr), w = Loopback(SOCK_DGRAM, &saddr);
    if (!r || !w) return Verdict::Broken("udp bind");
    int big = 4 << 20;
    ::setsockopt(r.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::vector<std::byte> p = Payload(1, i, sizes[i]);
      if (::sendto(w.get(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&raddr),
                   sizeof raddr) != static_cast<ssize_t>(p.size())) {
        return Verdict::Broken(absl::StrCat("sendto: ", ErrnoName(errno)));
      }
    }
    std::vector<bool> seen(sizes.size());
    std::vector<std::byte> buf(65536);
    size_t got = 0;
    while (PollOne(r.get(), POLLIN, Deadline::After(absl::Milliseconds(200))) > 0) {
      struct iovec iov = {buf.data(), buf.size()};
      struct msghdr mh = {};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      const ssize_t n = ::recvmsg(r.get(), &mh, 0);
      if (n < 0) return Verdict::Fail(absl::StrCat("recvmsg: ", ErrnoName(errno)));
      ++got;
      bool matched = false;
      for (size_t i = 0; i < sizes.size() && !matched; ++i) {
        if (!seen[i] && sizes[i] == static_cast<uint64_t>(n) &&
            Check(std::vector<std::byte>(buf.begin(), buf.begin() + n), 1, i, sizes[i]).empty()) {
          seen[i] = matched = true;
        }
      }
      if (!matched || (mh.msg_flags & MSG_TRUNC)) {
        return Verdict::Fail(absl::StrFormat(
            "datagram %d (%d bytes) is no whole sent datagram not yet received: merged, "
            "split, corrupted or duplicated",
            got, n));
      }
      if (got == sizes.size()) break;
    }
    (void)env;
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(UdpBoundaryProperty);

int CountSocketFds() {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (struct dirent* e = ::readdir(dir)) {
    char target[64] = {};
    const std::string p = absl::StrCat("/proc/self/fd/", e->d_name);
    if (::readlink(p.c_str(), target, sizeof target - 1) > 0 && strncmp(target, "socket:", 7) == 0)
      ++n;
  }
  ::closedir(dir);
  return n;
}

class ForkServerProperty : public NamedProperty {
 public:
  ForkServerProperty(std::string_view id, int family)
      : NamedProperty(
            id,
            "a server forking one child per accepted connection serves N concurrent clients: each "
            "gets exactly its own reply, then EOF when its child closes (no other process holds "
            "it)",
            "the seed's second worked example; accept(2), fork(2) (descriptors are inherited); "
            "Stevens UNP 4.8 'Concurrent Servers'"),
        family_(family) {}
  Applicability AppliesTo(const Transport& t) const override {
    return family_ == AF_UNIX
               ? OnlyFor(t, {"unix_stream"},
                         "the fork-per-connection server runs on AF_UNIX SOCK_STREAM")
               : OnlyFor(t, {"tcp"}, "the fork-per-connection server runs on TCP");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange(1, 9),
                        [](int n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  int DefaultExamples() const override { return 20; }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    return CheckForkServer(family_, static_cast<int>(s.Param(0, 3)), true, env);
  }

 private:
  int family_;
};
class UnixForkServer : public ForkServerProperty {
 public:
  UnixForkServer() : ForkServerProperty("UNIX-FORK-SERVER", AF_UNIX) {}
};
class InetForkServer : public ForkServerProperty {
 public:
  InetForkServer() : ForkServerProperty("INET-FORK-SERVER", AF_INET) {}
};
IPCSPEC_REGISTER_PROPERTY(UnixForkServer);
IPCSPEC_REGISTER_PROPERTY(InetForkServer);

}  // namespace

Verdict CheckForkServer(int family, int clients, bool close_in_parent, const CaseEnv& env) {
  const Deadline d = CaseDeadline(env);
  sockaddr_storage addr = {};
  socklen_t addr_len = 0;
  FileDescriptor listener;
  const std::string path = env.scratch_dir + "/server";
  if (family == AF_UNIX) {
    sockaddr_un un = UnixAddr(path);
    memcpy(&addr, &un, sizeof un);
    addr_len = sizeof un;
    listener = FileDescriptor(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
      return Verdict::Broken("unix bind");
    }
  } else {
    sockaddr_in in;
    listener = Loopback(SOCK_STREAM, &in);
    memcpy(&addr, &in, sizeof in);
    addr_len = sizeof in;
  }
  struct Unlink {
    std::string p;
    ~Unlink() { ::unlink(p.c_str()); }
  } unlink_path{family == AF_UNIX ? path : ""};
  if (!listener || ::listen(listener.get(), clients) != 0) return Verdict::Broken("listen");
  SharedFlags flags(2);  // 0: every client finished, servers may exit
  ProcessBarrier connected(static_cast<uint32_t>(clients));
  Participants ps(d);
  for (int i = 0; i < clients; ++i) {
    ps.Spawn(absl::StrCat("client ", i), [&, i]() -> Verdict {
      listener.reset();
      FileDescriptor c(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
        return Verdict::Broken(absl::StrCat("connect: ", ErrnoName(errno)));
      }
      if (!connected.Wait(d)) return Verdict::Broken("barrier");
      const uint32_t id = static_cast<uint32_t>(i);
      if (WriteFull(c.get(), &id, sizeof id) != 0) return Verdict::Fail("sending its number");
      std::vector<std::byte> reply(100 + i);
      if (int rc = ReadFull(c.get(), reply.data(), reply.size()); rc != 0) {
        return Verdict::Fail(absl::StrCat("no whole reply: ", Errno(rc)));
      }
      if (reply != Payload(7, i, 100 + i)) {
        std::optional<int> whose;
        for (int j = 0; j < clients; ++j) {
          std::vector<std::byte> other = Payload(7, j, 100 + i);
          if (reply == other) whose = j;
        }
        return Verdict::Fail(whose ? absl::StrFormat("got client %d's reply", *whose)
                                   : std::string("got a corrupted reply"));
      }
      char extra;
      const Deadline eof_by = Deadline::After(absl::Seconds(2));
      if (PollOne(c.get(), POLLIN, eof_by) <= 0) {
        return Verdict::Fail(
            "its server child closed the connection but no end of file came within 2 s: another "
            "process still holds the connection's descriptor");
      }
      if (ssize_t n = ::read(c.get(), &extra, 1); n != 0)
        return Verdict::Fail("bytes after the reply instead of EOF");
      return Verdict::Pass();
    });
  }
  std::vector<pid_t> servers;
  std::vector<FileDescriptor> kept;  // the leaky server's forgotten descriptors
  Verdict failure = Verdict::Pass();
  for (int i = 0; i < clients; ++i) {
    if (PollOne(listener.get(), POLLIN, d) <= 0) {
      failure = Verdict::Fail(absl::StrFormat("only %d of %d clients connected", i, clients));
      break;
    }
    FileDescriptor conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      failure = Verdict::Broken(absl::StrCat("accept: ", ErrnoName(errno)));
      break;
    }
    pid_t pid = ForkChild([&] {
      listener.reset();
      const int sockets = CountSocketFds();
      uint32_t id = 0;
      if (ReadFull(conn.get(), &id, sizeof id) != 0) return 2;
      std::vector<std::byte> reply = Payload(7, id, 100 + id);
      if (WriteFull(conn.get(), reply.data(), reply.size()) != 0) return 3;
      conn.reset();
      flags.WaitFor(0, d);  // stay alive, holding whatever else it holds
      return sockets == 1 ? 0 : 10 + std::min(sockets, 100);
    });
    if (pid < 0) {
      failure = Verdict::Broken("fork");
      break;
    }
    servers.push_back(pid);
    if (!close_in_parent) kept.push_back(std::move(conn));
  }
  Verdict v = ps.Join();
  flags.Raise(0);
  kept.clear();
  for (size_t i = 0; i < servers.size(); ++i) {
    int status = 0;
    if (!WaitChild(servers[i], 0, d, &status)) {
      KillAndReap(servers[i]);
      if (v.ok()) v = Verdict::Fail(absl::StrFormat("server child %d did not exit", i));
    } else if (v.ok() && WIFEXITED(status) && WEXITSTATUS(status) >= 10) {
      v = Verdict::Fail(absl::StrFormat(
          "server child %d held %d socket descriptors, expected only its connection", i,
          WEXITSTATUS(status) - 10));
    } else if (v.ok() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      v = Verdict::Fail(absl::StrFormat("server child %d %s", i, DescribeWaitStatus(status)));
    }
  }
  if (!failure.ok()) return failure;
  return v;
}

}  // namespace ipcspec::props
