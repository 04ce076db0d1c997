// How fast each generic property (G-*) runs: examples per second on one
// representative transport, the first of pipe, posix_mq,
// socketpair_seqpacket, eventfd that the property applies to. Every
// iteration is a RunProperty of kExamples examples with a fixed seed, its
// examples spread over two fork servers per CPU (the lanes `ipcspec run`
// gives a single pair at its default --jobs), started before anything
// else; G-ORDER/pipe also runs on one server per CPU (/cpu-lanes) and on
// one server (/1-lane) for comparison. A property whose
// outcome is not pass is skipped with the outcome and message. Beside them,
// measured in the same run, BASELINE-fork-per-example/pipe: the hand-written
// floor (one fork per example, the same messages over a pipe); G-ORDER/pipe
// is meant to reach 0.8x of it.
// Run: build/bench/bench/property_bench
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_main.h"
#include "benchmark/benchmark.h"
#include "ipcspec/engine.h"
#include "ipcspec/property.h"
#include "ipcspec/registry.h"
#include "properties/support/common.h"
#include "rapidcheck/Check.hpp"

namespace ipcspec {
namespace {

constexpr int kExamples = 20;
constexpr uint64_t kSeed = 1;
constexpr const char* kCandidates[] = {"pipe", "posix_mq", "socketpair_seqpacket", "eventfd"};

std::vector<CaseRunner*> lanes;  // two fork servers per CPU
size_t cpus = 1;

void BM_Property(benchmark::State& state, const Property* p, const Transport* t, size_t width) {
  RunConfig config;
  config.seed = kSeed;
  config.examples = kExamples;
  int64_t examples = 0;
  const std::span<CaseRunner* const> used(lanes.data(), std::min(width, lanes.size()));
  for (auto _ : state) {
    PropertyResult r = RunProperty(*t, *p, config, used);
    examples += r.examples;
    if (r.outcome != Outcome::kPass) {
      state.SkipWithError(
          absl::StrCat(std::string(OutcomeName(r.outcome)), ": ", r.message, " ", r.reproduce)
              .c_str());
      return;
    }
  }
  state.counters["examples_per_s"] =
      benchmark::Counter(static_cast<double>(examples), benchmark::Counter::kIsRate);
}

// The floor the harness stands on: a hand-written rapidcheck property that
// generates G-ORDER's scenarios for `pipe`, forks one child per example that
// writes the same payloads into a pipe, and reads and compares them here.
void BM_ForkPerExampleBaseline(benchmark::State& state) {
  const Property* p = PropertyRegistry::Global().Find("G-ORDER");
  const Transport* t = TransportRegistry::Global().Find("pipe");
  int64_t examples = 0;
  for (auto _ : state) {
    auto testable = [&] {
      const std::vector<Step> steps = *p->Steps(*t);
      int fds[2];
      RC_ASSERT(::pipe(fds) == 0);
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::close(fds[0]);
        for (const Step& st : steps) {
          if (st.op != Op::kSend) continue;
          const std::vector<std::byte> data = props::Payload(1, st.arg, st.size);
          if (WriteFull(fds[1], data.data(), data.size()) != 0) ::_exit(1);
        }
        ::_exit(0);
      }
      ::close(fds[1]);
      for (const Step& st : steps) {
        if (st.op != Op::kSend) continue;
        std::vector<std::byte> got(st.size);
        RC_ASSERT(ReadFull(fds[0], got.data(), got.size()) == 0);
        RC_ASSERT(got == props::Payload(1, st.arg, st.size));
      }
      ::close(fds[0]);
      int status = 0;
      ::waitpid(pid, &status, 0);
      RC_ASSERT(status == 0);
      ++examples;
    };
    rc::detail::TestMetadata metadata;
    metadata.id = "baseline";
    rc::detail::TestParams params;
    params.seed = kSeed;
    params.maxSuccess = kExamples;
    rc::detail::checkProperty(rc::detail::toProperty(testable), metadata, params);
  }
  state.counters["examples_per_s"] =
      benchmark::Counter(static_cast<double>(examples), benchmark::Counter::kIsRate);
}

void RegisterAll() {
  benchmark::RegisterBenchmark("BASELINE-fork-per-example/pipe", BM_ForkPerExampleBaseline)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (const Property* p : PropertyRegistry::Global().All()) {
    if (!p->id().starts_with("G-")) continue;
    const Transport* chosen = nullptr;
    for (const char* name : kCandidates) {
      const Transport* t = TransportRegistry::Global().Find(name);
      if (t != nullptr && p->AppliesTo(*t).applies) {
        chosen = t;
        break;
      }
    }
    const std::string name =
        absl::StrCat(std::string(p->id()), "/", chosen ? std::string(chosen->name()) : "none");
    if (chosen == nullptr) {
      benchmark::RegisterBenchmark(name.c_str(), [](benchmark::State& st) {
        st.SkipWithError("applies to none of pipe, posix_mq, socketpair_seqpacket, eventfd");
      });
      continue;
    }
    benchmark::RegisterBenchmark(
        name.c_str(), [p, chosen](benchmark::State& st) { BM_Property(st, p, chosen, SIZE_MAX); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    if (p->id() == "G-ORDER") {
      for (size_t width : {cpus, size_t{1}}) {
        benchmark::RegisterBenchmark(
            absl::StrCat(name, width == 1 ? "/1-lane" : "/cpu-lanes").c_str(),
            [p, chosen, width](benchmark::State& st) { BM_Property(st, p, chosen, width); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace

namespace bench {

void RegisterBenchmarks() {
  // The fork servers first, while this process is small; they serve every
  // benchmark and stop when the program exits.
  static std::vector<std::unique_ptr<CaseRunner>> servers;
  cpus = static_cast<size_t>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  for (size_t i = 0; i < 2 * cpus; ++i) {
    absl::StatusOr<std::unique_ptr<ForkServer>> server = ForkServer::Start(SandboxOptions{});
    if (!server.ok()) break;
    servers.push_back(*std::move(server));
  }
  if (servers.empty()) servers.push_back(std::make_unique<DirectRunner>(SandboxOptions{}));
  for (const auto& s : servers) lanes.push_back(s.get());
  RegisterAll();
}

}  // namespace bench
}  // namespace ipcspec
