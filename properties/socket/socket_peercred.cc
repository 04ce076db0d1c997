// UNIX-PEERCRED: SO_PEERCRED names the process that made the connection (or
// the pair), with the credentials it had at connect(2), listen(2) or
// socketpair(2), whoever holds the socket later and at whatever depth of the
// process tree it was forked.
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "properties/socket/socket_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace socket_peercred {

// The uid and gid a connecting process switches to when the case runs as
// root (nobody's, on most systems).
constexpr uid_t kOtherId = 65534;

struct Cred {
  pid_t pid;
  uid_t uid;
  gid_t gid;
  bool operator==(const Cred&) const = default;
};
Cred Self() { return {::getpid(), ::geteuid(), ::getegid()}; }
std::string Say(const Cred& c) {
  return absl::StrFormat("pid %d uid %d gid %d", c.pid, c.uid, c.gid);
}
// SO_PEERCRED of `fd`; pid -1 when it fails.
Cred PeerOf(int fd) {
  struct ucred u = {};
  socklen_t len = sizeof u;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &len) != 0) return {-1, 0, 0};
  return {u.pid, u.uid, u.gid};
}

// What the processes of one case share: the credentials the connecting (or
// pair-making) process had, and the first failure any descendant saw.
// Flags: 0 it has connected, 1 the check is done.
class PeerState {
 public:
  PeerState() : flags_(2), mem_(sizeof(Shared)) {}
  void Record(const Cred& c) {
    shared()->cred = c;
    shared()->recorded.store(1);
  }
  Cred recorded() const { return shared()->cred; }
  void Fail(const std::string& text) {
    uint32_t none = 0;
    if (!shared()->failed.compare_exchange_strong(none, 1)) return;
    const size_t n = std::min(text.size(), sizeof(shared()->text) - 1);
    std::memcpy(shared()->text, text.data(), n);
    shared()->text[n] = '\0';
  }
  std::string failure() const { return shared()->failed.load() != 0 ? shared()->text : ""; }
  SharedFlags& flags() { return flags_; }

 private:
  struct Shared {
    std::atomic<uint32_t> recorded, failed;
    Cred cred;
    char text[512];
  };
  Shared* shared() const { return static_cast<Shared*>(mem_.data()); }
  SharedFlags flags_;
  SharedMemory mem_;
};

// Runs `leaf` in a process forked `depth` levels below the caller (0: in the
// caller) and waits for the chain; orphans of the chain are reaped by the
// caller, a subreaper.
void RunAtDepth(int depth, const std::function<void()>& leaf) {
  if (depth <= 0) {
    leaf();
    return;
  }
  const pid_t pid = ForkChild([&] {
    RunAtDepth(depth - 1, leaf);
    return 0;
  });
  if (pid > 0) ::waitpid(pid, nullptr, 0);
}

// Switches to another uid and gid, when permitted (the case runs as root).
bool SwitchIdentity(PeerState& st) {
  if (::setgroups(0, nullptr) != 0 || ::setresgid(kOtherId, kOtherId, kOtherId) != 0 ||
      ::setresuid(kOtherId, kOtherId, kOtherId) != 0) {
    st.Fail(absl::StrCat("switching to uid ", kOtherId, ": ", ErrnoName(errno)));
    return false;
  }
  return true;
}

// Waits until `pid` has exited (a pidfd turns readable), so a check after it
// sees a connection whose maker is gone.
bool WaitGone(pid_t pid, const Deadline& d) {
  FileDescriptor pidfd(PidfdOpen(pid));
  if (!pidfd) return errno == ESRCH;
  return PollOne(pidfd.get(), POLLIN, d) > 0;
}

struct PeerPlan {
  int type;
  int depth;         // the maker runs this many forks below the case
  bool handoff;      // the maker gives its socket to a child and exits first
  bool other_id;     // the maker switches uid/gid first (root only)
  Cred listener;     // the case, at listen(2)
  sockaddr_un addr;  // the listener's abstract name
  Deadline deadline;
};

// The connecting process: connect, check its own SO_PEERCRED names the
// listener, then either stay until the case has checked, or hand the socket
// to a child and exit at once. Flag 0 says its attempt is over.
void Connector(const PeerPlan& plan, PeerState& st) {
  if (plan.other_id && !SwitchIdentity(st)) {
    st.flags().Raise(0);
    return;
  }
  st.Record(Self());
  FileDescriptor c(::socket(AF_UNIX, plan.type | SOCK_CLOEXEC, 0));
  if (::connect(c.get(), reinterpret_cast<const sockaddr*>(&plan.addr), sizeof plan.addr) != 0) {
    st.Fail(absl::StrCat("connect: ", ErrnoName(errno)));
    st.flags().Raise(0);
    return;
  }
  if (const Cred got = PeerOf(c.get()); !(got == plan.listener)) {
    st.Fail(absl::StrCat("the connected socket's SO_PEERCRED says ", Say(got),
                         "; expected the listener, ", Say(plan.listener)));
  }
  if (plan.handoff) {
    ForkChild([&] { return st.flags().WaitFor(1, plan.deadline) ? 0 : 1; });
    c.reset();
    st.flags().Raise(0);
    return;
  }
  st.flags().Raise(0);
  st.flags().WaitFor(1, plan.deadline);
}

