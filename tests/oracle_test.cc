// The generic oracle (properties/generic/oracle.h) per capability class, on
// hand-made arrivals: it accepts exactly what the class allows, and says
// what went wrong otherwise.
#include "properties/generic/oracle.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/property.h"
#include "properties/generic/traffic.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

using ::testing::HasSubstr;

Capabilities Messages(bool reliable, bool ordered) {
  Capabilities c;
  c.framing = Framing::kMessage;
  c.reliable = reliable;
  c.ordered = ordered;
  c.model = ordered ? ModelClass::kFifoQueue : ModelClass::kUnordered;
  c.max_message = 4096;
  return c;
}

std::vector<Sent> Three(uint32_t writer = 1) {
  return {{writer, 0, 10}, {writer, 1, 20}, {writer, 2, 30}};
}

std::string Feed(Expectation& e, const Sent& s) {
  return e.OnMessage(Payload(s.writer, s.msg, s.size));
}

TEST(OracleTest, ReliableOrderedWantsTheExactSequence) {
  Expectation e(Messages(true, true), {Three()}, false);
  EXPECT_EQ(Feed(e, {1, 0, 10}), "");
  EXPECT_FALSE(e.Complete());
  EXPECT_THAT(Feed(e, {1, 2, 30}),
              HasSubstr("got message 2 (30 bytes) where message 1 (20 bytes)"));
}

TEST(OracleTest, ReliableOrderedNamesDuplicatesAndCorruption) {
  Expectation e(Messages(true, true), {Three()}, false);
  EXPECT_EQ(Feed(e, {1, 0, 10}), "");
  EXPECT_THAT(Feed(e, {1, 0, 10}), HasSubstr("message 0 (10 bytes) arrived twice"));
  std::vector<std::byte> bad = Payload(1, 1, 20);
  bad[7] ^= std::byte{1};
  EXPECT_THAT(e.OnMessage(bad), HasSubstr("message 1 (20 bytes) corrupted at byte 7"));
  EXPECT_THAT(e.OnMessage(Payload(1, 1, 19)), HasSubstr("merged, split or cut"));
}

TEST(OracleTest, LossyOrderedAcceptsASubsequenceOnly) {
  Expectation e(Messages(false, true), {Three()}, true);
  EXPECT_EQ(Feed(e, {1, 1, 20}), "");  // message 0 lost
  EXPECT_THAT(Feed(e, {1, 0, 10}), HasSubstr("reordered or duplicated"));
  EXPECT_THAT(Feed(e, {1, 1, 20}), HasSubstr("reordered or duplicated"));
  EXPECT_FALSE(e.Complete());
  EXPECT_EQ(Feed(e, MarkerOf(1, Messages(false, true))), "");  // the writer's end marker
  EXPECT_TRUE(e.Complete());
  EXPECT_THAT(Feed(e, {1, 2, 30}), HasSubstr("after its writer's end marker"));
}

TEST(OracleTest, UnorderedAcceptsAnyOrderButNothingTwice) {
  Expectation e(Messages(true, false), {Three()}, false);
  EXPECT_EQ(Feed(e, {1, 2, 30}), "");
  EXPECT_EQ(Feed(e, {1, 0, 10}), "");
  EXPECT_THAT(Feed(e, {1, 0, 10}), HasSubstr("arrived twice"));
  EXPECT_EQ(Feed(e, {1, 1, 20}), "");
  EXPECT_TRUE(e.Complete());
}

TEST(OracleTest, LossyUnorderedIsASubMultiset) {
  Expectation e(Messages(false, false), {Three()}, true);
  EXPECT_EQ(Feed(e, {1, 2, 30}), "");
  EXPECT_THAT(e.OnMessage(Payload(9, 9, 30)), HasSubstr("no writer sent"));
  EXPECT_EQ(Feed(e, MarkerOf(1, Messages(false, false))), "");
  EXPECT_TRUE(e.Complete());
}

// Writers 1 and 2 each send an empty message and then a full one; the
// empties are told apart by what follows, in whatever order they came.
TEST(OracleTest, EmptyMessagesOfSeveralWritersAreResolvedLater) {
  const std::vector<Sent> w1 = {{1, 0, 0}, {1, 1, 5}}, w2 = {{2, 0, 0}, {2, 1, 6}};
  Expectation e(Messages(true, true), {w1, w2}, false);
  EXPECT_EQ(Feed(e, {2, 0, 0}), "");
  EXPECT_EQ(Feed(e, {2, 1, 6}), "");  // so the empty one was writer 2's
  EXPECT_EQ(Feed(e, {1, 0, 0}), "");
  EXPECT_EQ(Feed(e, {1, 1, 5}), "");
  EXPECT_TRUE(e.Complete());
}

