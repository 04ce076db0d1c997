#include "fuzz/fuzz_entry.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_coverage.h"
#include "fuzz/fuzz_leftovers.h"
#include "fuzz/fuzz_mp.h"
#include "fuzz/fuzz_signal.h"
#include "ipcspec/engine.h"
#include "ipcspec/plugin_loader.h"
#include "ipcspec/property.h"
#include "ipcspec/registry.h"

namespace ipcspec {
namespace {

// The multi-process targets' runner: the fork server InitFuzzTarget starts,
// or else (tests, replay) cases forked from this process.
std::unique_ptr<CaseRunner>& Runner() {
  static auto* runner = new std::unique_ptr<CaseRunner>;
  if (*runner == nullptr) *runner = std::make_unique<DirectRunner>(FuzzSandboxOptions());
  return *runner;
}

// The multi-process targets' fork server's root, kept until the server is
// reaped.
std::unique_ptr<ServerRoot>& ServerRootOfFuzzer() {
  static auto* root = new std::unique_ptr<ServerRoot>;
  return *root;
}

// Whether the in-process executor has a model for `t` (G-MODEL applies).
std::string InProcessUnfit(const Transport& t) {
  if (const Property* p = PropertyRegistry::Global().Find("G-MODEL")) {
    Applicability a = p->AppliesTo(t);
    return a.applies ? "" : a.reason;
  }
  if (!t.caps().reliable) return "reliable=false";
  return props::MakeModel(t.caps()) == nullptr ? "no reference model" : "";
}

// A bare file name is looked for beside the fuzz target's binary (as
// OSS-Fuzz installs them).
std::string BesideBinary(const std::string& file) {
  if (file.empty() || file.find('/') != std::string::npos) return file;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return file;
  const std::string exe(self, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/') + 1) + file;
}

// create() and destroy() once, in a sandboxed child bounded by 10 s (as
// LoadPlugin probes the entry point): a plugin that cannot make a channel
// here (it fails, crashes or hangs in create()) is a set-up error (exit 2),
// not a crash of every input.
absl::Status ProbeCreate(const Transport& t) {
  SandboxOptions probe;
  probe.timeout = absl::Seconds(10);
  probe.private_ipc = false;
  probe.drop_privileges = false;
  const CaseResult r = RunCase(probe, [&](const CaseEnv&) {
    absl::StatusOr<std::unique_ptr<Channel>> ch = t.Create(FuzzScratchDir());
    if (!ch.ok()) return Verdict::Fail(std::string(ch.status().message()));
    (void)(*ch)->Destroy();
    return Verdict::Pass();
  });
  std::string why;
  if (r.outcome == Outcome::kCrashed && r.signal != 0) {
    why = absl::StrCat("create() was killed by signal ", r.signal);
  } else if (r.outcome == Outcome::kCrashed) {
    // A sanitizer's report of a crash there ends the process with 1.
    why = absl::StrCat("create() ended its process (", r.message, ")");
  } else if (r.outcome == Outcome::kTimeout) {
    why = "create() did not return within 10 s";
  } else if (r.outcome == Outcome::kFail || r.outcome == Outcome::kBroken) {
    why = absl::StrCat("create() failed (", r.message, ")");
  }
  if (why.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("transport ", std::string(t.name()), ": ", why, ": nothing to fuzz"));
}

absl::StatusOr<std::string> LoadFuzzedPlugin(const std::string& default_plugin) {
  const char* env = std::getenv("IPCSPEC_PLUGIN");
  const std::string path = env != nullptr && *env != '\0' ? env : BesideBinary(default_plugin);
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "name the plugin to fuzz: IPCSPEC_PLUGIN=/path/libmine.so fuzz_plugin [libFuzzer flags]");
  }
  std::string name;
  if (absl::Status s = LoadPlugin(path, &name); !s.ok()) return s;
  const Transport* t = TransportRegistry::Global().Find(name);
  if (absl::Status probe = ProbeCreate(*t); !probe.ok()) return probe;
  if (std::string why = InProcessUnfit(*t); !why.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "plugin %s (transport %s): nothing to fuzz, its capabilities leave no reference model "
        "(%s)",
        path, name, why));
  }
  return absl::StrFormat("plugin %s: transport %s (%s)", path, name,
                         ModelClassName(t->caps().model));
}

// Transports of the target's family that cannot make a channel here (a
// kernel or container without the mechanism): their inputs are skipped,
// not reported as crashes.
std::set<std::string>& Unusable() {
  static auto* names = new std::set<std::string>;
  return *names;
}

