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

Scenario DecodeChannel(const FuzzTarget& t, std::string_view bytes) {
  Bytes in(bytes);
  Scenario s;
  s.property = "G-MODEL";
  uint8_t pick = 0;
  in.U8(&pick);
  s.transport = t.transports[pick % t.transports.size()];
  uint64_t msg = 0;
  bool closed = false;
  auto send = [&](uint64_t size) {
    if (!closed) s.steps.push_back({Op::kTrySend, 1, std::min(size, kMaxFuzzSize), msg++});
  };
  auto recv = [&](uint64_t cap) { s.steps.push_back({Op::kTryRecv, 0, cap, 0}); };
  uint8_t b;
  while (s.steps.size() < kMaxFuzzSteps && in.U8(&b)) {
    const uint8_t a = b & 31;
    uint64_t v;
    uint8_t k;
    switch (b >> 5) {
      case 0:
        send(kSizes[a]);
        break;
      case 1:
        if (!in.U16(&v)) return s;
        send((uint64_t{a} << 16) | v);
        break;
      case 2:
        recv(kCaps[a]);
        break;
      case 3:
        if (!in.U16(&v)) return s;
        recv(v + 1);
        break;
      case 4:
        s.steps.push_back({Op::kWait, 0, uint64_t{(a & 3u) + 1}, 0});
        break;
      case 5:
        if (closed) {
          recv(0);
        } else {
          s.steps.push_back({Op::kClose, 1, 0, 0});
          closed = true;
        }
        break;
      case 6:
        if (!in.U8(&k)) return s;
        for (int i = 0; i <= a && s.steps.size() < kMaxFuzzSteps; ++i) send(kSizes[k & 31]);
        break;
      case 7:
        for (int i = 0; i <= a && s.steps.size() < kMaxFuzzSteps; ++i) recv(0);
        break;
    }
  }
  return s;
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
    switch (b >> 5) {
      case 0:
        s.steps.push_back({Op::kSend, 1, sig, ++value});
        break;
      case 1:
        s.steps.push_back({Op::kTryRecv, 0, sig, 0});
        break;
      case 2:
        s.steps.push_back({Op::kTryRecv, 0, 0, 0});
        break;
      case 3:
        s.steps.push_back({Op::kParam, 0, sig, kSigBlock});
        break;
      case 4:
        s.steps.push_back({Op::kParam, 0, sig, kSigUnblock});
        break;
      case 5:
        s.steps.push_back({Op::kParam, 0, sig, kSigIgnore});
        break;
      case 6:
        s.steps.push_back({Op::kParam, 0, sig, kSigHandle});
        break;
      case 7:
        s.steps.push_back({Op::kParam, 0, sig, kSigDefault});
        break;
    }
  }
  return s;
}

}  // namespace

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
  // Any registered transport is a target of its own (broken_* variants).
  static auto* extra = new std::vector<std::unique_ptr<FuzzTarget>>;
  for (const auto& t : *extra) {
    if (t->name == name) return t.get();
  }
  if (TransportRegistry::Global().Find(name) == nullptr) return nullptr;
  extra->push_back(std::make_unique<FuzzTarget>(
      FuzzTarget{std::string(name), {std::string(name)}, FuzzTarget::kChannel}));
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
      return DecodeChannel(*t, bytes);
    case FuzzTarget::kSignal:
      return DecodeSignal(bytes);
    case FuzzTarget::kScenario:
      break;
  }
  return absl::InvalidArgumentError("the scenario target takes IPCSPEC1 scenarios only");
}

absl::StatusOr<std::string> EncodeFuzzInput(std::string_view target, const Scenario& s) {
  const FuzzTarget* t = FindFuzzTarget(target);
  if (t == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("unknown target ", std::string(target)));
  std::string out;
  auto fail = [&](const Step& st) {
    return absl::InvalidArgumentError(absl::StrCat("no encoding for: ", DescribeStep(st)));
  };
  if (t->kind == FuzzTarget::kScenario) return s.Serialize();
  if (t->kind == FuzzTarget::kSignal) {
    const std::vector<int>& sigs = FuzzSignals();
    for (const Step& st : s.steps) {
      auto idx = std::find(sigs.begin(), sigs.end(), static_cast<int>(st.size)) - sigs.begin();
      if (st.op == Op::kTryRecv && st.size == 0) {
        out += static_cast<char>(2 << 5);
        continue;
      }
      if (idx == static_cast<long>(sigs.size())) return fail(st);
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
      if (kind < 0) return fail(st);
      out += static_cast<char>((kind << 5) | idx);
    }
    return out;
  }
  auto it = std::find(t->transports.begin(), t->transports.end(), s.transport);
  if (it == t->transports.end())
    return absl::InvalidArgumentError("transport not in the target's family");
  out += static_cast<char>(it - t->transports.begin());
  for (const Step& st : s.steps) {
    switch (st.op) {
      case Op::kTrySend: {
        auto k = std::find(kSizes.begin(), kSizes.end(), st.size) - kSizes.begin();
        if (k < 32) {
          out += static_cast<char>(k);
        } else if (st.size <= kMaxFuzzSize) {
          out += static_cast<char>((1 << 5) | (st.size >> 16));
          out += static_cast<char>(st.size & 0xff);
          out += static_cast<char>((st.size >> 8) & 0xff);
        } else {
          return fail(st);
        }
        break;
      }
      case Op::kTryRecv: {
        auto k = std::find(kCaps.begin(), kCaps.end(), st.size) - kCaps.begin();
        if (k < 32) {
          out += static_cast<char>((2 << 5) | k);
        } else if (st.size >= 1 && st.size <= 65536) {
          out += static_cast<char>(3 << 5);
          out += static_cast<char>((st.size - 1) & 0xff);
          out += static_cast<char>(((st.size - 1) >> 8) & 0xff);
        } else {
          return fail(st);
        }
        break;
      }
      case Op::kWait:
        if (st.size < 1 || st.size > 4) return fail(st);
        out += static_cast<char>((4 << 5) | (st.size - 1));
        break;
      case Op::kClose:
        out += static_cast<char>(5 << 5);
        break;
      default:
        return fail(st);
    }
  }
  return out;
}

std::string DescribeFuzzScenario(const Scenario& s) { return DescribeScenario(s); }

}  // namespace ipcspec