TEST(OracleTest, StreamBytesAnyChunkingExactBytes) {
  Capabilities c;  // a reliable byte stream
  Expectation e(c, {{{1, 0, 5}, {1, 1, 7}}}, false);
  std::vector<std::byte> all = Payload(1, 0, 5), tail = Payload(1, 1, 7);
  all.insert(all.end(), tail.begin(), tail.end());
  EXPECT_EQ(e.OnBytes(std::span(all).first(3)), "");
  EXPECT_EQ(e.OnBytes(std::span(all).subspan(3, 4)), "");
  all[8] ^= std::byte{0x40};
  EXPECT_THAT(e.OnBytes(std::span(all).subspan(7)),
              HasSubstr("stream byte 8 (message 1 (7 bytes), byte 3)"));
}

TEST(OracleTest, SkipForgetsARefusedMessage) {
  Expectation e(Messages(true, true), {Three()}, false);
  e.Skip(0);  // a short receive consumed message 0
  EXPECT_TRUE(e.IsNext(0, Payload(1, 1, 20)));
  EXPECT_EQ(Feed(e, {1, 1, 20}), "");
}

// An end that gives the reader a script of receive results, in order.
class ScriptedEnd : public End {
 public:
  struct Result {
    int rc;
    std::vector<std::byte> bytes;
  };
  explicit ScriptedEnd(std::vector<Result> script) : script_(std::move(script)) {}
  int Send(std::span<const std::byte>, size_t*, int) override { return -EBADF; }
  int Recv(std::span<std::byte> buf, size_t* n, int) override {
    *n = 0;
    if (next_ >= script_.size()) return kEnd;
    const Result& r = script_[next_++];
    *n = std::min(r.bytes.size(), buf.size());
    std::copy_n(r.bytes.begin(), *n, buf.begin());
    return r.rc;
  }

 private:
  std::vector<Result> script_;
  size_t next_ = 0;
};

// The reader of a lossy byte stream stops receiving at the first quiet wait
// once its writer is done, since nothing says whether more will come. Bytes
// that come after that (an end that buffered them in user space) are judged
// as the rest of the prefix, not as duplicates; bytes beyond or unlike what
// was sent are still failures.
TEST(TrafficTest, ALossyStreamsLateBytesAreStillItsPrefix) {
  Capabilities c;  // a byte stream
  c.reliable = false;
  c.peer_close = true;
  const CaseEnv env{.deadline = absl::Now() + absl::Seconds(30)};
  const std::vector<std::byte> sent = Payload(1, 0, 13);
  auto read_after_a_quiet_wait = [&](std::vector<std::byte> late) {
    Traffic traffic(c, env, {{{1, 0, 13}}});
    traffic.Finished(0);
    ScriptedEnd end({{-ETIMEDOUT, {}}, {0, std::move(late)}, {kEnd, {}}});
    return traffic.Read(end);
  };
  EXPECT_EQ(read_after_a_quiet_wait(sent), "");
  EXPECT_EQ(read_after_a_quiet_wait(std::vector(sent.begin(), sent.begin() + 5)), "");
  std::vector<std::byte> twice = sent;
  twice.insert(twice.end(), sent.begin(), sent.end());
  EXPECT_THAT(read_after_a_quiet_wait(twice), HasSubstr("more bytes than the 13 sent"));
  std::vector<std::byte> torn = sent;
  torn[4] ^= std::byte{1};
  EXPECT_THAT(read_after_a_quiet_wait(torn), HasSubstr("stream byte 4 (message 0"));
}

// The new capability flags of plugin.h map to the C++ capabilities and back.
// The word-at-a-time fill gives, from any offset and for any length, the
// bytes the pattern has there one by one.
TEST(PayloadTest, FillFromAnyOffsetIsThePatternByteByByte) {
  std::vector<std::byte> got(80);
  for (uint64_t offset = 0; offset < 24; ++offset) {
    for (size_t size = 0; size <= got.size(); size += 7) {
      props::FillPayload(2, 9, offset, std::span(got.data(), size));
      for (size_t i = 0; i < size; ++i) {
        ASSERT_EQ(std::to_integer<uint8_t>(got[i]), props::PatternByte(2, 9, offset + i))
            << "offset " << offset << " size " << size << " byte " << i;
      }
    }
  }
}

TEST(CapabilityFlagsTest, RoundTripThroughTheAbi) {
  ipcspec_caps abi{};
  abi.framing = IPCSPEC_MESSAGE;
  abi.direction = IPCSPEC_DUPLEX;
  abi.flags = IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_EXACT_CAPACITY |
              IPCSPEC_SHORT_RECV_KEEPS | IPCSPEC_CLOSE_ONLY | IPCSPEC_POLLED |
              IPCSPEC_ONE_END_PER_PROCESS;
  abi.capacity = 4096;
  const Capabilities c = Capabilities::FromAbi(abi);
  EXPECT_EQ(c.overhead, Overhead::kNone);
  EXPECT_EQ(c.short_recv, ShortRecv::kKeeps);
  EXPECT_FALSE(c.end_on_death);
  EXPECT_FALSE(c.realtime);
  EXPECT_TRUE(c.one_end_per_process);
  EXPECT_EQ(c.Contradiction(), "");
  EXPECT_EQ(c.ToAbi().flags, abi.flags);
  // Undeclared: overhead unknown, either short receive, a death is a close.
  abi.flags = 0;
  const Capabilities plain = Capabilities::FromAbi(abi);
  EXPECT_EQ(plain.overhead, Overhead::kUnknown);
  EXPECT_EQ(plain.short_recv, ShortRecv::kEither);
  EXPECT_TRUE(plain.realtime);
  EXPECT_FALSE(plain.one_end_per_process);
}

