// UNIX-ADDRINUSE: an AF_UNIX name belongs to one socket at a time. A path
// name is the socket file itself, so it stays taken after its socket closes
// until it is unlinked; an abstract name is freed when its socket closes.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/socket/socket_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace socket_addrinuse {

// A name to bind: a path in the scratch directory, or an abstract name.
struct UnixName {
  sockaddr_un addr;
  std::string shown;  // "/tmp/.../s-1a2b" or "@ipcspec-1a2b"
  bool abstract;
};

UnixName MakeName(bool abstract, const CaseEnv& env) {
  UnixName n;
  n.abstract = abstract;
  if (abstract) {
    const std::string name = UniqueName("ipcspec-inuse");
    n.addr = UnixAddr("");
    std::memcpy(n.addr.sun_path + 1, name.data(),
                std::min(name.size(), sizeof n.addr.sun_path - 2));
    n.shown = "@" + name;
  } else {
    n.shown = absl::StrCat(env.scratch_dir, "/", UniqueName("inuse"));
    n.addr = UnixAddr(n.shown);
  }
  return n;
}

// A new socket of `type` bound to `name`; 0 or the errno of bind.
int BindNew(int type, const UnixName& name, FileDescriptor* out) {
  *out = FileDescriptor(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!*out) return errno;
  return ::bind(out->get(), reinterpret_cast<const sockaddr*>(&name.addr), sizeof name.addr) == 0
             ? 0
             : errno;
}

std::string Said(int e) { return e == 0 ? "succeeded" : ErrnoName(e); }

// `rivals` new sockets each try to bind the taken name: EADDRINUSE.
std::string RivalsRefused(int type, const UnixName& name, int rivals) {
  for (int i = 0; i < rivals; ++i) {
    FileDescriptor rival;
    if (int e = BindNew(type, name, &rival); e != EADDRINUSE) {
      return absl::StrFormat("bind %d of %s while it is bound: %s, expected EADDRINUSE", i + 1,
                             name.shown, Said(e));
    }
  }
  return "";
}

constexpr std::string_view kNameKinds[] = {"a path in the scratch directory", "an abstract name"};

struct InUsePlan {
  int type;
  int rivals;
  bool elsewhere;
  bool close_first;
};

// Named AF_UNIX sockets (a socketpair binds no name).
Applicability ForNamedUnix(const Transport& t) {
  return OnlyFor(t, {"unix_stream", "unix_dgram", "unix_seqpacket"},
                 "binding a name: named AF_UNIX sockets only");
}

class AddrInUseProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const UnixName name = MakeName(abstract_.Of(s), env);
    struct Unlink {
      const UnixName& n;
      ~Unlink() {
        if (!n.abstract) ::unlink(n.shown.c_str());
      }
    } unlink_at_exit{name};
    const InUsePlan plan{TypeOf(t), std::clamp(rivals_.Of(s), 0, 8), elsewhere_.Of(s),
                         close_first_.Of(s)};
    FileDescriptor first;
    if (int e = BindNew(plan.type, name, &first); e != 0)
      return Verdict::Broken(absl::StrCat("bind ", name.shown, ": ", ErrnoName(e)));
    if (Verdict v = Rivals(plan, name, env); !v.ok()) return v;
    std::string failure =
        plan.close_first ? AfterClose(plan, name, first) : AfterUnlink(plan, name);
    if (failure.empty() && plan.close_first && !name.abstract) failure = AfterUnlink(plan, name);
    return PassUnless(failure);
  }

  static Verdict Rivals(const InUsePlan& plan, const UnixName& name, const CaseEnv& env) {
    if (!plan.elsewhere) {
      std::string e = RivalsRefused(plan.type, name, plan.rivals);
      return PassUnless(e);
    }
    Participants ps(CaseDeadline(env));
    ps.Spawn("another process", [&]() -> Verdict {
      CloseInheritedDescriptors();
      std::string e = RivalsRefused(plan.type, name, plan.rivals);
      return PassUnless(e);
    });
    return ps.Join();
  }

  // The first socket closes; binding the name again gives EADDRINUSE for a
  // path, success for an abstract name.
  static std::string AfterClose(const InUsePlan& plan, const UnixName& name,
                                FileDescriptor& first) {
    first.reset();
    FileDescriptor again;
    const int e = BindNew(plan.type, name, &again);
    if (name.abstract && e != 0) {
      return absl::StrFormat("bind %s after its only socket closed: %s, expected success",
                             name.shown, Said(e));
    }
    if (!name.abstract && e != EADDRINUSE) {
      return absl::StrFormat(
          "bind %s after its socket closed (the socket file is still there): %s, expected "
          "EADDRINUSE",
          name.shown, Said(e));
    }
    return "";
  }

  // The path is unlinked; it binds again (whether the old socket lives or not).
  static std::string AfterUnlink(const InUsePlan& plan, const UnixName& name) {
    if (name.abstract) return "";
    if (::unlink(name.shown.c_str()) != 0)
      return absl::StrCat("unlink ", name.shown, ": ", ErrnoName(errno));
    FileDescriptor again;
    if (int e = BindNew(plan.type, name, &again); e != 0) {
      return absl::StrFormat("bind %s after unlink: %s, expected success", name.shown, Said(e));
    }
    return "";
  }

  const ChoiceParam<bool> abstract_{this, 0, "the name is %s", false, kNameKinds};
  const Param<int> rivals_{this, 1, "rival sockets binding it while it is bound: %s", 1,
                           rc::gen::inRange(1, 4)};
  const Param<bool> elsewhere_{
      this, 2, "the rivals are in another process: %s", false, rc::gen::inRange(0, 2), SayYesNo};
  const Param<bool> close_first_{
      this,    3, "the first socket is closed before the rebind: %s", true, rc::gen::inRange(0, 2),
      SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(AddrInUseProperty, "UNIX-ADDRINUSE", {.applies = ForNamedUnix});

}  // namespace socket_addrinuse
}  // namespace
}  // namespace ipcspec::props
