#include "fuzz/fuzz_entry.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_decode.h"
#include "fuzz/fuzz_signal.h"
#include "ipcspec/inventory.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"
#include "properties/model/model.h"

namespace ipcspec {
namespace {

std::string g_mq_dir = "/dev/mqueue";
bool g_isolated = false;

// What the kernel holds that an input could leave behind.
struct Snapshot {
  std::set<std::string> items;  // "SysV msg key 0x... id 3", "/dev/shm/x", "mqueue x"
};

Snapshot Take() {
  Snapshot s;
  for (const SysvObject& o : ListSysv()) {
    s.items.insert(
        absl::StrFormat("SysV %s key %d id %d", o.Table(), static_cast<int>(o.key), o.id));
  }
  for (const std::string& n : ListDir("/dev/shm")) s.items.insert("/dev/shm/" + n);
  for (const std::string& n : ListDir(g_mq_dir)) s.items.insert("mqueue /" + n);
  return s;
}

// A /dev/shm name another process has open or mapped is not ours (the fuzzer
// shares /dev/shm with whatever else runs on the machine).
bool HeldByAnotherProcess(const std::string& path) {
  const std::string self = std::to_string(::getpid());
  for (const std::string& pid : ListDir("/proc")) {
    if (pid == self || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream maps("/proc/" + pid + "/maps");
    std::string line;
    while (std::getline(maps, line)) {
      if (line.find(path) != std::string::npos) return true;
    }
    const std::string fds = "/proc/" + pid + "/fd";
    for (const std::string& fd : ListDir(fds)) {
      char target[512];
      ssize_t n = ::readlink((fds + "/" + fd).c_str(), target, sizeof target - 1);
      if (n > 0 && std::string_view(target, n).substr(0, path.size()) == path) return true;
    }
  }
  return false;
}

std::vector<std::string> LeftBehind(const Snapshot& before, const Snapshot& after) {
  std::vector<std::string> out;
  for (const std::string& item : after.items) {
    if (before.items.count(item)) continue;
    if (!g_isolated && item.rfind("/dev/shm/", 0) == 0) {
      // Another user's object (a sandboxed case runs as its own uid), or one
      // another process holds, is not this input's.
      struct stat st;
      if (::stat(item.c_str(), &st) != 0 || st.st_uid != ::geteuid()) continue;
      if (HeldByAnotherProcess(item)) continue;
    }
    out.push_back(item);
  }
  return out;
}

const std::string& ScratchDir() {
  static const std::string* dir = [] {
    char tmpl[] = "/tmp/ipcspec-fuzz-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    auto* d = new std::string(tmpl);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return d;
  }();
  return *dir;
}

std::string RunScenarioHere(const FuzzTarget& target, const Scenario& s) {
  if (target.kind == FuzzTarget::kScenario) {
    // Scenario::Parse already ran; exercise the describers and the round
    // trip of every target's decoding.
    (void)s.Describe();
    (void)DescribeFuzzScenario(s);
    return "";
  }
  Verdict v;
  if (target.kind == FuzzTarget::kSignal) {
    if (s.property != "SIG-FUZZ") return "";
    v = ExecuteSignalSteps(s.steps);
  } else {
    if (s.property != "G-MODEL") return "";
    if (std::find(target.transports.begin(), target.transports.end(), s.transport) ==
        target.transports.end()) {
      return "";
    }
    const Transport* t = TransportRegistry::Global().Find(s.transport);
    if (t == nullptr) {
      static std::set<std::string>* warned = new std::set<std::string>;
      if (warned->insert(s.transport).second) {
        std::fprintf(stderr,
                     "ipcspec fuzz: transport %s is not registered; its inputs are skipped\n",
                     s.transport.c_str());
      }
      return "";
    }
    props::ExecOptions options;
    options.max_wait_ms = 10;
    v = props::ExecuteSteps(*t, s.steps, ScratchDir(), options);
  }
  if (v.ok()) return "";
  return absl::StrCat(std::string(OutcomeName(v.outcome)), ": ", v.message);
}

}  // namespace

std::string EnterFuzzIsolation() {
  static const std::string* how = [] {
    const std::string& scratch = ScratchDir();
    if (::unshare(CLONE_NEWIPC | CLONE_NEWNS) != 0) {
      return new std::string(absl::StrCat("shared IPC namespace (unshare: ", ErrnoName(errno),
                                          "): comparing before and after each input"));
    }
    std::string mq = scratch + "-mq";
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
      return new std::string(
          absl::StrCat("private IPC namespace, shared /dev/shm (mount: ", ErrnoName(errno), ")"));
    }
    g_isolated = true;
    if (::mkdir(mq.c_str(), 0700) == 0 &&
        ::mount("mqueue", mq.c_str(), "mqueue", 0, nullptr) == 0) {
      g_mq_dir = mq;
      std::atexit([] {
        ::umount2(g_mq_dir.c_str(), MNT_DETACH);
        ::rmdir(g_mq_dir.c_str());
      });
    }
    return new std::string(
        absl::StrCat("private IPC and mount namespace, own /dev/shm, mqueue at ", g_mq_dir));
  }();
  return *how;
}

std::string RunFuzzInput(std::string_view target_name, const uint8_t* data, size_t size) {
  const FuzzTarget* target = FindFuzzTarget(target_name);
  if (target == nullptr) return absl::StrCat("unknown fuzz target ", std::string(target_name));
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (target->kind == FuzzTarget::kScenario) {
    absl::StatusOr<Scenario> s = Scenario::Parse(bytes);
    if (s.ok()) {
      (void)s->Describe();
      if (absl::StatusOr<Scenario> back = Scenario::Parse(s->Serialize());
          !back.ok() || *back != *s) {
        return "Serialize does not round-trip through Parse";
      }
    }
    // Every target's decoder takes any bytes; re-encoding the result decodes
    // to the same scenario.
    for (const FuzzTarget& t : FuzzTargets()) {
      absl::StatusOr<Scenario> d = DecodeFuzzInput(t.name, bytes);
      if (!d.ok()) continue;
      (void)DescribeFuzzScenario(*d);
      if (t.kind == FuzzTarget::kScenario || bytes.substr(0, 8) == "IPCSPEC1") continue;
      absl::StatusOr<std::string> enc = EncodeFuzzInput(t.name, *d);
      if (!enc.ok()) return absl::StrCat(t.name, ": cannot re-encode: ", enc.status().message());
      absl::StatusOr<Scenario> again = DecodeFuzzInput(t.name, *enc);
      if (!again.ok() || *again != *d) {
        return absl::StrCat(t.name, ": decode(encode(decode(x))) differs from decode(x):\n",
                            DescribeFuzzScenario(*d));
      }
    }
    return "";
  }
  absl::StatusOr<Scenario> s = DecodeFuzzInput(target_name, bytes);
  if (!s.ok()) return "";
  const Snapshot before = Take();
  std::string err = RunScenarioHere(*target, *s);
  const Snapshot after = Take();
  std::vector<std::string> left = LeftBehind(before, after);
  for (const std::string& f : ListDir(ScratchDir())) left.push_back(ScratchDir() + "/" + f);
  if (!left.empty()) {
    absl::StrAppend(&err, err.empty() ? "" : "\n", "left behind: ", absl::StrJoin(left, ", "));
  }
  if (err.empty()) return "";
  return absl::StrCat(err, "\n", DescribeFuzzScenario(*s));
}

int FuzzOneInputOrAbort(std::string_view target, const uint8_t* data, size_t size) {
  std::string err = RunFuzzInput(target, data, size);
  if (!err.empty()) {
    std::fprintf(stderr, "\n==ipcspec== fuzz_%.*s: %s\n", static_cast<int>(target.size()),
                 target.data(), err.c_str());
    std::abort();
  }
  return 0;
}

}  // namespace ipcspec