std::string ProbeFamily(const FuzzTarget& target) {
  std::vector<std::string> out;
  for (const std::string& name : FamilyOf(target)) {
    const Transport* t = TransportRegistry::Global().Find(name);
    if (t == nullptr) continue;
    absl::StatusOr<std::unique_ptr<Channel>> ch = t->Create(FuzzScratchDir());
    if (ch.ok()) {
      (void)(*ch)->Destroy();
      continue;
    }
    Unusable().insert(name);
    out.push_back(absl::StrCat(name, " cannot be used here (", ch.status().message(),
                               "): its inputs are skipped"));
  }
  return absl::StrJoin(out, "; ");
}

// FNV-1a over the steps (not instrumented: its loop is no behaviour of
// the transport).
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
uint64_t
HashSteps(const std::vector<Step>& steps) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i, v >>= 8) h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
  };
  for (const Step& s : steps) {
    mix(static_cast<uint64_t>(s.op));
    mix(s.actor);
    mix(s.size);
    mix(s.arg);
  }
  return h;
}

// The scenario target: the parser and the describers, and one target's
// decoding (picked by the input's length, so that every target's turns up),
// which must take any bytes and re-encode to itself.
std::string CheckScenarioCodecs(std::string_view bytes) {
  absl::StatusOr<Scenario> s = Scenario::Parse(bytes);
  if (s.ok()) {
    (void)DescribeFuzzScenario(*s);
    if (absl::StatusOr<Scenario> back = Scenario::Parse(s->Serialize());
        !back.ok() || *back != *s) {
      return "Serialize does not round-trip through Parse";
    }
    return "";
  }
  const FuzzTarget& t = FuzzTargets()[bytes.size() % FuzzTargets().size()];
  absl::StatusOr<Scenario> d = DecodeFuzzInput(t.name, bytes);
  if (!d.ok() || t.kind == FuzzTarget::kScenario) return "";
  absl::StatusOr<std::string> enc = EncodeFuzzInput(t.name, *d);
  if (!enc.ok()) return absl::StrCat(t.name, ": cannot re-encode: ", enc.status().message());
  absl::StatusOr<Scenario> again = DecodeFuzzInput(t.name, *enc);
  if (!again.ok() || *again != *d) {
    return absl::StrCat(t.name, ": decode(encode(decode(x))) differs from decode(x):\n",
                        DescribeFuzzScenario(*d));
  }
  return "";
}

// The failure of a multi-process case, or "".
std::string RunCaseInput(const Scenario& s) {
  CaseResult r = Runner()->Run(s);
  MergeChildCoverage();
  if (r.outcome == Outcome::kPass || r.outcome == Outcome::kUnsupported) return "";
  std::string err = absl::StrCat(std::string(OutcomeName(r.outcome)), ": ", r.message);
  if (!r.output.empty() && r.outcome != Outcome::kFail)
    absl::StrAppend(&err, "\ncase output:\n", r.output);
  return err;
}

}  // namespace

props::ExecOptions FuzzExecOptions(const Scenario& s) {
  props::ExecOptions o;
  o.virtual_time = true;
  // Only an input with a bounded wait can wait for real.
  const bool waits = std::any_of(s.steps.begin(), s.steps.end(),
                                 [](const Step& st) { return st.op == Op::kWait; });
  o.one_real_timeout = waits && HashSteps(s.steps) % 128 == 0;
  o.real_timeout_ms = 1;
  o.max_wait_ms = 4;
  return o;
}

SandboxOptions FuzzSandboxOptions() {
  SandboxOptions o;
  o.timeout = absl::Seconds(10);
  o.hang_grace = absl::Seconds(1);
  // The fork server's lasting namespace and tmpfs hold every case; a uid of
  // each case's own would cost a credential change per case for nothing
  // the namespace does not already give.
  o.drop_privileges = false;
  return o;
}

