#include "fuzz/fuzz_mp_state.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "ipcspec/watch.h"
#include "properties/model/model.h"
#include "properties/support/common.h"

namespace ipcspec::mp {
namespace {

long Futex(std::atomic<uint32_t>* word, int op, uint32_t val, const struct timespec* ts) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, ts, nullptr, 0);
}

}  // namespace

void MpShared::Bump() {
  epoch.fetch_add(1, std::memory_order_acq_rel);
  Futex(&epoch, FUTEX_WAKE, INT32_MAX, nullptr);
}

bool MpShared::WaitForChange(uint32_t seen, const Deadline& deadline) {
  // On the case's watchdog board: when every participant waits for a peer,
  // the case ends as a hang with a diagnosis instead of at the deadline.
  WatchedCall watched = WatchedCall::PeerWait("wait for the other participants");
  while (epoch.load(std::memory_order_acquire) == seen) {
    const int ms = deadline.RemainingMs();
    if (ms == 0) return false;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    Futex(&epoch, FUTEX_WAIT, seen, ms < 0 ? nullptr : &ts);
  }
  return true;
}

void MpShared::Publish(uint32_t w, uint64_t k, int64_t taken, int rc) {
  WriterShared& ws = writers[w];
  ws.taken[k] = taken;
  ws.rc[k] = rc;
  ws.done.store(static_cast<uint32_t>(k + 1), std::memory_order_release);
  ws.in_send.store(0, std::memory_order_release);
  Bump();
}

void MpShared::SetState(uint32_t w, WriterState s) {
  writers[w].state.store(s, std::memory_order_release);
  Bump();
}

MpScript MpScript::Of(const Capabilities& c, const Scenario& s) {
  MpScript out;
  out.caps = c;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const Step& st = s.steps[i];
    if (st.actor > kMaxWriters) continue;
    if (st.actor == 0 && st.op != Op::kRecv && st.op != Op::kTryRecv) continue;
    if (st.actor > 0) out.writers = std::max(out.writers, st.actor);
    out.steps[st.actor].push_back(i);
    if (st.op == Op::kKill) out.kill_planned[st.actor] = true;
    if (st.actor == 0 || (st.op != Op::kSend && st.op != Op::kTrySend)) continue;
    MpSend m;
    m.step = i;
    m.size = std::min<uint64_t>(st.size, kMaxFuzzSize);
    m.blocking = st.op == Op::kSend;
    // As the reference model says: over max_message first.
    if (c.model == ModelClass::kCounter && m.size < 8) m.refusal = -EINVAL;
    if (c.max_message > 0 && m.size > c.max_message) m.refusal = -EMSGSIZE;
    m.delivers = m.refusal == 0 && (m.size > 0 || c.framing == Framing::kMessage);
    out.sends[st.actor].push_back(m);
  }
  return out;
}

namespace {
// Message k of writer w: a pattern whose first byte's low bit is w - 1, so
// that no message of one writer begins like one of the other's. Which
// writer sent a message, or which writer's message stream bytes begin, is
// then never a matter of chance: with plain patterns, one-byte messages of
// the two writers were alike one time in 256, and a correct transport
// failed.
uint64_t MessageOf(uint32_t w, uint64_t k) {
  static_assert(kMaxWriters == 2, "one bit marks the writer");
  const uint64_t base = (uint64_t{w} << 48) | (k << 8);
  for (uint64_t m = base; m < base + 256; ++m) {
    std::byte first;
    props::FillPayload(1, m, 0, std::span(&first, 1));  // the model's pattern (writer 1's)
    if ((std::to_integer<uint32_t>(first) & 1u) == w - 1) return m;
  }
  return base;  // all 256 alike: one time in 2^256
}
}  // namespace

std::span<const std::byte> MpPayloadView(const Capabilities& c, uint32_t w, uint64_t k,
                                         uint64_t size) {
  if (c.model == ModelClass::kCounter && size >= 8) {
    // The value, then zeros: a counter takes the first 8 bytes.
    thread_local std::vector<std::byte> out;
    out.assign(size, std::byte{0});
    const uint64_t v = MpCounterValue(w, k);
    std::memcpy(out.data(), &v, sizeof v);
    return out;
  }
  return props::ModelPayloadView(c, MessageOf(w, k), size);
}

size_t MpMismatch(uint32_t w, uint64_t k, uint64_t off, std::span<const std::byte> got) {
  return props::ModelPayloadMismatch(MessageOf(w, k), off, got);
}

}  // namespace ipcspec::mp
