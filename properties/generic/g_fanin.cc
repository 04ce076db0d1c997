// G-FANIN, the classic fan-in over fork(): N forked workers each sum one
// slice of 1..M and send the partial sum; the parent's total is M(M+1)/2.
//
// The oracle for each capability class:
//   reliable, multi-writer  the partial sums, whatever their order, add up
//                           to M(M+1)/2, then nothing more: END once every
//                           worker closed (peer-close), else a non-blocking
//                           receive finds nothing
//   counter                 the counter's reads add up to the same total
//   byte stream             atomic_write >= the sum's width: each sum whole
//   lossy                   skipped: the total is defined only when every
//                           sum arrives (G-MULTI-WRITER checks what does)
//   one writer only         skipped: there is no fan-in
//   duplex, capacity,       change nothing: N small sends, no clock
//   realtime
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_fanin {

// What worker w of n sends: the sum of its share of 1..m.
uint64_t PartialSum(uint64_t w, uint64_t n, uint64_t m) {
  const uint64_t lo = w * m / n + 1, hi = (w + 1) * m / n;
  uint64_t sum = 0;
  for (uint64_t i = lo; i <= hi; ++i) sum += i;
  return sum;
}

// Bytes per partial sum: 8 where a message that large fits, else 4 (M is
// bounded so every sum fits 32 bits).
uint64_t Width(const Capabilities& c) { return c.max_message == 0 || c.max_message >= 8 ? 8 : 4; }

class FanInProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false");
    if (!c.reliable) return Needs(false, "reliable=false (a lost sum leaves no total to check)");
    if (c.max_message > 0 && c.max_message < 4) return Needs(false, "max_message<4");
    return Needs(c.framing == Framing::kMessage || c.atomic_write >= Width(c),
                 "atomic_write<8 on a byte stream");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const auto n = *rc::gen::inRange<uint64_t>(1, 9);
      const auto m = *rc::gen::inRange<uint64_t>(0, 65536);
      return std::vector<Step>{workers_.Step(n), upto_.Step(m)};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint64_t n = std::clamp<uint64_t>(workers_.Of(s), 1, 64), m = upto_.Of(s);
    Traffic traffic(c, env, {});
    const int deliver = traffic.waits().deliver_ms;
    const uint64_t width = Width(c);
    std::vector<Actor> actors;
    for (uint64_t w = 0; w < n; ++w) {
      actors.push_back(
          {absl::StrCat("worker ", w + 1), Role::kWriter, [&, w](std::unique_ptr<End>& end) {
             const uint64_t sum = PartialSum(w, n, m);
             // The counter model adds what is written: a zero sum
             // is no write at all (eventfd refuses nothing, but
             // reads would never see it).
             if (c.model == ModelClass::kCounter && sum == 0) return std::string();
             std::byte bytes[8];
             std::memcpy(bytes, &sum, 8);
             size_t sent = 0;
             int rc = end->Send(std::span<const std::byte>(bytes, width), &sent, deliver);
             if (rc != 0 || sent != width)
               return absl::StrCat("sending the partial sum: ", Errno(rc));
             return std::string();
           }});
    }
    actors.push_back(
        {"parent", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
           const uint64_t want = m * (m + 1) / 2;
           uint64_t total = 0;
           std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
           if (c.model == ModelClass::kCounter) {
             std::vector<uint64_t> added;
             for (uint64_t w = 0; w < n; ++w) added.push_back(PartialSum(w, n, m));
             if (std::string e = ReadSum(*end, added, deliver); !e.empty()) return e;
             total = want;
           } else if (c.framing == Framing::kMessage) {
             for (uint64_t i = 0; i < n; ++i) {
               size_t got = 0;
               int rc = end->Recv(buf, &got, deliver);
               if (rc != 0) return absl::StrFormat("partial sum %d of %d: %s", i + 1, n, Errno(rc));
               if (got != width)
                 return absl::StrFormat("partial sum %d is %d bytes, not %d", i + 1, got, width);
               uint64_t v = 0;
               std::memcpy(&v, buf.data(), width);
               total += v;
             }
           } else {
             std::vector<std::byte> all;
             while (all.size() < n * width) {
               size_t got = 0;
               int rc = end->Recv(std::span(buf).first(n * width - all.size()), &got, deliver);
               if (rc != 0)
                 return absl::StrFormat("after %d of %d bytes: %s", all.size(), n * width,
                                        Errno(rc));
               all.insert(all.end(), buf.begin(), buf.begin() + static_cast<long>(got));
             }
             for (uint64_t i = 0; i < n; ++i) {
               uint64_t v = 0;
               std::memcpy(&v, all.data() + i * width, width);
               total += v;
             }
           }
           if (total != want) {
             return absl::StrFormat("N=%d workers over 1..%d: total %d, expected M(M+1)/2 = %d", n,
                                    m, total, want);
           }
           return traffic.NothingMore(*end);
         }});
    return RunActors(t, env, std::move(actors));
  }

  const Param<uint64_t> workers_{this, 0, "N = %s workers", 1};
  const Param<uint64_t> upto_{this, 1, "they sum 1..M with M = %s", 0};
};
IPCSPEC_REGISTER_PROPERTY(FanInProperty, "G-FANIN", {.examples = 25});

}  // namespace g_fanin
}  // namespace
}  // namespace ipcspec::props
