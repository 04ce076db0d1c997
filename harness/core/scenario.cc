#include "ipcspec/scenario.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/util.h"
#include "ipcspec/wire.h"

namespace ipcspec {
namespace {

constexpr std::string_view kMagic = "IPCSPEC1";
constexpr uint32_t kMaxSteps = 1 << 16;
constexpr uint32_t kMaxActors = 64;

std::string Actor(uint32_t a) { return a == 0 ? "reader" : absl::StrCat("writer ", a); }

}  // namespace

std::string Scenario::Serialize() const {
  WireWriter w;
  for (char c : kMagic) w.U8(static_cast<uint8_t>(c));
  w.Str(property);
  w.Str(transport);
  w.U32(static_cast<uint32_t>(steps.size()));
  for (const Step& s : steps) {
    w.U8(static_cast<uint8_t>(s.op));
    w.U32(s.actor);
    w.U64(s.size);
    w.U64(s.arg);
  }
  return w.Take();
}

absl::StatusOr<Scenario> Scenario::Parse(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::InvalidArgumentError("not an ipcspec scenario (missing IPCSPEC1 header)");
  }
  WireReader r(bytes.substr(kMagic.size()), 256);
  Scenario s;
  uint32_t n;
  if (!r.Str(&s.property) || !r.Str(&s.transport) || !r.U32(&n)) {
    return absl::InvalidArgumentError("scenario header is truncated");
  }
  if (n > kMaxSteps) return absl::InvalidArgumentError(absl::StrCat("too many steps: ", n));
  for (uint32_t i = 0; i < n; ++i) {
    uint8_t op;
    Step st;
    if (!r.U8(&op) || !r.U32(&st.actor) || !r.U64(&st.size) || !r.U64(&st.arg)) {
      return absl::InvalidArgumentError(absl::StrCat("step ", i + 1, " is truncated"));
    }
    if (op < static_cast<uint8_t>(Op::kSend) || op > static_cast<uint8_t>(Op::kPriority)) {
      return absl::InvalidArgumentError(absl::StrCat("step ", i + 1, ": unknown operation ", op));
    }
    if (st.actor >= kMaxActors) {
      return absl::InvalidArgumentError(absl::StrCat("step ", i + 1, ": actor ", st.actor,
                                                     " out of range (max ", kMaxActors - 1, ")"));
    }
    st.op = static_cast<Op>(op);
    s.steps.push_back(st);
  }
  if (!r.empty()) return absl::InvalidArgumentError("trailing bytes after the last step");
  return s;
}

std::string DescribeStep(const Step& s) {
  switch (s.op) {
    case Op::kSend:
      return absl::StrFormat("%s sends message %d: %s", Actor(s.actor), s.arg, ByteCount(s.size));
    case Op::kTrySend:
      return absl::StrFormat("%s sends message %d without blocking: %s", Actor(s.actor), s.arg,
                             ByteCount(s.size));
    case Op::kRecv:
      return s.size == 0
                 ? absl::StrFormat("%s receives", Actor(s.actor))
                 : absl::StrFormat("%s receives into %s", Actor(s.actor), ByteCount(s.size));
    case Op::kTryRecv:  // size 0, as for kRecv: the largest buffer the transport needs
      return s.size == 0 ? absl::StrFormat("%s receives without blocking", Actor(s.actor))
                         : absl::StrFormat("%s receives without blocking into %s", Actor(s.actor),
                                           ByteCount(s.size));
    case Op::kWait:
      return absl::StrFormat("%s receives, waiting at most %d ms", Actor(s.actor), s.size);
    case Op::kClose:
      return absl::StrFormat("%s closes its end", Actor(s.actor));
    case Op::kKill:
      return absl::StrFormat("%s is killed with SIGKILL", Actor(s.actor));
    case Op::kParam:
      return absl::StrFormat("parameter %d = %d", s.arg, s.size);
    case Op::kOpen:
      return absl::StrFormat("%s opens its end", Actor(s.actor));
    case Op::kPriority:
      return absl::StrFormat("%s sets priority %d for its next send", Actor(s.actor), s.size);
  }
  return "?";
}

std::string Scenario::Describe() const {
  std::string out = absl::StrFormat("%s on %s, %d %s:\n", property, transport, steps.size(),
                                    steps.size() == 1 ? "step" : "steps");
  for (size_t i = 0; i < steps.size(); ++i) {
    absl::StrAppendFormat(&out, "  %d. %s\n", i + 1, DescribeStep(steps[i]));
  }
  return out;
}

uint64_t Scenario::Param(uint64_t index, uint64_t fallback) const {
  for (const Step& s : steps) {
    if (s.op == Op::kParam && s.arg == index) return s.size;
  }
  return fallback;
}

}  // namespace ipcspec
