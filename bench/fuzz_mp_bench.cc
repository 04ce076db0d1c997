// What one multi-process fuzz input costs beside the same scenario run as
// one property example, measured in the same run and the same build (the
// `fuzz` preset builds it with the targets' sanitizers; ci/fuzz-bench runs
// it). The scenario has two participants: a writer that sends 16 messages
// of 100 bytes with blocking calls and a reader that receives them.
//
//   build/fuzz/fuzz/fuzz_mp_bench [seconds per mode, default 3]
//
// Modes: a property example as `ipcspec run` makes it (a fork server with
// the default sandbox options: private IPC namespace, the case's own uid);
// the same with the fuzz targets' sandbox options; and the fuzz input as
// LLVMFuzzerTestOneInput runs it (decode, the fork server, child coverage).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/time/clock.h"
#include "fuzz/fuzz_decode.h"
#include "fuzz/fuzz_entry.h"
#include "ipcspec/engine.h"

namespace ipcspec {
namespace {

struct Rate {
  double us_per_input = 0;
  double cpu_us_per_input = 0;  // of this process and every descendant
  int inputs = 0;
  bool ok = true;
};

// CPU time (user + system, microseconds) of /proc/<pid>/stat: its own, and
// with `reaped` that of the descendants it has reaped.
double CpuOf(const std::string& pid, bool reaped) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 17 && fields >> f; ++i) {
    if (i >= 14 && (i <= 15 || reaped)) ticks += std::stod(f);
  }
  return ticks * 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The CPU time of this process, its reaped descendants and its live
// children (the fork servers) with theirs: every case and participant is
// reaped by the server that forked it, or by a case that its server reaped.
double TreeCpu() {
  double us = CpuOf("self", true);
  std::ifstream children("/proc/self/task/" + std::to_string(::gettid()) + "/children");
  std::string pid;
  while (children >> pid) us += CpuOf(pid, true);
  return us;
}

template <typename Fn>
Rate Measure(double seconds, Fn run_one) {
  Rate r;
  const double cpu = TreeCpu();
  const absl::Time start = absl::Now();
  const absl::Time until = start + absl::Seconds(seconds);
  while (absl::Now() < until) {
    if (!run_one()) {
      r.ok = false;
      break;
    }
    ++r.inputs;
  }
  if (r.inputs > 0) {
    r.us_per_input = absl::ToDoubleMicroseconds(absl::Now() - start) / r.inputs;
    r.cpu_us_per_input = (TreeCpu() - cpu) / r.inputs;
  }
  return r;
}

void Print(const char* what, const Rate& r, const Rate* base) {
  std::printf("%-44s %6.0f us/input %5.0f exec/s %6.0f CPU us/input %5.0f per CPU s", what,
              r.us_per_input, r.us_per_input > 0 ? 1e6 / r.us_per_input : 0.0, r.cpu_us_per_input,
              r.cpu_us_per_input > 0 ? 1e6 / r.cpu_us_per_input : 0.0);
  if (base != nullptr && base->cpu_us_per_input > 0) {
    std::printf("  %.2fx (CPU) the property example", r.cpu_us_per_input / base->cpu_us_per_input);
  }
  std::printf("%s\n", r.ok ? "" : "  (FAILED)");
}

int Main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  // t0, writer 1: 16 blocking sends of 100 bytes; the reader: 16 receives.
  std::string bytes(1, '\0');
  bytes += static_cast<char>((7 << 5) | 15);
  bytes += static_cast<char>(10);
  bytes += std::string(16, static_cast<char>(2 << 5));
  absl::StatusOr<std::string> init = InitFuzzTarget("pipe_mp");
  if (!init.ok()) {
    std::fprintf(stderr, "fuzz_mp_bench: %s\n", std::string(init.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<Scenario> s = DecodeFuzzInput("pipe_mp", bytes);
  if (!s.ok()) return 2;
  std::printf("fuzz_mp_bench: %s, %zu steps, two participants; %s\n", s->transport.c_str(),
              s->steps.size(), init->c_str());

  // The floor under every sandboxed case: fork, _exit and wait from this
  // process (a case forks three times: the case and two participants).
  const Rate bare = Measure(seconds / 3, [] {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status;
    return pid > 0 && ::waitpid(pid, &status, 0) == pid;
  });
  auto server = ForkServer::Start(SandboxOptions{});
  auto fuzz_server = ForkServer::Start(FuzzSandboxOptions());
  if (!server.ok() || !fuzz_server.ok()) return 2;
  const Rate property =
      Measure(seconds, [&] { return (*server)->Run(*s).outcome == Outcome::kPass; });
  const Rate property_fuzz_options =
      Measure(seconds, [&] { return (*fuzz_server)->Run(*s).outcome == Outcome::kPass; });
  const Rate fuzz = Measure(seconds, [&] {
    return RunFuzzInput("pipe_mp", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())
        .empty();
  });
  Print("bare fork + _exit + waitpid", bare, nullptr);
  Print("property example (default sandbox options)", property, nullptr);
  Print("property example (fuzz sandbox options)", property_fuzz_options, nullptr);
  Print("fuzz input (fuzz_pipe_mp)", fuzz, &property);
  std::printf("%-44s %.2fx wall, %.2fx CPU\n", "fuzz input / property example, same options",
              fuzz.us_per_input / property_fuzz_options.us_per_input,
              fuzz.cpu_us_per_input / property_fuzz_options.cpu_us_per_input);
  return property.ok && property_fuzz_options.ok && fuzz.ok ? 0 : 1;
}

}  // namespace
}  // namespace ipcspec

int main(int argc, char** argv) { return ipcspec::Main(argc, argv); }
