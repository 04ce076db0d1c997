#include "ipcspec/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "ipcspec/sandbox.h"

namespace ipcspec {
namespace {

// The longest transport name a plugin may give (plugin.h).
constexpr size_t kMaxPluginName = 100;

using EntryFn = const ipcspec_transport* (*)();

// Opens the object and fetches the description; fails with a message.
absl::StatusOr<const ipcspec_transport*> Resolve(const std::string& path) {
  // A name without a slash is looked up on the library path by dlopen(3),
  // not in the current directory: "libmine.so" means ./libmine.so here, as
  // it does to every other command a user types.
  const std::string where = path.find('/') == std::string::npos ? "./" + path : path;
  // What a plugin prints while it loads goes to stderr: stdout may be a
  // report (`ipcspec list --format=json`).
  std::fflush(stdout);
  const int saved_stdout = ::dup(STDOUT_FILENO);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  struct Restore {
    int fd;
    ~Restore() {
      std::fflush(stdout);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::close(fd);
      }
    }
  } restore{saved_stdout};
  void* handle = ::dlopen(where.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = ::dlerror();
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load it as a shared object: ", e ? e : "?"));
  }
  ::dlerror();
  auto entry = reinterpret_cast<EntryFn>(::dlsym(handle, "ipcspec_transport_v1"));
  if (entry == nullptr) {
    return absl::InvalidArgumentError("missing symbol ipcspec_transport_v1");
  }
  const ipcspec_transport* t = entry();
  if (t == nullptr) return absl::InvalidArgumentError("ipcspec_transport_v1() returned NULL");
  return t;
}

}  // namespace

absl::Status ValidateAbiTransport(const ipcspec_transport* t) {
  if (t->abi_version != IPCSPEC_ABI_VERSION) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ABI version %d, but this ipcspec speaks version %d", t->abi_version, IPCSPEC_ABI_VERSION));
  }
  if (t->name == nullptr || t->name[0] == '\0')
    return absl::InvalidArgumentError("name is NULL or empty");
  // A name goes into file names, object names and --transport globs.
  const std::string_view name(t->name, ::strnlen(t->name, kMaxPluginName + 1));
  if (name.size() > kMaxPluginName) {
    return absl::InvalidArgumentError(
        absl::StrFormat("name '%s...' is longer than %d characters",
                        absl::CEscape(std::string(name.substr(0, 40))), kMaxPluginName));
  }
  for (const char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return absl::InvalidArgumentError(
          absl::StrFormat("name '%s' may only hold letters, digits, '_', '-' and '.'",
                          absl::CEscape(std::string(name))));
    }
  }
  if (name[0] == '-') {  // --transport=-x excludes x
    return absl::InvalidArgumentError(
        absl::StrFormat("name '%s' begins with '-'", std::string(name)));
  }
  const struct {
    const void* fn;
    const char* name;
  } fns[] = {{reinterpret_cast<const void*>(t->create), "create"},
             {reinterpret_cast<const void*>(t->open), "open"},
             {reinterpret_cast<const void*>(t->detach), "detach"},
             {reinterpret_cast<const void*>(t->send), "send"},
             {reinterpret_cast<const void*>(t->recv), "recv"},
             {reinterpret_cast<const void*>(t->close), "close"},
             {reinterpret_cast<const void*>(t->destroy), "destroy"}};
  for (const auto& f : fns) {
    if (f.fn == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("function ", f.name, " is NULL"));
  }
  const ipcspec_caps& c = t->caps;
  if (c.framing != IPCSPEC_STREAM && c.framing != IPCSPEC_MESSAGE) {
    return absl::InvalidArgumentError(
        absl::StrFormat("caps.framing is %d, not STREAM or MESSAGE", c.framing));
  }
  if (c.direction != IPCSPEC_ONE_WAY && c.direction != IPCSPEC_DUPLEX) {
    return absl::InvalidArgumentError(
        absl::StrFormat("caps.direction is %d, not ONE_WAY or DUPLEX", c.direction));
  }
  const uint32_t known = IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER |
                         IPCSPEC_PEER_CLOSE | IPCSPEC_EXACT_CAPACITY | IPCSPEC_SHORT_RECV_KEEPS |
                         IPCSPEC_SHORT_RECV_DROPS | IPCSPEC_CLOSE_ONLY | IPCSPEC_POLLED |
                         IPCSPEC_ONE_END_PER_PROCESS | IPCSPEC_COUNTER;
  if (c.flags & ~known) {
    return absl::InvalidArgumentError(
        absl::StrFormat("caps.flags has unknown bits 0x%x", c.flags & ~known));
  }
  if ((c.flags & IPCSPEC_SHORT_RECV_KEEPS) && (c.flags & IPCSPEC_SHORT_RECV_DROPS)) {
    return absl::InvalidArgumentError(
        "capabilities contradict themselves: SHORT_RECV_KEEPS and SHORT_RECV_DROPS are both set");
  }
  if (c.reserved != 0) return absl::InvalidArgumentError("caps.reserved must be 0");
  if (std::string why = Capabilities::FromAbi(c).Contradiction(); !why.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("capabilities contradict themselves: ", why));
  }
  return absl::OkStatus();
}

std::unique_ptr<Transport> WrapAbiTransport(const ipcspec_transport* t) {
  return TransportFromAbi(t, absl::StrFormat("plugin transport (ABI v%d)", t->abi_version));
}

absl::Status LoadPlugin(const std::string& path, std::string* name) {
  auto fail = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrFormat("plugin %s: %s", path, why));
  };
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return fail(absl::StrCat("cannot open it: ", strerror(errno)));
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  // The same file twice (--plugin given twice, or by two paths).
  static std::set<std::pair<dev_t, ino_t>> loaded;
  if (loaded.count({st.st_dev, st.st_ino}) > 0) return fail("loaded already (given twice?)");

  // Probe in a child first: a plugin that crashes in its constructor or entry
  // point must not take the harness with it.
  SandboxOptions probe;
  probe.timeout = absl::Seconds(10);
  probe.private_ipc = false;
  probe.drop_privileges = false;
  CaseResult r = RunCase(probe, [&](const CaseEnv&) {
    absl::StatusOr<const ipcspec_transport*> t = Resolve(path);
    if (!t.ok()) return Verdict::Fail(std::string(t.status().message()));
    absl::Status v = ValidateAbiTransport(*t);
    return v.ok() ? Verdict::Pass() : Verdict::Fail(std::string(v.message()));
  });
  if (r.outcome == Outcome::kCrashed) {
    return fail(absl::StrCat("crashed while loading: ", r.message,
                             absl::StrContains(r.message, "SIGBUS")
                                 ? " (a truncated shared object, or one changed while mapped?)"
                                 : ""));
  }
  if (r.outcome == Outcome::kTimeout) return fail("hung while loading");
  if (r.outcome == Outcome::kFail) return fail(r.message);
  if (r.outcome != Outcome::kPass && r.outcome != Outcome::kLeaked) return fail(r.message);

  absl::StatusOr<const ipcspec_transport*> t = Resolve(path);
  if (!t.ok()) return fail(t.status().message());
  if (absl::Status v = ValidateAbiTransport(*t); !v.ok()) return fail(v.message());
  if (absl::Status s = TransportRegistry::Global().Add(WrapAbiTransport(*t), /*builtin=*/false);
      !s.ok()) {
    return fail(s.message());
  }
  loaded.insert({st.st_dev, st.st_ino});
  if (name != nullptr) *name = (*t)->name;
  return absl::OkStatus();
}

}  // namespace ipcspec
