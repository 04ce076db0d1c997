// properties/generic/endless.h: an endless sequence of one writer's
// messages (message i has sizes[i % n] bytes; a counter adds i + 1) and the
// check of what a reader receives of it, for properties whose writer sends
// as many as the moment allows (G-PEER-CRASH until it is killed, G-FULL
// until the channel refuses): which messages were sent is known only as a
// count.
//
//   Endless seq(caps, {4096, 1});
//   std::string e = seq.On(received_bytes, sent_so_far, /*killed=*/false);
//   e = seq.Covers(sent, sent_bytes, "before the kill");  // all that is owed came
#ifndef IPCSPEC_PROPERTIES_GENERIC_ENDLESS_H_
#define IPCSPEC_PROPERTIES_GENERIC_ENDLESS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ipcspec/transport.h"
#include "properties/support/common.h"

namespace ipcspec::props {

// The endless sequence: message i has sizes[i % n] bytes (at least 1 on a
// stream, where an empty write sends nothing), or, for a counter, adds i + 1.
class Endless {
 public:
  Endless(const Capabilities& c, std::vector<uint64_t> sizes) : c_(c), sizes_(std::move(sizes)) {
    for (uint64_t& s : sizes_) {
      if (c.framing == Framing::kStream) s = std::max<uint64_t>(s, 1);
    }
    if (sizes_.empty()) sizes_.push_back(1);
  }
  Sent Nth(uint64_t i) const { return {1, i, sizes_[i % sizes_.size()]}; }
  // Message i's bytes to send: its payload, or a counter's add (i + 1).
  std::vector<std::byte> Bytes(uint64_t i) const;
  uint64_t BytesBefore(uint64_t i) const {
    uint64_t b = 0;
    for (uint64_t k = 0; k < i; ++k) b += Nth(k).size;
    return b;
  }
  // One received message, given that `sent` sends had completed.
  std::string OnMessage(std::span<const std::byte> got, uint64_t sent, bool killed);
  // Received stream bytes.
  std::string OnBytes(std::span<const std::byte> got);
  // A counter's read.
  std::string OnCounter(std::span<const std::byte> got);
  std::string On(std::span<const std::byte> got, uint64_t sent, bool killed) {
    if (c_.model == ModelClass::kCounter) return OnCounter(got);
    return c_.framing == Framing::kStream ? OnBytes(got) : OnMessage(got, sent, killed);
  }
  // Messages, stream bytes, or the adds a counter's sum covers.
  uint64_t received() const { return received_; }
  // What has come against what completed (`sent` sends, `sent_bytes`
  // bytes): all of it (reliable), at most one send more.
  // `when` says when the sends completed ("before the kill").
  std::string Covers(uint64_t sent, uint64_t sent_bytes, std::string_view when) const;

 private:
  Capabilities c_;
  std::vector<uint64_t> sizes_;
  uint64_t next_ = 0, received_ = 0, offset_ = 0, sum_ = 0;
  std::vector<bool> seen_;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_GENERIC_ENDLESS_H_
