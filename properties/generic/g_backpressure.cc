// G-BACKPRESSURE: non-blocking sends on a full transport report would-block
// (EAGAIN) at about the declared capacity, lose nothing, and resume once the
// reader drains; a non-blocking receive on an empty transport would-blocks.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class BackpressureProperty : public NamedProperty {
 public:
  BackpressureProperty()
      : NamedProperty("G-BACKPRESSURE",
                      "non-blocking send on a full transport gives EAGAIN at about the declared "
                      "capacity, loses nothing, resumes after the reader drains",
                      "pipe(7) O_NONBLOCK, mq_send(3) EAGAIN, msgsnd(2) IPC_NOWAIT") {}
  Applicability AppliesTo(const Transport& t) const override {
    const Capabilities& c = t.caps();
    if (!c.reliable) return Needs(false, "reliable=false");
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter");
    return Needs(c.capacity > 0 || c.max_queued > 0,
                 "capacity=0 and max_queued=0 (no declared bound)");
  }
  int DefaultExamples() const override { return 20; }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    uint64_t limit = 4096;
    if (c.max_message) limit = std::min(limit, c.max_message);
    if (c.capacity) limit = std::min(limit, std::max<uint64_t>(c.capacity / 4, 1));
    const uint64_t low = c.framing == Framing::kStream ? 1 : 0;
    return rc::gen::map(rc::gen::weightedOneOf<uint64_t>({
                            {2, rc::gen::elementOf(std::vector<uint64_t>{low, limit})},
                            {3, rc::gen::inRange<uint64_t>(low, limit + 1)},
                        }),
                        [](uint64_t size) {
                          return std::vector<Step>{{Op::kTrySend, 1, size, 0}};
                        });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint64_t size = s.steps.empty() ? 1 : s.steps[0].size;
    SharedFlags flags;
    std::atomic<uint64_t>& accepted = flags.Counter(0);  // messages the writer got in
    std::atomic<uint64_t>& bytes = flags.Counter(1);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    // Enough that a transport which never pushes back is caught.
    const uint64_t give_up =
        4 * std::max(c.capacity, c.max_queued * std::max<uint64_t>(size, 1)) + (1 << 20);
    Actor writer{
        "writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
          uint64_t msg = 0, total = 0;
          if (!flags.WaitFor(2, deadline)) return "the reader never checked the empty channel";
          for (;;) {
            const std::vector<std::byte> data = Payload(1, msg, size);
            size_t n = 0;
            int rc = end->Send(data, &n, 0);
            if (rc == -EAGAIN) break;
            if (rc != 0) return absl::StrFormat("non-blocking send %d: %s", msg, Errno(rc));
            if (n != size) {
              // A stream may take part of a send; the rest must wait.
              if (c.framing == Framing::kMessage || n > size) {
                return absl::StrFormat("non-blocking send %d took %d of %d bytes", msg, n, size);
              }
              total += n;
              bytes.store(total);
              accepted.store(msg);
              ++msg;  // a torn message: the reader checks the bytes it got
              break;
            }
            total += n;
            ++msg;
            if (total > give_up || msg > give_up) {
              return absl::StrFormat(
                  "no EAGAIN after %d bytes in %d sends (declared capacity %d, max_queued %d)",
                  total, msg, c.capacity, c.max_queued);
            }
          }
          if (c.framing == Framing::kMessage || bytes.load() != total) {
            accepted.store(msg);
            bytes.store(total);
          }
          if (c.max_queued > 0 && c.framing == Framing::kMessage && msg != c.max_queued &&
              (c.capacity == 0 || total + size <= c.capacity)) {
            return absl::StrFormat("would-block after %d messages of %d bytes; max_queued is %d",
                                   msg, size, c.max_queued);
          }
          if (c.capacity > 0) {
            const uint64_t room =
                c.max_queued > 0 ? std::min(c.capacity, c.max_queued * size) : c.capacity;
            if (total < room / 2 || total > room + std::max<uint64_t>(size, 4096)) {
              return absl::StrFormat(
                  "would-block after %d bytes in %d sends of %d; declared capacity %d", total, msg,
                  size, c.capacity);
            }
          }
          flags.Raise(0);
          // Resumes once the reader has drained everything.
          if (!flags.WaitFor(1, deadline)) return "the reader never drained";
          const Sent again{1, 1u << 30, std::min<uint64_t>(size, 16)};
          std::vector<std::byte> data = Payload(again.writer, again.msg, again.size);
          size_t n = 0;
          int rc = end->Send(data, &n, 0);
          if (rc != 0)
            return absl::StrFormat("send after the reader drained: %s, not 0", Errno(rc));
          return "";
        }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   std::vector<std::byte> buf(RecvBufferSize(c));
                   size_t n = 0;
                   int rc = end->Recv(buf, &n, 0);
                   if (rc != -EAGAIN) {
                     flags.Raise(2);
                     return absl::StrFormat(
                         "non-blocking receive on an empty channel: %s, not -EAGAIN", Errno(rc));
                   }
                   flags.Raise(2);
                   if (!flags.WaitFor(0, deadline)) return "the writer never filled the channel";
                   std::vector<Sent> want;
                   const uint64_t msgs = accepted.load();
                   const uint64_t total = bytes.load();
                   for (uint64_t i = 0; i < msgs; ++i) want.push_back({1, i, size});
                   std::string e;
                   if (c.framing == Framing::kStream) {
                     // The bytes that got in, whole messages then any torn tail.
                     if (total > msgs * size) want.push_back({1, msgs, total - msgs * size});
                     e = ExpectStream(*end, want, {65536}, kOpTimeoutMs);
                   } else {
                     for (const Sent& m : want) {
                       e = ExpectMessage(*end, m, want, buf.size(), kOpTimeoutMs);
                       if (!e.empty()) break;
                     }
                   }
                   if (!e.empty()) return e;
                   rc = end->Recv(buf, &n, 0);
                   if (rc != -EAGAIN)
                     return absl::StrFormat(
                         "drained channel: non-blocking receive gave %s, not -EAGAIN", Errno(rc));
                   flags.Raise(1);
                   const Sent again{1, 1u << 30, std::min<uint64_t>(size, 16)};
                   if (c.framing == Framing::kStream)
                     return ExpectStream(*end, {again}, {}, kOpTimeoutMs);
                   return ExpectMessage(*end, again, {again}, buf.size(), kOpTimeoutMs);
                 }};
    return RunActors(t, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(BackpressureProperty);

}  // namespace
}  // namespace ipcspec::props
