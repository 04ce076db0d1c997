#include "fuzz/fuzz_decode.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzz/fuzz_signal.h"
#include "ipcspec/property.h"
#include "ipcspec/registry.h"

namespace ipcspec {
namespace {

constexpr std::string_view kMagic = "IPCSPEC1";

constexpr std::array<uint64_t, 32> kSizes = {0,    1,    2,     3,     7,     8,     9,     16,
                                             63,   64,   100,   255,   256,   511,   512,   1000,
                                             1023, 1024, 2047,  2048,  4095,  4096,  4097,  8191,
                                             8192, 8193, 16383, 16384, 32768, 65535, 65536, 65537};
constexpr std::array<uint64_t, 32> kCaps = {0,     1,     2,     3,     4,     7,      8,    9,
                                            16,    32,    64,    100,   128,   256,    512,  1000,
                                            1024,  2048,  4095,  4096,  4097,  8191,   8192, 8193,
                                            16384, 32768, 65535, 65536, 65537, 131072, 7,    0};

class Bytes {
 public:
  explicit Bytes(std::string_view b) : b_(b) {}
  bool empty() const { return pos_ >= b_.size(); }
  bool U8(uint8_t* v) {
    if (pos_ >= b_.size()) return false;
    *v = static_cast<uint8_t>(b_[pos_++]);
    return true;
  }
  bool U16(uint64_t* v) {
    uint8_t lo, hi;
    if (!U8(&lo) || !U8(&hi)) return false;
    *v = lo | (uint64_t{hi} << 8);
    return true;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

// The steps of a channel input, decoded into `steps` (emptied first).
void DecodeChannelSteps(Bytes& in, std::vector<Step>& steps) {
  steps.clear();
  uint64_t msg = 0;
  bool closed = false;
  auto send = [&](uint64_t size) {
    if (!closed) steps.push_back({Op::kTrySend, 1, std::min(size, kMaxFuzzSize), msg++});
  };
  auto recv = [&](uint64_t cap) { steps.push_back({Op::kTryRecv, 0, cap, 0}); };
  uint8_t b;
  while (steps.size() < kMaxFuzzSteps && in.U8(&b)) {
    const uint8_t a = b & 31;
    uint64_t v;
    uint8_t k;
    switch (b >> 5) {
      case 0:
        send(kSizes[a]);
        break;
      case 1:
        if (!in.U16(&v)) return;
        send((uint64_t{a} << 16) | v);
        break;
      case 2:
        recv(kCaps[a]);
        break;
      case 3:
        if (!in.U16(&v)) return;
        recv(v + 1);
        break;
      case 4:
        steps.push_back({Op::kWait, 0, uint64_t{(a & 3u) + 1}, 0});
        break;
      case 5:
        if (closed) {
          recv(0);
        } else {
          steps.push_back({Op::kClose, 1, 0, 0});
          closed = true;
        }
        break;
      case 6:
        if (!in.U8(&k)) return;
        for (int i = 0; i <= a && steps.size() < kMaxFuzzSteps; ++i) send(kSizes[k & 31]);
        break;
      case 7:
        for (int i = 0; i <= a && steps.size() < kMaxFuzzSteps; ++i) recv(0);
        break;
    }
  }
}

Scenario DecodeChannel(const std::vector<std::string>& family, std::string_view bytes) {
  Bytes in(bytes);
  Scenario s;
  s.property = "G-MODEL";
  uint8_t pick = 0;
  in.U8(&pick);
  s.transport = family[pick % family.size()];
  // Decoded into a vector kept from input to input, then copied into one of
  // the exact size: growing one step by step, or reserving kMaxFuzzSteps,
  // was fresh memory (page faults) for every input under ASan's quarantine.
  thread_local std::vector<Step> steps;
  if (steps.capacity() < kMaxFuzzSteps) steps.reserve(kMaxFuzzSteps);
  DecodeChannelSteps(in, steps);
  s.steps.assign(steps.begin(), steps.end());
  return s;
}

// What the multi-process decoder builds before its last pass.
struct MpBuild {
  Scenario s;
  bool two_writers = false;
  bool finished[3] = {false, false, false};  // writer closed or killed
};

void MpInstruction(MpBuild& b, uint32_t& writer, uint8_t kind, uint8_t a, Bytes& in) {
  auto send = [&](Op op, uint64_t size) {
    if (!b.finished[writer]) b.s.steps.push_back({op, writer, size, 0});
  };
  uint8_t k;
  switch (kind) {
    case 0:
      send(Op::kSend, kSizes[a]);
      break;
    case 1:
      send(Op::kTrySend, kSizes[a]);
      break;
    case 2:
      b.s.steps.push_back({Op::kRecv, 0, kCaps[a], 0});
      break;
    case 3:
      b.s.steps.push_back({Op::kTryRecv, 0, kCaps[a], 0});
      break;
    case 4:
      writer = b.two_writers ? 1 + (a & 1u) : 1;
      break;
    case 5:
    case 6:
      if (!b.finished[writer]) {
        b.s.steps.push_back({kind == 5 ? Op::kClose : Op::kKill, writer, 0, 0});
        b.finished[writer] = true;
      }
      break;
    case 7:
      if (!in.U8(&k)) break;
      for (int i = 0; i <= a && b.s.steps.size() < kMaxFuzzSteps; ++i)
        send(Op::kSend, kSizes[k & 31]);
      break;
  }
}

Scenario DecodeSignal(std::string_view bytes) {
  const std::vector<int>& sigs = FuzzSignals();
  Scenario s;
  s.property = "SIG-FUZZ";
  s.transport = "signal";
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size() && s.steps.size() < kMaxFuzzSteps; ++i) {
    const uint8_t b = static_cast<uint8_t>(bytes[i]);
    const uint64_t sig = static_cast<uint64_t>(sigs[(b & 31) % sigs.size()]);
    // The top three bits: send, take that signal, take any, or set its
    // disposition (block, unblock, ignore, handle, default).
    static constexpr uint64_t kDispositions[] = {kSigBlock, kSigUnblock, kSigIgnore, kSigHandle,
                                                 kSigDefault};
    const int op = b >> 5;
    if (op == 0) {
      s.steps.push_back({Op::kSend, 1, sig, ++value});
    } else if (op <= 2) {
      s.steps.push_back({Op::kTryRecv, 0, op == 1 ? sig : 0, 0});
    } else {
      s.steps.push_back({Op::kParam, 0, sig, kDispositions[op - 3]});
    }
  }
  return s;
}

}  // namespace

bool TwoWritersFit(const Capabilities& c) {
  return c.multi_writer && (c.framing == Framing::kMessage || c.atomic_write > 0);
}

Scenario DecodeMultiProcess(const Transport& t, std::string_view bytes) {
  const Capabilities& c = t.caps();
  Bytes in(bytes);
  MpBuild b;
  b.s.property = "MP-FUZZ";
  b.s.transport = std::string(t.name());
  b.s.steps.reserve(std::min(kMaxFuzzSteps, 2 * bytes.size()));
  b.two_writers = TwoWritersFit(c);
  uint32_t writer = 1;
  uint8_t byte;
  while (b.s.steps.size() < kMaxFuzzSteps && in.U8(&byte)) {
    MpInstruction(b, writer, byte >> 5, byte & 31, in);
  }
  // Two writers on a stream: every message one atomic write. Then each
  // writer's sends are numbered in its own order.
  bool second = false;
  for (const Step& st : b.s.steps) second = second || st.actor == 2;
  const bool cut = second && c.framing == Framing::kStream;
  uint64_t next[3] = {0, 0, 0};
  std::vector<Step> out;
  for (Step st : b.s.steps) {
    const bool send = st.op == Op::kSend || st.op == Op::kTrySend;
    if (send && cut && (st.size == 0 || st.size > c.atomic_write)) continue;
    if (send) st.arg = next[st.actor]++;
    out.push_back(st);
  }
  // A receive into a buffer smaller than the next message consumes that
  // message unless the transport keeps it (SHORT_RECV_KEEPS), and with two
  // writers which one's it was is not known: such a receive gets a buffer
  // every message fits (G-BOUNDARY and G-MODEL check short receives).
  if (c.framing == Framing::kMessage && c.model != ModelClass::kCounter &&
      c.short_recv != ShortRecv::kKeeps) {
    uint64_t largest = 0;
    for (const Step& st : out) {
      if (st.op == Op::kSend || st.op == Op::kTrySend) largest = std::max(largest, st.size);
    }
    for (Step& st : out) {
      const bool recv = st.op == Op::kRecv || st.op == Op::kTryRecv;
      if (recv && st.size != 0 && st.size < largest) st.size = 0;
    }
  }
  b.s.steps = std::move(out);
  return b.s;
}

std::vector<std::string> FamilyOf(const FuzzTarget& t) {
  if (t.kind != FuzzTarget::kPlugin) return t.transports;
  std::vector<std::string> out;
  for (const Transport* tr : TransportRegistry::Global().All()) {
    if (!TransportRegistry::Global().IsBuiltin(tr->name())) out.emplace_back(tr->name());
  }
  return out;
}

std::string_view FuzzPropertyOf(const FuzzTarget& t) {
  switch (t.kind) {
    case FuzzTarget::kChannel:
    case FuzzTarget::kPlugin:
      return "G-MODEL";
    case FuzzTarget::kMultiProcess:
      return "MP-FUZZ";
    case FuzzTarget::kSignal:
      return "SIG-FUZZ";
    case FuzzTarget::kScenario:
      break;
  }
  return "";
}

const std::vector<FuzzTarget>& FuzzTargets() {
  static const auto* targets = new std::vector<FuzzTarget>{
#define IPCSPEC_FUZZ_TARGET(name, kind, ...) {#name, {__VA_ARGS__}, FuzzTarget::kind},
#include "fuzz/targets.def"
#undef IPCSPEC_FUZZ_TARGET
  };
  return *targets;
}

const FuzzTarget* FindFuzzTarget(std::string_view name) {
  for (const FuzzTarget& t : FuzzTargets()) {
    if (t.name == name) return &t;
  }
  // Any registered transport is a target of its own (broken_* variants),
  // in process; with "_mp", in the sandbox.
  static auto* extra = new std::vector<std::unique_ptr<FuzzTarget>>;
  for (const auto& t : *extra) {
    if (t->name == name) return t.get();
  }
  FuzzTarget t{std::string(name), {std::string(name)}, FuzzTarget::kChannel};
  if (TransportRegistry::Global().Find(name) == nullptr) {
    constexpr std::string_view kMp = "_mp";
    if (name.size() <= kMp.size() || name.substr(name.size() - kMp.size()) != kMp) return nullptr;
    const std::string_view transport = name.substr(0, name.size() - kMp.size());
    if (TransportRegistry::Global().Find(transport) == nullptr) return nullptr;
    t.transports = {std::string(transport)};
    t.kind = FuzzTarget::kMultiProcess;
  }
  extra->push_back(std::make_unique<FuzzTarget>(std::move(t)));
  return extra->back().get();
}

absl::StatusOr<Scenario> DecodeFuzzInput(std::string_view target, std::string_view bytes) {
  const FuzzTarget* t = FindFuzzTarget(target);
  if (t == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unknown fuzz target '%s'", std::string(target)));
  }
  if (bytes.substr(0, kMagic.size()) == kMagic) {
    absl::StatusOr<Scenario> s = Scenario::Parse(bytes);
    if (!s.ok()) return s.status();
    if (s->steps.size() > kMaxFuzzSteps) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%d steps (the fuzz targets take at most %d)", s->steps.size(), kMaxFuzzSteps));
    }
    for (const Step& st : s->steps) {
      if (st.size > kMaxFuzzSize) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "a step of size %d (the fuzz targets take at most %d)", st.size, kMaxFuzzSize));
      }
    }
    return s;
  }
  switch (t->kind) {
    case FuzzTarget::kChannel:
    case FuzzTarget::kPlugin: {
      const std::vector<std::string> family = FamilyOf(*t);
      if (family.empty()) {
        return absl::InvalidArgumentError(
            "no plugin loaded: name one with IPCSPEC_PLUGIN=/path/libmine.so (fuzz_plugin) or "
            "--plugin=/path/libmine.so (ipcspec replay)");
      }
      return DecodeChannel(family, bytes);
    }
    case FuzzTarget::kMultiProcess: {
      uint8_t pick = bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]);
      const std::string& name = t->transports[pick % t->transports.size()];
      const Transport* tr = TransportRegistry::Global().Find(name);
      if (tr == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrFormat("transport %s is not registered in this build", name));
      }
      return DecodeMultiProcess(*tr, bytes.substr(bytes.empty() ? 0 : 1));
    }
    case FuzzTarget::kSignal:
      return DecodeSignal(bytes);
    case FuzzTarget::kScenario:
      break;
  }
  return absl::InvalidArgumentError("the scenario target takes IPCSPEC1 scenarios only");
}

