// fuzz/fuzz_decode.h: fuzz bytes -> Scenario, for the libFuzzer
// targets (fuzz/), their regression test and `ipcspec replay`.
//
// Every fuzz input decodes to a Scenario of the one step language, so a crash
// file replays and prints as readable steps:
//
//   absl::StatusOr<Scenario> s = DecodeFuzzInput("pipe", bytes);
//   std::cout << DescribeFuzzScenario(*s);   // "G-MODEL on fifo, 3 steps: ..."
//
// Inputs that start with "IPCSPEC1" are serialized Scenarios and are taken as
// they are, so a shrunk property failure saved as a file is a fuzz input.
//
// Channel targets (pipe, socket, sysv_msg, posix_mq, shm_ring, eventfd, or
// the name of any registered transport): byte 0 picks the transport of the
// family; then each byte is an instruction, high 3 bits the kind, low 5 bits
// its argument a:
//   0 send kSizes[a]              1 send ((a << 16) | next 2 bytes LE) bytes
//   2 receive into kCaps[a]       3 receive into (next 2 bytes LE) + 1
//   4 wait (a & 3) + 1 ms         5 close the writer (again: receive)
//   6 (a + 1) sends of kSizes[next byte & 31]
//   7 (a + 1) receives into the largest buffer
// The scenario's property is G-MODEL (properties/model/model.h).
//
// The plugin target (fuzz_plugin) decodes as a channel target over the
// transports that plugins registered (IPCSPEC_PLUGIN= in the target,
// --plugin= in `ipcspec replay`).
//
// Multi-process targets (<family>_mp): byte 0 picks the transport; then each
// byte is an instruction for the reader (actor 0) or the current writer
// (actor 1 at first), high 3 bits the kind, low 5 bits its argument a:
//   0 the writer sends kSizes[a]     1 the same without blocking
//   2 the reader receives into kCaps[a]   3 the same without blocking
//   4 the current writer becomes writer 1 + (a & 1) (writer 2 only where the
//     transport takes several writers)
//   5 the writer closes its end      6 the writer is killed with SIGKILL
//   7 (a + 1) blocking sends of kSizes[next byte & 31] by the writer
// A writer's sends after its close or kill are dropped; with two writers on
// a byte stream, sends over atomic_write (or of 0 bytes) are dropped too, so
// that every message is one atomic write. The step order is each actor's
// own order; the actors run concurrently. The property is MP-FUZZ
// (fuzz/fuzz_mp.h).
//
// The signal target: each byte is an instruction, high 3 bits the kind, low
// 5 bits pick the signal (kFuzzSignals[a % n]):
//   0 sigqueue it to this thread (values count up)   1 sigtimedwait for it
//   2 sigtimedwait for any                           3 block it
//   4 unblock it   5 ignore it   6 handle it         7 default action
// The scenario's property is SIG-FUZZ (properties/fuzz_signal.h).
//
// The scenario target: no decoding (it fuzzes Scenario::Parse itself).
#ifndef IPCSPEC_FUZZ_FUZZ_DECODE_H_
#define IPCSPEC_FUZZ_FUZZ_DECODE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ipcspec/scenario.h"
#include "ipcspec/transport.h"

namespace ipcspec {

struct FuzzTarget {
  std::string name;                     // "pipe": the libFuzzer binary is fuzz_pipe
  std::vector<std::string> transports;  // picked by byte 0
  enum Kind { kChannel, kSignal, kScenario, kPlugin, kMultiProcess } kind = kChannel;
};

// The transports byte 0 picks from: `transports`, or for the plugin target
// every transport a plugin registered.
std::vector<std::string> FamilyOf(const FuzzTarget& t);
// The property of the scenarios a target decodes to: "G-MODEL", "MP-FUZZ",
// "SIG-FUZZ", or "" for the scenario target (any).
std::string_view FuzzPropertyOf(const FuzzTarget& t);

// Every target, in a fixed order.
const std::vector<FuzzTarget>& FuzzTargets();
// A target by name; a registered transport's name is a one-transport
// channel target, and that name with "_mp" a one-transport multi-process
// target. nullptr if none of these.
const FuzzTarget* FindFuzzTarget(std::string_view name);

inline constexpr size_t kMaxFuzzSteps = 512;
inline constexpr uint64_t kMaxFuzzSize = uint64_t{1} << 18;

// Decodes `bytes` for `target`. InvalidArgument for an unknown target, a
// malformed IPCSPEC1 scenario, or one that is out of the fuzz targets' bounds
// (more than kMaxFuzzSteps steps, sizes over kMaxFuzzSize).
absl::StatusOr<Scenario> DecodeFuzzInput(std::string_view target, std::string_view bytes);

// The inverse for seeds: bytes that DecodeFuzzInput(target, .) turns into
// `s` (transport by its index in the family; sizes by table or literally).
// InvalidArgument if `s` uses a step the encoding lacks.
absl::StatusOr<std::string> EncodeFuzzInput(std::string_view target, const Scenario& s);

// The multi-process decoding for transport `t` (what <family>_mp targets
// and MP-FUZZ's generator use).
Scenario DecodeMultiProcess(const Transport& t, std::string_view bytes);
// Whether MP-FUZZ runs two writers on `t`: multi_writer, and on a byte
// stream an atomic_write to cut the stream by.
bool TwoWritersFit(const Capabilities& c);

// Scenario::Describe, but with SIG-FUZZ steps in words.
std::string DescribeFuzzScenario(const Scenario& s);

}  // namespace ipcspec

#endif  // IPCSPEC_FUZZ_FUZZ_DECODE_H_
