// UNIX-FORK-SERVER, INET-FORK-SERVER: the fork-per-connection server
// (properties/socket/socket_server.h), in named steps: listen, clients that
// connect and check their reply and end of file, accept-and-fork, the
// parent's own descriptors, and reaping the server children.
#include "properties/socket/socket_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "properties/socket/socket_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

// How many of this process's descriptors are sockets; -1 when unreadable.
int CountSocketFds() {
  int n = 0;
  const bool read = ForEachDescriptor([&n](int fd) {
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) ++n;
  });
  return read ? n : -1;
}

// The server's listening socket and the address clients connect to.
struct Listener {
  FileDescriptor fd;
  sockaddr_storage addr = {};
  socklen_t addr_len = 0;
  std::string path;  // AF_UNIX only; unlinked on destruction
  ~Listener() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

Verdict Listen(int family, int backlog, const CaseEnv& env, Listener* l) {
  if (family == AF_UNIX) {
    l->path = absl::StrCat(env.scratch_dir, "/", UniqueName("server"));
    const sockaddr_un un = UnixAddr(l->path);
    std::memcpy(&l->addr, &un, sizeof un);
    l->addr_len = sizeof un;
    l->fd = FileDescriptor(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!l->fd || ::bind(l->fd.get(), reinterpret_cast<sockaddr*>(&l->addr), l->addr_len) != 0)
      return Verdict::Broken(absl::StrCat("bind ", l->path, ": ", ErrnoName(errno)));
  } else {
    sockaddr_in in;
    l->fd = Loopback(SOCK_STREAM, &in);
    std::memcpy(&l->addr, &in, sizeof in);
    l->addr_len = sizeof in;
    if (!l->fd) return Verdict::Broken(absl::StrCat("bind 127.0.0.1: ", ErrnoName(errno)));
  }
  if (::listen(l->fd.get(), backlog) != 0)
    return Verdict::Broken(absl::StrCat("listen: ", ErrnoName(errno)));
  return Verdict::Pass();
}

// Client i: connect, wait until every client has connected, send its number,
// read exactly its own reply, then end of file.
Verdict Client(int i, int clients, int family, Listener& l, ProcessBarrier& connected,
               const Deadline& d) {
  l.fd.reset();
  FileDescriptor c(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(c.get(), reinterpret_cast<sockaddr*>(&l.addr), l.addr_len) != 0)
    return Verdict::Broken(absl::StrCat("connect: ", ErrnoName(errno)));
  if (!connected.Wait(d)) return Verdict::Broken("barrier");
  const uint32_t id = static_cast<uint32_t>(i);
  if (WriteFull(c.get(), &id, sizeof id) != 0) return Verdict::Fail("sending its number");
  std::vector<std::byte> reply(100 + i);
  if (int rc = ReadFull(c.get(), reply.data(), reply.size()); rc != 0)
    return Verdict::Fail(absl::StrCat("no whole reply: ", Errno(rc)));
  if (reply != Payload(7, i, 100 + i)) {
    std::optional<int> whose;
    for (int j = 0; j < clients; ++j) {
      if (reply == Payload(7, j, 100 + i)) whose = j;
    }
    return Verdict::Fail(whose ? absl::StrFormat("got client %d's reply", *whose)
                               : std::string("got a corrupted reply"));
  }
  // Its server child closes after replying; the end of file then comes at
  // once unless another process still holds the connection.
  if (PollOne(c.get(), POLLIN, d) <= 0) {
    return Verdict::Fail(
        "its server child closed the connection but no end of file came: another process "
        "still holds the connection's descriptor");
  }
  char extra;
  if (ssize_t n = ::read(c.get(), &extra, 1); n != 0)
    return Verdict::Fail("bytes after the reply instead of end of file");
  return Verdict::Pass();
}

// A server child: reads the client's number, replies, closes, then stays
// alive (holding whatever else it holds) until every client is done. Exit
// 10 + n when it held n sockets besides the `expected` ones.
int ServerChild(Listener& l, FileDescriptor& conn, int expected, const SharedFlags& done,
                const Deadline& d) {
  l.fd.reset();
  const int sockets = CountSocketFds();
  uint32_t id = 0;
  if (ReadFull(conn.get(), &id, sizeof id) != 0) return 2;
  std::vector<std::byte> reply = Payload(7, id, 100 + id);
  if (WriteFull(conn.get(), reply.data(), reply.size()) != 0) return 3;
  conn.reset();
  done.WaitFor(0, d);
  return sockets == expected ? 0 : 10 + std::clamp(sockets - expected, 0, 100);
}

// Waits for every server child; the first wrong exit as a failure.
Verdict ReapServers(const std::vector<pid_t>& servers, const Deadline& d) {
  Verdict v = Verdict::Pass();
  for (size_t i = 0; i < servers.size(); ++i) {
    int status = 0;
    if (!WaitChild(servers[i], 0, d, &status)) {
      KillAndReap(servers[i]);
      if (v.ok()) v = Verdict::Fail(absl::StrFormat("server child %d did not exit", i));
    } else if (v.ok() && WIFEXITED(status) && WEXITSTATUS(status) >= 10) {
      v = Verdict::Fail(absl::StrFormat(
          "server child %d held %d socket descriptors besides its connection: connections "
          "accepted before it was forked",
          i, WEXITSTATUS(status) - 10));
    } else if (v.ok() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      v = Verdict::Fail(absl::StrFormat("server child %d %s", i, DescribeWaitStatus(status)));
    }
  }
  return v;
}

// Accepts `clients` connections, forking a server child for each; the
// parent closes its copy unless it is the leaky server.
Verdict AcceptAndFork(Listener& l, int clients, bool close_in_parent, int baseline,
                      const SharedFlags& done, const Deadline& d, std::vector<pid_t>* servers,
                      std::vector<FileDescriptor>* kept) {
  for (int i = 0; i < clients; ++i) {
    if (PollOne(l.fd.get(), POLLIN, d) <= 0)
      return Verdict::Fail(absl::StrFormat("only %d of %d clients connected", i, clients));
    FileDescriptor conn(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return Verdict::Broken(absl::StrCat("accept: ", ErrnoName(errno)));
    // A child keeps the parent's sockets but the listener, plus its
    // connection: `baseline` in all.
    const pid_t pid = ForkChild([&] { return ServerChild(l, conn, baseline, done, d); });
    if (pid < 0) return Verdict::Broken(absl::StrCat("fork: ", ErrnoName(errno)));
    servers->push_back(pid);
    if (!close_in_parent) kept->push_back(std::move(conn));
  }
  return Verdict::Pass();
}

}  // namespace

Verdict CheckForkServer(int family, int clients, bool close_in_parent, const CaseEnv& env) {
  const Deadline d = CaseDeadline(env);
  Listener l;
  if (Verdict v = Listen(family, clients, env, &l); !v.ok()) return v;
  SharedFlags done(1);  // every client finished: the server children may exit
  ProcessBarrier connected(static_cast<uint32_t>(clients));
  Participants ps(d);
  for (int i = 0; i < clients; ++i) {
    ps.Spawn(absl::StrCat("client ", i),
             [&, i] { return Client(i, clients, family, l, connected, d); });
  }
  const int baseline = CountSocketFds();  // the listener and what the case held before
  std::vector<pid_t> servers;
  std::vector<FileDescriptor> kept;  // the leaky server's forgotten descriptors
  Verdict v = AcceptAndFork(l, clients, close_in_parent, baseline, done, d, &servers, &kept);
  if (const int now = CountSocketFds(); v.ok() && now != baseline) {
    v = Verdict::Fail(absl::StrFormat(
        "after forking a child per connection the server still holds %d accepted connections, "
        "so another process still holds each client's connection and no end of file can come",
        now - baseline));
  }
  if (v.ok()) v = ps.Join();
  done.Raise(0);
  kept.clear();
  Verdict reaped = ReapServers(servers, d);
  return v.ok() ? reaped : v;
}

namespace {

// UNIX-FORK-SERVER (family AF_UNIX) and INET-FORK-SERVER (AF_INET).
class ForkServerProperty final : public NamedProperty {
 public:
  explicit ForkServerProperty(int family) : family_(family) {}

 private:
  Applicability AppliesTo(const Transport& t) const override {
    return family_ == AF_UNIX
               ? OnlyFor(t, {"unix_stream"},
                         "the fork-per-connection server runs on AF_UNIX SOCK_STREAM")
               : OnlyFor(t, {"tcp"}, "the fork-per-connection server runs on TCP");
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    return CheckForkServer(family_, std::clamp(clients_.Of(s), 1, 16), true, env);
  }

  int family_;
  const Param<int> clients_{this, 0, "clients connecting at once: %s", 3, rc::gen::inRange(1, 9)};
};
IPCSPEC_REGISTER_PROPERTY(ForkServerProperty, "INET-FORK-SERVER", {.examples = 20}, AF_INET);
IPCSPEC_REGISTER_PROPERTY(ForkServerProperty, "UNIX-FORK-SERVER", {.examples = 20}, AF_UNIX);

}  // namespace
}  // namespace ipcspec::props