namespace {

absl::Status NoEncoding(const Step& st) {
  return absl::InvalidArgumentError(absl::StrCat("no encoding for: ", DescribeStep(st)));
}

absl::StatusOr<std::string> EncodeSignal(const Scenario& s) {
  const std::vector<int>& sigs = FuzzSignals();
  std::string out;
  for (const Step& st : s.steps) {
    auto idx = std::find(sigs.begin(), sigs.end(), static_cast<int>(st.size)) - sigs.begin();
    if (st.op == Op::kTryRecv && st.size == 0) {
      out += static_cast<char>(2 << 5);
      continue;
    }
    if (idx == static_cast<long>(sigs.size())) return NoEncoding(st);
    int kind = -1;
    if (st.op == Op::kSend) kind = 0;
    if (st.op == Op::kTryRecv) kind = 1;
    if (st.op == Op::kParam) {
      kind = st.arg == kSigBlock     ? 3
             : st.arg == kSigUnblock ? 4
             : st.arg == kSigIgnore  ? 5
             : st.arg == kSigHandle  ? 6
             : st.arg == kSigDefault ? 7
                                     : -1;
    }
    if (kind < 0) return NoEncoding(st);
    out += static_cast<char>((kind << 5) | idx);
  }
  return out;
}

// The instruction byte for a table entry, or -1.
template <size_t N>
int TableIndex(const std::array<uint64_t, N>& table, uint64_t v) {
  auto k = std::find(table.begin(), table.end(), v) - table.begin();
  return k < static_cast<long>(N) ? static_cast<int>(k) : -1;
}

absl::Status EncodeChannelStep(const Step& st, std::string* out) {
  switch (st.op) {
    case Op::kTrySend:
      if (int k = TableIndex(kSizes, st.size); k >= 0) {
        *out += static_cast<char>(k);
      } else if (st.size <= kMaxFuzzSize) {
        *out += static_cast<char>((1 << 5) | (st.size >> 16));
        *out += static_cast<char>(st.size & 0xff);
        *out += static_cast<char>((st.size >> 8) & 0xff);
      } else {
        return NoEncoding(st);
      }
      return absl::OkStatus();
    case Op::kTryRecv:
      if (int k = TableIndex(kCaps, st.size); k >= 0) {
        *out += static_cast<char>((2 << 5) | k);
      } else if (st.size >= 1 && st.size <= 65536) {
        *out += static_cast<char>(3 << 5);
        *out += static_cast<char>((st.size - 1) & 0xff);
        *out += static_cast<char>(((st.size - 1) >> 8) & 0xff);
      } else {
        return NoEncoding(st);
      }
      return absl::OkStatus();
    case Op::kWait:
      if (st.size < 1 || st.size > 4) return NoEncoding(st);
      *out += static_cast<char>((4 << 5) | (st.size - 1));
      return absl::OkStatus();
    case Op::kClose:
      *out += static_cast<char>(5 << 5);
      return absl::OkStatus();
    default:
      return NoEncoding(st);
  }
}

absl::StatusOr<std::string> EncodeMultiProcessSteps(const Scenario& s) {
  std::string out;
  uint32_t writer = 1;
  for (const Step& st : s.steps) {
    if (st.actor != 0 && st.actor != writer) {
      if (st.actor > 2) return NoEncoding(st);
      writer = st.actor;
      out += static_cast<char>((4 << 5) | (writer - 1));
    }
    int kind = -1, a = 0;
    switch (st.op) {
      case Op::kSend:
      case Op::kTrySend:
        kind = st.op == Op::kSend ? 0 : 1;
        a = TableIndex(kSizes, st.size);
        break;
      case Op::kRecv:
      case Op::kTryRecv:
        kind = st.op == Op::kRecv ? 2 : 3;
        a = TableIndex(kCaps, st.size);
        break;
      case Op::kClose:
      case Op::kKill:
        kind = st.op == Op::kClose ? 5 : 6;
        break;
      default:
        break;
    }
    if (kind < 0 || a < 0 || (kind >= 2 && kind <= 3) != (st.actor == 0)) return NoEncoding(st);
    out += static_cast<char>((kind << 5) | a);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> EncodeFuzzInput(std::string_view target, const Scenario& s) {
  const FuzzTarget* t = FindFuzzTarget(target);
  if (t == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("unknown target ", std::string(target)));
  if (t->kind == FuzzTarget::kScenario) return s.Serialize();
  if (t->kind == FuzzTarget::kSignal) return EncodeSignal(s);
  const std::vector<std::string> family = FamilyOf(*t);
  auto it = std::find(family.begin(), family.end(), s.transport);
  if (it == family.end()) return absl::InvalidArgumentError("transport not in the target's family");
  std::string out(1, static_cast<char>(it - family.begin()));
  if (t->kind == FuzzTarget::kMultiProcess) {
    absl::StatusOr<std::string> steps = EncodeMultiProcessSteps(s);
    if (!steps.ok()) return steps.status();
    return out + *steps;
  }
  for (const Step& st : s.steps) {
    if (absl::Status e = EncodeChannelStep(st, &out); !e.ok()) return e;
  }
  return out;
}

std::string DescribeFuzzScenario(const Scenario& s) { return DescribeScenario(s); }

}  // namespace ipcspec
