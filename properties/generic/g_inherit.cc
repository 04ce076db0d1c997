// G-INHERIT: a descriptor a transport makes is close-on-exec from the
// moment it exists, inside its calls as well as between them.
//
// A process that uses a transport may have another thread that forks and
// execs at any moment (a subprocess library, a logger's helper). A
// descriptor without FD_CLOEXEC that exists at that moment goes into the
// new program, holds the channel open there (so END never comes, or a pipe
// never gives EPIPE) and leaks what it reaches. That is why the kernel
// gives every call that makes a descriptor a way to make it close-on-exec
// at once: O_CLOEXEC, SOCK_CLOEXEC, pipe2, accept4, MFD_CLOEXEC,
// EFD_CLOEXEC, F_DUPFD_CLOEXEC, and MSG_CMSG_CLOEXEC for descriptors passed
// in SCM_RIGHTS. Setting FD_CLOEXEC afterwards, or closing the descriptor
// before the call returns, leaves a window in which a fork inherits it.
//
// G-CLEANUP looks between calls; this property looks inside them. Every
// send and every receive of mixed traffic (G-INTEGRITY's, up to 16
// messages) is held at the entry of each of its system calls (call gate,
// support/call_gate.h), and while it is held the process's descriptors are
// read: one without FD_CLOEXEC that was not there when the traffic began
// fails, with what it is and the system call the hold was at. Each call
// and each of its system calls: a descriptor that lives between two system
// calls of one call only (one the first call opens to set something up
// lazily, and closes before it returns) is seen as surely as one that
// every call makes. (Holding one system call per call, call after call at
// the next, missed an outside plugin whose first send alone opened such a
// descriptor after its first system call.)
//
// The oracle for each capability class (generic/oracle.h): the same for
// all. What the traffic delivers is judged as G-INTEGRITY judges it
// (reliable or lossy, ordered or not, a counter's sum); duplex, capacity,
// peer-close and realtime change nothing here, since the check is of the
// descriptors, not of the data.
//
// Both actors are processes of their own (the case process, which never
// carries a gate, only waits). A descriptor a transport's own thread makes
// is seen too, if it lives while a call is held.
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"
#include "properties/support/call_gate.h"

namespace ipcspec::props {
namespace {
namespace g_inherit {

// Whether system call `nr` makes a pipe.
bool MakesPipe(long nr) {
#ifdef SYS_pipe
  if (nr == SYS_pipe) return true;
#endif
  return nr == SYS_pipe2;
}

// Calls fn(fd) for each descriptor of this process without FD_CLOEXEC.
// It allocates nothing (ForEachDescriptor): it runs while a thread of this
// process is held at a system call, which may be inside malloc with an
// arena locked.
template <typename Fn>
void ForEachInheritable(const Fn& fn) {
  ForEachDescriptor([&fn](int fd) {
    if (Inheritable(fd)) fn(fd);
  });
}

std::set<int> InheritableNow() {
  std::set<int> out;
  ForEachInheritable([&out](int fd) { out.insert(fd); });
  return out;
}

// An end whose every call is held at the entry of each of its system
// calls while the process's descriptors are read. `known`: the
// descriptors without FD_CLOEXEC the process had before the traffic (read
// before the gate was installed: every call of a gated thread costs a trip
// through the gate's thread).
class HeldEnd final : public End {
 public:
  HeldEnd(End& inner, CallGate& gate, std::set<int> known)
      : inner_(inner), gate_(gate), known_(std::move(known)) {}
  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    return Held("send", timeout_ms, [&] { return inner_.Send(buf, sent, timeout_ms); });
  }
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    return Held("receive", timeout_ms, [&] { return inner_.Recv(buf, received, timeout_ms); });
  }
  // "" or the first inheritable descriptor a call made.
  const std::string& found() const { return found_; }

 private:
  // What the gate's thread saw (fixed size: it allocates nothing).
  struct Seen {
    int fd = -1;
    long nr = -1;
    int at = 0;         // the system calls of this call held so far
    int held_at = 0;    // the one at which `fd` was seen
    long last_nr = -1;  // the system call held before this one, in this call
    char what[256] = {};
    char probes[2][64] = {};  // a sanitizer's probe pipes ("pipe:[N]"), not counted
    int next_probe = 0;
  };