// The pair maker: socketpair, then a child checks that both ends name the
// maker, after the maker exited (handoff) or while it waits.
void PairMaker(const PeerPlan& plan, PeerState& st) {
  if (plan.other_id && !SwitchIdentity(st)) return;
  const Cred maker = Self();
  st.Record(maker);
  int sv[2];
  if (::socketpair(AF_UNIX, plan.type | SOCK_CLOEXEC, 0, sv) != 0) {
    st.Fail(absl::StrCat("socketpair: ", ErrnoName(errno)));
    return;
  }
  FileDescriptor a(sv[0]), b(sv[1]);
  const pid_t checker = ForkChild([&] {
    if (plan.handoff && !WaitGone(maker.pid, plan.deadline))
      st.Fail("the pair's maker never exited");
    for (const FileDescriptor* end : {&a, &b}) {
      if (const Cred got = PeerOf(end->get()); !(got == maker)) {
        st.Fail(absl::StrCat("SO_PEERCRED of a socketpair end held by another process says ",
                             Say(got), "; expected the maker, ", Say(maker)));
      }
    }
    return 0;
  });
  if (!plan.handoff && checker > 0) ::waitpid(checker, nullptr, 0);
}

constexpr std::string_view kHandoff[] = {"stays until the check",
                                         "hands its socket to a child and exits before the check"};
constexpr std::string_view kIdentities[] = {
    "keeps the case's uid/gid", "switches to uid/gid 65534 first (when the case runs as root)"};

// The AF_UNIX sockets SO_PEERCRED is defined for.
Applicability ForPeerCred(const Transport& t) {
  return OnlyFor(t,
                 {"unix_stream", "unix_seqpacket", "socketpair_stream", "socketpair_seqpacket",
                  "socketpair_dgram"},
                 "SO_PEERCRED is defined for connected stream/seqpacket sockets and socketpairs");
}

class PeerCredProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    PeerPlan plan{TypeOf(t),        std::clamp(depth_.Of(s), 1, 3),
                  handoff_.Of(s),   other_id_.Of(s) && ::geteuid() == 0,
                  Self(),           UnixAddr(""),
                  CaseDeadline(env)};
    PeerState st;
    if (IsPair(t)) return RunPair(plan, st);
    return RunConnection(plan, st);
  }

  // Forks the participant that runs `leaf` the plan's depth of forks below
  // it, and reaps whatever the chain leaves.
  static void SpawnChain(Participants& ps, const PeerPlan& plan, PeerState& st,
                         const std::function<void()>& leaf) {
    ps.Spawn(absl::StrFormat("process chain %d deep", plan.depth), [&]() -> Verdict {
      ::prctl(PR_SET_CHILD_SUBREAPER, 1);
      RunAtDepth(plan.depth, leaf);
      while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
      }
      if (std::string f = st.failure(); !f.empty()) return Verdict::Fail(f);
      return Verdict::Pass();
    });
  }

  static Verdict RunPair(const PeerPlan& plan, PeerState& st) {
    Participants ps(plan.deadline);
    SpawnChain(ps, plan, st, [&] { PairMaker(plan, st); });
    return ps.Join();
  }

  static Verdict RunConnection(PeerPlan& plan, PeerState& st) {
    const std::string name = UniqueName("ipcspec-peercred");
    plan.addr = UnixAddr("");
    std::memcpy(plan.addr.sun_path + 1, name.data(),
                std::min(name.size(), sizeof plan.addr.sun_path - 2));
    FileDescriptor listener(::socket(AF_UNIX, plan.type | SOCK_CLOEXEC, 0));
    if (!listener ||
        ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&plan.addr), sizeof plan.addr) !=
            0 ||
        ::listen(listener.get(), 4) != 0) {
      return Verdict::Broken(absl::StrCat("bind/listen @", name, ": ", ErrnoName(errno)));
    }
    Participants ps(plan.deadline);
    SpawnChain(ps, plan, st, [&] {
      listener.reset();
      Connector(plan, st);
    });
    std::string failure;
    FileDescriptor conn;
    // An AF_UNIX connect returns once the connection is queued on the
    // listener, so it can be accepted without waiting.
    if (!st.flags().WaitFor(0, plan.deadline)) {
      failure = "the connecting process never connected";
    } else if (st.failure().empty()) {
      conn =
          FileDescriptor(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!conn) failure = absl::StrCat("accept: ", ErrnoName(errno));
    }
    if (conn && failure.empty() && plan.handoff && !WaitGone(st.recorded().pid, plan.deadline))
      failure = "the connecting process never exited";
    if (conn && failure.empty()) {
      if (const Cred got = PeerOf(conn.get()); !(got == st.recorded())) {
        failure = absl::StrCat("the accepted socket's SO_PEERCRED says ", Say(got),
                               "; expected the connecting process, ", Say(st.recorded()));
      }
    }
    st.flags().Raise(1);
    Verdict v = ps.Join();
    if (!failure.empty()) return Verdict::Fail(failure);
    return v;
  }

  const Param<int> depth_{this, 0,
                          "forks between the case's first child and the connecting (or "
                          "pair-making) process: %s",
                          1, rc::gen::inRange(1, 4)};
  const ChoiceParam<bool> handoff_{this, 1, "that process %s", false, kHandoff};
  const ChoiceParam<bool> other_id_{this, 2, "that process %s", false, kIdentities};
};
IPCSPEC_REGISTER_PROPERTY(PeerCredProperty, "UNIX-PEERCRED", {.applies = ForPeerCred});

}  // namespace socket_peercred
}  // namespace
}  // namespace ipcspec::props
