// UNIX-SCM-RIGHTS, UNIX-PEERCRED, UNIX-ADDRINUSE: what only AF_UNIX sockets
// do: pass descriptors, name the peer, own a file-system path.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/socket/socket_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

class ScmRightsProperty : public NamedProperty {
 public:
  ScmRightsProperty()
      : NamedProperty(
            "UNIX-SCM-RIGHTS",
            "SCM_RIGHTS passes working descriptors: pipe write ends made after fork, sent to "
            "another process, carry its writes back to the sender's read ends",
            "unix(7) SCM_RIGHTS, cmsg(3); gVisor test/syscalls/linux/socket_unix.cc; LTP "
            "testcases/kernel/syscalls/sendmsg/") {}
  Applicability AppliesTo(const Transport& t) const override {
    return OnlyFor(t,
                   {"unix_stream", "unix_dgram", "unix_seqpacket", "socketpair_stream",
                    "socketpair_dgram", "socketpair_seqpacket"},
                   "SCM_RIGHTS is an AF_UNIX feature");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange(1, 9),
                        [](int n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const int k = static_cast<int>(s.Param(0, 2));
    FileDescriptor a, b;
    if (Verdict v = Connect(t, env, &a, &b); !v.ok()) return v;
    const Deadline d = CaseDeadline(env);
    Participants ps(d);
    ps.Spawn("sender", [&]() -> Verdict {
      b.reset();
      std::vector<FileDescriptor> readers, writers;
      for (int i = 0; i < k; ++i) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) return Verdict::Broken("pipe2");
        readers.emplace_back(p[0]);
        writers.emplace_back(p[1]);
      }
      std::vector<char> control(CMSG_SPACE(sizeof(int) * k));
      char byte = 'F';
      struct iovec iov = {&byte, 1};
      struct msghdr mh = {};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      mh.msg_control = control.data();
      mh.msg_controllen = control.size();
      struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * k);
      for (int i = 0; i < k; ++i) {
        const int fd = writers[i].get();
        memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
      }
      if (::sendmsg(a.get(), &mh, MSG_NOSIGNAL) != 1)
        return Verdict::Broken(absl::StrCat("sendmsg: ", ErrnoName(errno)));
      writers.clear();  // the receiver's copies are now the only write ends
      for (int i = 0; i < k; ++i) {
        std::vector<std::byte> got(64 + i), want = Payload(3, i, 64 + i);
        if (int rc = ReadFull(readers[i].get(), got.data(), got.size()); rc != 0) {
          return Verdict::Fail(absl::StrFormat(
              "pipe %d: nothing came back through the passed write end (%s)", i, Errno(rc)));
        }
        if (got != want)
          return Verdict::Fail(
              absl::StrFormat("pipe %d: wrong bytes through the passed descriptor", i));
        char extra;
        if (::read(readers[i].get(), &extra, 1) != 0) {
          return Verdict::Fail(absl::StrFormat(
              "pipe %d: no end of file after the receiver closed the passed end", i));
        }
      }
      return Verdict::Pass();
    });
    a.reset();
    if (PollOne(b.get(), POLLIN, d) <= 0)
      return Verdict::Fail("the SCM_RIGHTS message never arrived");
    std::vector<char> control(CMSG_SPACE(sizeof(int) * 16));
    char byte = 0;
    struct iovec iov = {&byte, 1};
    struct msghdr mh = {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control.data();
    mh.msg_controllen = control.size();
    if (::recvmsg(b.get(), &mh, MSG_CMSG_CLOEXEC) != 1)
      return Verdict::Fail(absl::StrCat("recvmsg: ", ErrnoName(errno)));
    std::vector<FileDescriptor> got;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        got.emplace_back(fd);
      }
    }
    if (got.size() != static_cast<size_t>(k) || (mh.msg_flags & MSG_CTRUNC)) {
      return Verdict::Fail(absl::StrFormat("%d descriptors sent, %d received%s", k, got.size(),
                                           (mh.msg_flags & MSG_CTRUNC) ? " (MSG_CTRUNC)" : ""));
    }
    for (int i = 0; i < k; ++i) {
      std::vector<std::byte> p = Payload(3, i, 64 + i);
      if (int rc = WriteFull(got[i].get(), p.data(), p.size()); rc != 0) {
        return Verdict::Fail(
            absl::StrFormat("write through received descriptor %d: %s", i, Errno(rc)));
      }
      got[i].reset();
    }
    return ps.Join();
  }
};
IPCSPEC_REGISTER_PROPERTY(ScmRightsProperty);