TEST(CapabilityFlagsTest, StreamsAreOrderedAndFlagsMustFit) {
  ipcspec_caps abi{};
  abi.framing = IPCSPEC_STREAM;
  abi.flags = IPCSPEC_RELIABLE;
  EXPECT_TRUE(Capabilities::FromAbi(abi).ordered);
  abi.flags = IPCSPEC_CLOSE_ONLY;  // qualifies PEER_CLOSE, which is missing
  EXPECT_THAT(Capabilities::FromAbi(abi).Contradiction(), HasSubstr("CLOSE_ONLY"));
  abi.flags = IPCSPEC_SHORT_RECV_DROPS;  // a stream has no messages to drop
  EXPECT_THAT(Capabilities::FromAbi(abi).Contradiction(), HasSubstr("SHORT_RECV"));
}

TEST(CapabilityFlagsTest, ACounterIsMessagesOfEightBytesSummed) {
  ipcspec_caps abi{};
  abi.framing = IPCSPEC_MESSAGE;
  abi.flags = IPCSPEC_RELIABLE | IPCSPEC_MULTI_WRITER | IPCSPEC_COUNTER;
  abi.max_message = 8;
  abi.atomic_write = 8;
  const Capabilities c = Capabilities::FromAbi(abi);
  EXPECT_EQ(c.model, ModelClass::kCounter);
  EXPECT_EQ(c.Contradiction(), "");
  EXPECT_EQ(c.ToAbi().flags, abi.flags);
  abi.flags &= ~IPCSPEC_COUNTER;  // without the flag: a queue of 8-byte messages
  EXPECT_EQ(Capabilities::FromAbi(abi).model, ModelClass::kUnordered);
  abi.flags |= IPCSPEC_COUNTER;
  abi.max_message = 16;
  EXPECT_THAT(Capabilities::FromAbi(abi).Contradiction(), HasSubstr("8-byte values"));
  abi.max_message = 8;
  for (uint32_t extra : {IPCSPEC_ORDERED, IPCSPEC_SHORT_RECV_KEEPS}) {
    abi.flags |= extra;
    EXPECT_THAT(Capabilities::FromAbi(abi).Contradiction(), HasSubstr("a counter sums")) << extra;
    abi.flags &= ~extra;
  }
  abi.max_queued = 4;
  EXPECT_THAT(Capabilities::FromAbi(abi).Contradiction(), HasSubstr("max_queued"));
  abi.max_queued = 0;
  abi.flags &= ~IPCSPEC_RELIABLE;
  EXPECT_THAT(Capabilities::FromAbi(abi).Contradiction(), HasSubstr("needs RELIABLE"));
  abi.flags |= IPCSPEC_RELIABLE;
  abi.framing = IPCSPEC_STREAM;
  EXPECT_THAT(Capabilities::FromAbi(abi).Contradiction(), HasSubstr("does not fit"));
}

// Every G-* property's file opens with its oracle for each capability class
// that issue 12 lists (properties/generic/g_<name>.cc: G-MULTI-WRITER is
// g_multi_writer.cc).
TEST(OracleDocTest, EveryGenericPropertyDocumentsItsOraclePerCapabilityClass) {
  int generic = 0;
  for (const Property* p : PropertyRegistry::Global().All()) {
    const std::string id(p->id());
    if (id.rfind("G-", 0) != 0) continue;
    ++generic;
    std::string file = "g_" + id.substr(2);
    for (char& ch : file) ch = ch == '-' ? '_' : static_cast<char>(std::tolower(ch));
    std::ifstream in(std::string(IPCSPEC_SOURCE_DIR) + "/properties/generic/" + file + ".cc");
    ASSERT_TRUE(in.good()) << id << ": no " << file << ".cc";
    std::string header;
    for (std::string line; std::getline(in, line) && line.rfind("//", 0) == 0;) {
      for (char ch : line)
        header += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      header += "\n";
    }
    // Each class, by any of its names.
    const std::vector<std::vector<std::string>> classes = {
        {"capability class"}, {"reliab", "lossy"}, {"peer-close"},
        {"capacity"},         {"duplex"},          {"realtime"}};
    for (const std::vector<std::string>& names : classes) {
      bool said = false;
      for (const std::string& n : names) said = said || header.find(n) != std::string::npos;
      EXPECT_TRUE(said) << id << " does not say what " << names[0] << " changes";
    }
  }
  EXPECT_GE(generic, 15);
}

}  // namespace
}  // namespace ipcspec::props
