// The reader's model of an MP-FUZZ case (fuzz/fuzz_mp_reader.h), fed by
// hand in one process: empty messages carry no writer's mark, so which
// writer an empty one came from is settled only by what arrives after it.
// Every interleaving of the writers' queues is accepted, and a lost,
// duplicated or made-up empty message is still caught.
#include "fuzz/fuzz_mp_reader.h"

#include <memory>
#include <set>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ipcspec::mp {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class MpReaderTest : public ::testing::Test {
 protected:
  // Two writers on a message transport; writer w sends `sizes[w]` in order,
  // and every send is published as taken whole.
  void Script(const std::vector<uint64_t>& w1, const std::vector<uint64_t>& w2,
              Framing framing = Framing::kMessage) {
    caps_.framing = framing;
    caps_.multi_writer = true;
    caps_.peer_close = true;
    caps_.model = ModelClass::kFifoQueue;
    std::vector<Step> steps;
    for (uint64_t size : w1) steps.push_back({Op::kSend, 1, size, 0});
    for (uint64_t size : w2) steps.push_back({Op::kSend, 2, size, 0});
    script_ = MpScript::Of(caps_, Scenario{"MP-FUZZ", "t", steps});
    shared_ = std::make_unique<MpShared>();
    for (uint32_t w = 1; w <= 2; ++w) {
      for (uint64_t k = 0; k < script_.sends[w].size(); ++k) {
        shared_->Publish(w, k, static_cast<int64_t>(script_.sends[w][k].size), 0);
      }
      shared_->SetState(w, kClosed);
    }
    reader_ = std::make_unique<MpReader>(script_, shared_.get());
  }
  // Feeds writer w's message k, as the transport would deliver it.
  std::string Deliver(uint32_t w, uint64_t k) {
    return reader_->OnData(MpPayloadView(caps_, w, k, script_.sends[w][k].size));
  }
  std::string Empty() { return reader_->OnData({}); }
  std::vector<std::byte> Payload(uint32_t w, uint64_t k) {
    const std::span<const std::byte> view = MpPayloadView(caps_, w, k, script_.sends[w][k].size);
    return {view.begin(), view.end()};
  }

  Capabilities caps_;
  MpScript script_;
  std::unique_ptr<MpShared> shared_;
  std::unique_ptr<MpReader> reader_;
};

TEST_F(MpReaderTest, EmptyMessageOfTheSecondWriterIsNotTakenForTheFirstOnes) {
  // The interleaving a fuzz input found on sysv_shm: writer 2's empty
  // message arrives while writer 1 also has an empty one to send.
  Script({0, 100}, {0, 200});
  EXPECT_THAT(Empty(), IsEmpty());  // writer 2's
  EXPECT_THAT(Deliver(2, 1), IsEmpty());
  EXPECT_THAT(Empty(), IsEmpty());  // writer 1's
  EXPECT_THAT(Deliver(1, 1), IsEmpty());
  EXPECT_FALSE(reader_->Owed());
  EXPECT_THAT(reader_->FinalCheck(), IsEmpty());
}

TEST_F(MpReaderTest, RunsOfEmptyMessagesFromBothWritersSettleAtTheEnd) {
  Script({0, 0}, {0});
  EXPECT_THAT(Empty(), IsEmpty());
  EXPECT_THAT(Empty(), IsEmpty());
  EXPECT_TRUE(reader_->Owed());  // one of the three has not come
  EXPECT_THAT(Empty(), IsEmpty());
  EXPECT_FALSE(reader_->Owed());
  EXPECT_THAT(reader_->FinalCheck(), IsEmpty());
}

TEST_F(MpReaderTest, LostEmptyMessageIsStillNamed) {
  Script({0, 100}, {0, 200});
  EXPECT_THAT(Empty(), IsEmpty());
  EXPECT_THAT(Deliver(2, 1), IsEmpty());  // the empty one was writer 2's
  EXPECT_THAT(Deliver(1, 1), HasSubstr("message 0 of writer 1 is lost, or the two are reordered"));
}

TEST_F(MpReaderTest, EmptyMessageNoWriterSentIsCaught) {
  Script({0}, {0});
  EXPECT_THAT(Empty(), IsEmpty());
  EXPECT_THAT(Empty(), IsEmpty());
  EXPECT_THAT(Empty(), IsEmpty());
  EXPECT_THAT(reader_->FinalCheck(), HasSubstr("3 empty messages arrived that no writer owed"));
}

TEST_F(MpReaderTest, EmptyMessageAfterTheOnlyWriterWithOneLeftIsItsOwn) {
  Script({0, 100}, {300});
  EXPECT_THAT(Empty(), IsEmpty());  // only writer 1 has an empty one next
  EXPECT_THAT(Deliver(2, 0), IsEmpty());
  EXPECT_THAT(Empty(), HasSubstr("got message 0 of writer 1 a second time"));
}

TEST_F(MpReaderTest, TornWriteIsCutWhereTheOtherMessageBegins) {
  // Writer 2's message lands inside writer 1's, and its first byte happens
  // to be the one writer 1's message had there: the cut is still named
  // where writer 2's message begins, whether the reader gets it all in one
  // read or the cut falls between two reads.
  Script({4096}, {4096}, Framing::kStream);
  const std::vector<std::byte> one = Payload(1, 0);
  const std::vector<std::byte> two = Payload(2, 0);
  size_t cut = 16;
  while (cut < 4000 && (one[cut] != two[0] || one[cut + 1] == two[1])) ++cut;
  ASSERT_LT(cut, 4000u) << "no byte of writer 1's message is writer 2's first";
  const std::string want = absl::StrFormat(
      "at stream byte %d, message 0 of writer 1 (4096 bytes, one atomic write) was cut after %d "
      "bytes by the start of message 0 of writer 2",
      cut, cut);
  std::vector<std::byte> torn(one.begin(), one.begin() + static_cast<std::ptrdiff_t>(cut));
  torn.insert(torn.end(), two.begin(), two.end());
  EXPECT_EQ(reader_->OnData(torn), want);

  Script({4096}, {4096}, Framing::kStream);
  EXPECT_THAT(reader_->OnData(std::span(torn).first(cut)), IsEmpty());
  EXPECT_EQ(reader_->OnData(std::span(torn).subspan(cut)), want);
}

TEST_F(MpReaderTest, NoMessageOfOneWriterBeginsLikeOneOfTheOthers) {
  // The writer's mark: two writers' one-byte messages are never alike, so
  // whose a message is (or which message stream bytes begin) is never a
  // matter of chance.
  Script(std::vector<uint64_t>(512, 1), std::vector<uint64_t>(512, 1));
  std::set<std::byte> firsts[3];
  for (uint32_t w = 1; w <= 2; ++w) {
    for (uint64_t k = 0; k < 512; ++k) firsts[w].insert(Payload(w, k)[0]);
  }
  for (const std::byte b : firsts[1]) EXPECT_EQ(firsts[2].count(b), 0u);
  EXPECT_GE(firsts[1].size(), 100u);  // and still a pattern, not a constant
  EXPECT_GE(firsts[2].size(), 100u);
}

}  // namespace
}  // namespace ipcspec::mp
