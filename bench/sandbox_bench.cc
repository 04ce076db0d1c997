// The sandbox's per-case cost beside the floor it is built on: a bare
// fork + _exit + waitpid from the same small process, measured in the same
// run. Target: a case with the private IPC namespace (the default) through
// the fork server at most 1.5x the bare fork; BM_PrivateIpcCaseOverBareFork
// prints that ratio from pairs measured back to back.
// Run: build/default/bench/sandbox_bench
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

// What the host charges for the two things a case is made of beside its
// system calls, so that figures from different machines can be compared:
// the first write to a fresh anonymous page, and to a page shared
// copy-on-write with a child that is still alive. Only the writes are timed
// (manual time), and us_per_page is that time per page, beside
// BM_BareForkExitWait; bench/run-conformance-bench prints all three.
void TouchPages(benchmark::State& state, bool shared_with_child) {
  constexpr size_t kPages = 256;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t bytes = kPages * page;
  double touch_us = 0;
  for (auto _ : state) {
    void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      state.SkipWithError("mmap failed");
      return;
    }
    auto* p = static_cast<volatile char*>(m);
    pid_t child = -1;
    int hold[2] = {-1, -1};
    if (shared_with_child) {
      for (size_t i = 0; i < kPages; ++i) p[i * page] = 1;
      // The child holds every page until its end of the pipe closes.
      if (::pipe(hold) == 0 && (child = ::fork()) == 0) {
        char c;
        ::close(hold[1]);
        (void)!::read(hold[0], &c, 1);
        ::_exit(0);
      }
      if (hold[0] >= 0) ::close(hold[0]);
      if (child < 0) {
        if (hold[1] >= 0) ::close(hold[1]);
        ::munmap(m, bytes);
        state.SkipWithError("pipe or fork failed");
        return;
      }
    }
    const absl::Time t0 = absl::Now();
    for (size_t i = 0; i < kPages; ++i) p[i * page] = 2;
    const double us = absl::ToDoubleMicroseconds(absl::Now() - t0);
    state.SetIterationTime(us / 1e6);
    touch_us += us;
    if (child > 0) {
      ::close(hold[1]);
      ::waitpid(child, nullptr, 0);
    }
    ::munmap(m, bytes);
  }
  if (state.iterations() > 0) {
    state.counters["us_per_page"] = touch_us / static_cast<double>(state.iterations() * kPages);
  }
}
void BM_HostFreshPageFault(benchmark::State& state) { TouchPages(state, false); }
BENCHMARK(BM_HostFreshPageFault)->Unit(benchmark::kMicrosecond)->UseManualTime();
void BM_HostCopyOnWriteFault(benchmark::State& state) { TouchPages(state, true); }
BENCHMARK(BM_HostCopyOnWriteFault)->Unit(benchmark::kMicrosecond)->UseManualTime();

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

// The target's figure, robust to a loaded machine: each iteration times one
// bare fork+_exit+waitpid and then one case with the private IPC namespace
// (the default) through the fork server, back to back, so both see the same
// load. Counters: the median of each (µs) and their ratio (target <= 1.5).
void BM_PrivateIpcCaseOverBareFork(benchmark::State& state) {
  auto server = ForkServer::Start(SandboxOptions{});
  if (!server.ok()) {
    state.SkipWithError("fork server did not start");
    return;
  }
  const Scenario s{"BENCH-NOTHING", "pipe", {}};
  std::vector<double> bare, cased;
  for (auto _ : state) {
    absl::Time t0 = absl::Now();
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status;
    ::waitpid(pid, &status, 0);
    absl::Time t1 = absl::Now();
    CaseResult r = (*server)->Run(s);
    absl::Time t2 = absl::Now();
    if (r.outcome != Outcome::kPass) {
      state.SkipWithError(r.message.c_str());
      return;
    }
    bare.push_back(absl::ToDoubleMicroseconds(t1 - t0));
    cased.push_back(absl::ToDoubleMicroseconds(t2 - t1));
  }
  auto median = [](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  const double b = median(bare), c = median(cased);
  state.counters["bare_us"] = b;
  state.counters["case_us"] = c;
  state.counters["ratio"] = c / b;
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