class PeerCredProperty : public NamedProperty {
 public:
  PeerCredProperty()
      : NamedProperty(
            "UNIX-PEERCRED",
            "SO_PEERCRED names the peer: the connecting process's pid/uid/gid on the accepted "
            "socket, the listener's on the connected one, the creator's on a socketpair",
            "unix(7) SO_PEERCRED; gVisor test/syscalls/linux/socket_unix.cc") {}
  Applicability AppliesTo(const Transport& t) const override {
    return OnlyFor(t,
                   {"unix_stream", "unix_seqpacket", "socketpair_stream", "socketpair_seqpacket",
                    "socketpair_dgram"},
                   "SO_PEERCRED is defined for connected stream/seqpacket sockets and socketpairs");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::just(std::vector<Step>{});
  }
  Verdict Run(const Transport& t, const Scenario&, const CaseEnv& env) const override {
    const Deadline d = CaseDeadline(env);
    const pid_t me = ::getpid();
    auto cred_of = [](int fd, struct ucred* c) {
      socklen_t len = sizeof *c;
      return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, c, &len) == 0;
    };
    auto same = [](const struct ucred& c, pid_t pid) {
      return c.pid == pid && c.uid == ::getuid() && c.gid == ::getgid();
    };
    Participants ps(d);
    if (IsPair(t)) {
      int sv[2];
      if (::socketpair(AF_UNIX, TypeOf(t) | SOCK_CLOEXEC, 0, sv) != 0)
        return Verdict::Broken("socketpair");
      FileDescriptor a(sv[0]), b(sv[1]);
      ps.Spawn("holder", [&]() -> Verdict {
        struct ucred c = {};
        if (!cred_of(b.get(), &c) || !same(c, me)) {
          return Verdict::Fail(absl::StrFormat(
              "SO_PEERCRED of a socketpair end held by a child: pid %d uid %d gid %d, "
              "expected the creator %d %d %d",
              c.pid, c.uid, c.gid, me, ::getuid(), ::getgid()));
        }
        return Verdict::Pass();
      });
      return ps.Join();
    }
    const std::string path = env.scratch_dir + "/peercred";
    const sockaddr_un sa = UnixAddr(path);
    FileDescriptor listener(::socket(AF_UNIX, TypeOf(t) | SOCK_CLOEXEC, 0));
    if (!listener ||
        ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(listener.get(), 4) != 0) {
      ::unlink(path.c_str());
      return Verdict::Broken(absl::StrCat("bind/listen: ", ErrnoName(errno)));
    }
    SharedFlags client_pid(1);
    ps.Spawn("client", [&]() -> Verdict {
      client_pid.Counter(0).store(static_cast<uint64_t>(::getpid()));
      FileDescriptor c(::socket(AF_UNIX, TypeOf(t) | SOCK_CLOEXEC, 0));
      if (::connect(c.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
        return Verdict::Broken("connect");
      struct ucred cr = {};
      if (!cred_of(c.get(), &cr) || !same(cr, me)) {
        return Verdict::Fail(
            absl::StrFormat("client's SO_PEERCRED: pid %d, expected the listener %d", cr.pid, me));
      }
      char x;
      (void)!::read(c.get(), &x, 1);  // stay connected until the server checked
      return Verdict::Pass();
    });
    std::string failure;
    FileDescriptor conn;
    if (PollOne(listener.get(), POLLIN, d) > 0)
      conn = FileDescriptor(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ::unlink(path.c_str());
    if (!conn) {
      failure = "accept failed";
    } else {
      struct ucred cr = {};
      const auto client = static_cast<pid_t>(client_pid.Counter(0).load());
      if (!cred_of(conn.get(), &cr) || !same(cr, client)) {
        failure = absl::StrFormat(
            "accepted socket's SO_PEERCRED: pid %d uid %d gid %d, expected the client %d %d %d",
            cr.pid, cr.uid, cr.gid, client, ::getuid(), ::getgid());
      }
    }
    conn.reset();
    Verdict v = ps.Join();
    if (!failure.empty()) return Verdict::Fail(failure);
    return v;
  }
};
IPCSPEC_REGISTER_PROPERTY(PeerCredProperty);

class AddrInUseProperty : public NamedProperty {
 public:
  AddrInUseProperty()
      : NamedProperty(
            "UNIX-ADDRINUSE",
            "binding a path that is bound (or left behind by a closed socket) gives EADDRINUSE; "
            "after unlink the path binds again",
            "unix(7) EADDRINUSE, bind(2); LTP testcases/kernel/syscalls/bind/bind02.c") {}
  Applicability AppliesTo(const Transport& t) const override {
    return OnlyFor(t, {"unix_stream", "unix_dgram", "unix_seqpacket"},
                   "binding a path: named AF_UNIX sockets only");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::just(std::vector<Step>{});
  }
  Verdict Run(const Transport& t, const Scenario&, const CaseEnv& env) const override {
    const std::string path = env.scratch_dir + "/inuse";
    const sockaddr_un sa = UnixAddr(path);
    auto bind_new = [&](FileDescriptor* out) {
      *out = FileDescriptor(::socket(AF_UNIX, TypeOf(t) | SOCK_CLOEXEC, 0));
      return ::bind(out->get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0 ? 0 : errno;
    };
    FileDescriptor first, second, third;
    std::string failure;
    if (bind_new(&first) != 0) {
      ::unlink(path.c_str());
      return Verdict::Broken("first bind");
    }
    if (int e = bind_new(&second); e != EADDRINUSE) {
      failure = absl::StrCat("binding a bound path: ", e == 0 ? "succeeded" : ErrnoName(e),
                             ", expected EADDRINUSE");
    }
    first.reset();
    if (int e = bind_new(&second); failure.empty() && e != EADDRINUSE) {
      failure = absl::StrCat("binding the path of a closed socket (node still there): ",
                             e == 0 ? "succeeded" : ErrnoName(e), ", expected EADDRINUSE");
    }
    ::unlink(path.c_str());
    if (int e = bind_new(&third); failure.empty() && e != 0)
      failure = absl::StrCat("bind after unlink: ", ErrnoName(e));
    ::unlink(path.c_str());
    return failure.empty() ? Verdict::Pass() : Verdict::Fail(failure);
  }
};
IPCSPEC_REGISTER_PROPERTY(AddrInUseProperty);

}  // namespace
}  // namespace ipcspec::props
