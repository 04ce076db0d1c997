// The sandbox's per-case cost beside the floor it is built on: a bare
// fork + _exit + waitpid from the same small process, measured in the same
// run. Target: a case with the private IPC namespace (the default) through
// the fork server at most 1.5x the bare fork; BM_PrivateIpcCaseOverBareFork
// prints that ratio from pairs measured back to back.
// Run: build/default/bench/sandbox_bench
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "ipcspec/engine.h"
#include "ipcspec/property.h"
#include "properties/support/common.h"

namespace ipcspec {
namespace {

// A property whose case does nothing, so only the sandbox is measured.
class NothingProperty : public props::NamedProperty {
 public:
  NothingProperty() : NamedProperty("BENCH-NOTHING", "a case that does nothing", "") {}
  Applicability AppliesTo(const Transport&) const override { return Applicability::Yes(); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::just(std::vector<Step>{});
  }
  Verdict Run(const Transport&, const Scenario&, const CaseEnv&) const override {
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(NothingProperty);

void BM_BareForkExitWait(benchmark::State& state) {
  for (auto _ : state) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status;
    ::waitpid(pid, &status, 0);
  }
}
BENCHMARK(BM_BareForkExitWait)->Unit(benchmark::kMicrosecond)->UseRealTime();

void RunThroughServer(benchmark::State& state, bool private_ipc, bool drop_privileges = true) {
  SandboxOptions o;
  o.private_ipc = private_ipc;
  o.drop_privileges = drop_privileges;
  auto server = ForkServer::Start(o);
  if (!server.ok()) {
    state.SkipWithError("fork server did not start");
    return;
  }
  const Scenario s{"BENCH-NOTHING", "pipe", {}};
  for (auto _ : state) {
    CaseResult r = (*server)->Run(s);
    if (r.outcome != Outcome::kPass) {
      state.SkipWithError(r.message.c_str());
      break;
    }
  }
}

void BM_SandboxedCaseViaForkServer(benchmark::State& state) { RunThroughServer(state, false); }
BENCHMARK(BM_SandboxedCaseViaForkServer)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_SandboxedCaseWithPrivateIpcNamespace(benchmark::State& state) {
  RunThroughServer(state, true);
}
BENCHMARK(BM_SandboxedCaseWithPrivateIpcNamespace)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The same without the per-case uid: what the uid switch costs.
void BM_SandboxedCaseSameUid(benchmark::State& state) { RunThroughServer(state, false, false); }
BENCHMARK(BM_SandboxedCaseSameUid)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Times `first` then `second` back to back in every iteration, so both see
// the same load; counters: the median of each (µs, under the names given)
// and their ratio, second over first. A step returning an error skips.
void BackToBack(benchmark::State& state, const char* first_name,
                const std::function<std::string()>& first, const char* second_name,
                const std::function<std::string()>& second) {
  std::vector<double> a, b;
  for (auto _ : state) {
    const absl::Time t0 = absl::Now();
    std::string error = first();
    const absl::Time t1 = absl::Now();
    if (error.empty()) error = second();
    const absl::Time t2 = absl::Now();
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    a.push_back(absl::ToDoubleMicroseconds(t1 - t0));
    b.push_back(absl::ToDoubleMicroseconds(t2 - t1));
  }
  auto median = [](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  const double ma = median(a), mb = median(b);
  state.counters[first_name] = ma;
  state.counters[second_name] = mb;
  state.counters["ratio"] = mb / ma;
}

// A fork server with the default options, or null with the benchmark skipped.
std::unique_ptr<ForkServer> StartServer(benchmark::State& state) {
  auto server = ForkServer::Start(SandboxOptions{});
  if (server.ok()) return *std::move(server);
  state.SkipWithError("fork server did not start");
  return nullptr;
}

// One case through `server`: "" when it passed.
std::string RunPassing(ForkServer& server, const Scenario& s) {
  CaseResult r = server.Run(s);
  return r.outcome == Outcome::kPass ? "" : r.message;
}

// The target's figure, robust to a loaded machine: a bare
// fork+_exit+waitpid, then a case with the private IPC namespace (the
// default) through the fork server (target: ratio <= 1.5).
void BM_PrivateIpcCaseOverBareFork(benchmark::State& state) {
  std::unique_ptr<ForkServer> server = StartServer(state);
  if (server == nullptr) return;
  BackToBack(
      state, "bare_us",
      [] {
        pid_t pid = ::fork();
        if (pid == 0) ::_exit(0);
        int status;
        ::waitpid(pid, &status, 0);
        return std::string();
      },
      "case_us",
      [&] {
        return RunPassing(*server, {"BENCH-NOTHING", "pipe", {}});
      });
}
BENCHMARK(BM_PrivateIpcCaseOverBareFork)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The direct runner forks from the (large) calling process: what the fork
// server saves.
void BM_SandboxedCaseDirect(benchmark::State& state) {
  SandboxOptions o;
  o.private_ipc = false;
  DirectRunner runner(o);
  const Scenario s{"BENCH-NOTHING", "pipe", {}};
  for (auto _ : state) {
    CaseResult r = runner.Run(s);
    if (r.outcome != Outcome::kPass) {
      state.SkipWithError(r.message.c_str());
      break;
    }
  }
}
BENCHMARK(BM_SandboxedCaseDirect)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace ipcspec

BENCHMARK_MAIN();