absl::StatusOr<std::string> InitFuzzTarget(std::string_view target,
                                           const std::string& default_plugin) {
  const FuzzTarget* t = FindFuzzTarget(target);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown fuzz target ", std::string(target)));
  }
  std::vector<std::string> done;
  // First, in the mount namespace the rest of the machine sees: whatever
  // ends this process, its directories go.
  if (std::string why = StartLeftoverCleaner(); !why.empty()) done.push_back(why);
  RemoveWhenGone(FuzzScratchDir());
  if (std::getenv("IPCSPEC_FUZZ_SHARED") == nullptr) done.push_back(EnterFuzzIsolation());
  if (t->kind == FuzzTarget::kPlugin) {
    absl::StatusOr<std::string> p = LoadFuzzedPlugin(default_plugin);
    if (!p.ok()) return p.status();
    done.push_back(*p);
  }
  if (t->kind == FuzzTarget::kChannel || t->kind == FuzzTarget::kMultiProcess) {
    if (std::string probe = ProbeFamily(*t); !probe.empty()) done.push_back(probe);
  }
  if (t->kind == FuzzTarget::kMultiProcess) {
    done.push_back(ShareCoverageWithChildren());
    // The payload tape, made once here, is inherited by every case and
    // participant instead of being made (megabytes of page faults) in each.
    (void)props::ModelPayload(Capabilities{}, 0, 1);
    // The server's root is ours, so that the cleaner knows it.
    ServerRootOfFuzzer() = std::make_unique<ServerRoot>(ServerRoot::Make(FuzzSandboxOptions()));
    RemoveWhenGone(ServerRootOfFuzzer()->path());
    absl::StatusOr<std::unique_ptr<ForkServer>> server =
        ForkServer::Start(FuzzSandboxOptions(), ServerRootOfFuzzer().get());
    if (!server.ok()) return server.status();
    Runner() = std::move(*server);
    // At exit the server is stopped and reaped (its CPU time, and its
    // cases', then counts in the fuzzer's own rusage), then its root goes.
    std::atexit([] {
      Runner().reset();
      ServerRootOfFuzzer().reset();
    });
    done.push_back("cases run by a fork server");
  }
  return absl::StrJoin(done, "; ");
}

Verdict JudgeFuzzScenario(const FuzzTarget& target, const Scenario& s, const CaseEnv& env) {
  if (target.kind == FuzzTarget::kScenario) return Verdict::Pass();
  if (target.kind == FuzzTarget::kSignal) {
    if (s.property != "SIG-FUZZ") return Verdict::Unsupported("not a SIG-FUZZ scenario");
    return ExecuteSignalSteps(s.steps);
  }
  const std::vector<std::string> family = FamilyOf(target);
  if (std::find(family.begin(), family.end(), s.transport) == family.end()) {
    return Verdict::Unsupported(absl::StrCat(s.transport, " is not in the target's family"));
  }
  const Transport* t = TransportRegistry::Global().Find(s.transport);
  if (t == nullptr) return Verdict::Unsupported(absl::StrCat(s.transport, " is not registered"));
  if (target.kind == FuzzTarget::kMultiProcess) {
    if (s.property != "MP-FUZZ") return Verdict::Unsupported("not an MP-FUZZ scenario");
    if (std::string why = MultiProcessUnfit(t->caps()); !why.empty()) {
      return Verdict::Unsupported(why);
    }
    return ExecuteMultiProcess(*t, s, env);
  }
  if (s.property != "G-MODEL") return Verdict::Unsupported("not a G-MODEL scenario");
  return props::ExecuteSteps(*t, s.steps, env.scratch_dir, FuzzExecOptions(s));
}

std::string RunFuzzInput(std::string_view target_name, const uint8_t* data, size_t size) {
  const FuzzTarget* target = FindFuzzTarget(target_name);
  if (target == nullptr) return absl::StrCat("unknown fuzz target ", std::string(target_name));
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (target->kind == FuzzTarget::kScenario) return CheckScenarioCodecs(bytes);
  absl::StatusOr<Scenario> s = DecodeFuzzInput(target_name, bytes);
  if (!s.ok() || Unusable().count(s->transport) != 0) return "";
  LeakCheck leaks;
  leaks.Before();
  std::string err;
  if (target->kind == FuzzTarget::kMultiProcess) {
    const std::vector<std::string> family = FamilyOf(*target);
    if (std::find(family.begin(), family.end(), s->transport) == family.end()) return "";
    err = RunCaseInput(*s);
  } else {
    CaseEnv env;
    env.scratch_dir = FuzzScratchDir();
    Verdict v = JudgeFuzzScenario(*target, *s, env);
    if (!v.ok() && v.outcome != Outcome::kUnsupported) {
      err = absl::StrCat(std::string(OutcomeName(v.outcome)), ": ", v.message);
    }
  }
  if (std::vector<std::string> left = leaks.After(); !left.empty()) {
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

extern "C" int ipcspec_fuzz_init(const char* target, const char* default_plugin) {
  absl::StatusOr<std::string> how = ipcspec::InitFuzzTarget(target, default_plugin);
  if (!how.ok()) {
    std::fprintf(stderr, "fuzz_%s: %s\n", target, std::string(how.status().message()).c_str());
    std::exit(2);
  }
  std::fprintf(stderr, "ipcspec fuzz_%s: %s\n", target, how->c_str());
  return 0;
}

extern "C" int ipcspec_fuzz_one_input(const char* target, const uint8_t* data, size_t size) {
  return ipcspec::FuzzOneInputOrAbort(target, data, size);
}