  // At the entry of system call `nr` of a call, on the gate's thread.
  void Look(long nr) {
    ++seen_.at;
    // A sanitized build's runtime probes memory by writing it to a pipe it
    // makes and closes at once (sanitizer_common's IsAccessibleMemoryRange,
    // which UBSan's vptr check calls the first time it meets a type): a
    // pipe made by the system call just before a write is the runtime's.
    const bool probe = Sanitized() && nr == SYS_write && MakesPipe(seen_.last_nr);
    seen_.last_nr = nr;
    ForEachInheritable([&](int fd) {
      if (seen_.fd >= 0 || known_.count(fd) != 0) return;
      char what[sizeof seen_.what];
      char path[32];
      std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
      const ssize_t n = ::readlink(path, what, sizeof what - 1);
      what[n > 0 ? n : 0] = '\0';
      for (const char* p : seen_.probes) {
        if (p[0] != '\0' && std::strcmp(p, what) == 0) return;
      }
      if (probe && std::strncmp(what, "pipe:", 5) == 0) {
        char* slot = seen_.probes[seen_.next_probe++ % 2];
        std::memcpy(slot, what, sizeof seen_.probes[0] - 1);  // "pipe:[N]" fits
        slot[sizeof seen_.probes[0] - 1] = '\0';
        return;
      }
      seen_.fd = fd;
      seen_.nr = nr;
      seen_.held_at = seen_.at;
      std::memcpy(seen_.what, what, sizeof what);
    });
  }

  template <typename Call>
  int Held(std::string_view what, int timeout_ms, const Call& call) {
    if (!found_.empty()) return call();  // one is enough
    const int number = ++calls_;
    seen_.at = 0;
    seen_.last_nr = -1;
    // On the gate's thread, while this thread is held (Disarm orders what
    // it wrote before the reads below).
    gate_.Arm(CallGate::kEach, [this](long nr) { Look(nr); });
    const int rc = call();
    (void)gate_.Disarm();
    if (seen_.fd >= 0) {
      found_ = absl::StrFormat(
          "%s %d (timeout %d ms), held at the entry of its system call %d (%s): the process had "
          "descriptor %d (%s) without close-on-exec, made since the traffic began: a fork and "
          "exec by another thread at that moment passes it to the new program",
          what, number, timeout_ms, seen_.held_at, SyscallName(seen_.nr), seen_.fd,
          seen_.what[0] != '\0' ? seen_.what : "gone by now");
    }
    return rc;
  }

  End& inner_;
  CallGate& gate_;
  const std::set<int> known_;
  std::string found_;
  Seen seen_;
  int calls_ = 0;
};

// One side's part: its calls through a HeldEnd, then what the holds found.
std::string Watched(End& end, std::string_view who, const std::function<std::string(End&)>& part) {
  std::set<int> known = InheritableNow();
  std::unique_ptr<CallGate> gate = CallGate::Install();
  if (gate == nullptr) {
    return CallGate::NotInstalled(who);
  }
  HeldEnd held(end, *gate, std::move(known));
  std::string e = part(held);
  if (!held.found().empty()) return held.found();
  return e;
}

class InheritProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (Applicability gate = CallGate::Applies(); !gate.applies) return gate;
    return SummableIfCounter(c);
  }
  // Up to 16 messages: each of their calls passes the gate's thread.
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    return MixedTraffic(t.caps(), 16);
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const MixedPlan plan = MixedPlanOf(s);
    // Every system call of a gated thread waits for the gate's thread to
    // let it go on: on a loaded machine a call of many may take several
    // times as long. The bounds are four times the case's (the property is
    // not about time).
    CaseEnv gated = env;
    gated.time_unit *= 4;
    gated.hang_grace *= 4;
    Traffic traffic(t.caps(), gated, {plan.sent});
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   return Watched(*end, "the writer",
                                  [&](End& held) { return traffic.Write(held, 0, plan.try_send); });
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   return Watched(*end, "the reader",
                                  [&](End& held) { return traffic.Read(held, plan.chunks); });
                 }};
    // With `during`, every actor forks: the case process carries no gate.
    return RunActors(t, env, {writer, reader}, [](ActorControl&) { return Verdict::Pass(); });
  }
};
IPCSPEC_REGISTER_PROPERTY(InheritProperty, "G-INHERIT", {.examples = 8});

}  // namespace g_inherit
}  // namespace
}  // namespace ipcspec::props
