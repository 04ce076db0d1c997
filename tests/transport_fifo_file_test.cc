// The fifo and file transports (byte streams with peer close), with forked
// writers and readers: data, end of stream only after every writer closed
// (while the writers live on), EPIPE after the reader closed, timeouts, the
// wrong direction, atomic appends from several writers, and that Destroy()
// leaves the scratch directory empty (checked in TearDown).
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "tests/transport_test_util.h"

namespace ipcspec::testing {
namespace {

class StreamTest : public ScratchDirTest, public ::testing::WithParamInterface<std::string> {
 protected:
  Channel* Create() { return CreateChannel(GetParam()); }
};

TEST_P(StreamTest, DataThenEndWhileTheClosedWriterLivesOn) {
  Channel* ch = Create();
  ASSERT_NE(ch, nullptr);
  const std::vector<std::byte> data = Pattern(200000, 1);  // over a pipe's capacity
  ClosingPeer w(*ch, Role::kWriter,
                [&](End& end) { return SendAll(end, data, 10000) != 0 ? 11 : 0; });
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  ch->Detach();
  int last = 0;
  std::vector<std::byte> got = RecvUntilEnd(**r, &last, 10000);
  EXPECT_EQ(last, kEnd);
  EXPECT_TRUE(got == data) << "got " << got.size() << " of " << data.size() << " bytes";
  EXPECT_TRUE(w.WaitClosed());
  EXPECT_EQ(w.Release(), 0);
}

TEST_P(StreamTest, EndOnlyAfterEveryWriterClosed) {
  constexpr int kWriters = 3;
  constexpr size_t kChunk = 1000;  // under PIPE_BUF: each lands whole
  Channel* ch = Create();
  ASSERT_NE(ch, nullptr);
  std::vector<Gate> sent(kWriters), may_close(kWriters);
  std::vector<ClosingPeer> writers = StartClosingWriters(*ch, kWriters, [&](int i, End& end) {
    if (SendAll(end, Pattern(kChunk, static_cast<uint32_t>(i)), 10000) != 0) return 11;
    sent[i].Open();
    return may_close[i].Wait(kLong) ? 0 : 13;
  });
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  ch->Detach();
  for (Gate& g : sent) ASSERT_TRUE(g.Wait(kLong));
  int last = 0;
  std::vector<std::byte> got = RecvUntilEnd(**r, &last, 10000, kWriters * kChunk);
  ASSERT_EQ(got.size(), kWriters * kChunk) << "last " << last;
  std::vector<std::vector<std::byte>> chunks;
  for (size_t off = 0; off < got.size(); off += kChunk) {
    chunks.emplace_back(got.begin() + static_cast<long>(off),
                        got.begin() + static_cast<long>(off + kChunk));
  }
  for (int i = 0; i < kWriters; ++i) {
    EXPECT_EQ(std::count(chunks.begin(), chunks.end(), Pattern(kChunk, i)), 1) << "writer " << i;
  }
  std::vector<std::byte> buf(64);
  size_t n = 0;
  EXPECT_EQ((*r)->Recv(buf, &n, 0), -EAGAIN);
  for (int i = 0; i < kWriters - 1; ++i) may_close[i].Open();
  for (int i = 0; i < kWriters - 1; ++i) ASSERT_TRUE(writers[i].WaitClosed());
  EXPECT_EQ((*r)->Recv(buf, &n, 0), -EAGAIN) << "one writer still has its end open";
  EXPECT_EQ((*r)->Recv(buf, &n, 50), -ETIMEDOUT);
  may_close[kWriters - 1].Open();
  ASSERT_TRUE(writers[kWriters - 1].WaitClosed());
  EXPECT_EQ((*r)->Recv(buf, &n, 10000), kEnd);
  EXPECT_EQ((*r)->Recv(buf, &n, 0), kEnd) << "the end stays";
  for (ClosingPeer& w : writers) EXPECT_EQ(w.Release(), 0);
}

TEST_P(StreamTest, BlockedReaderWakesWhenTheLastWriterCloses) {
  Channel* ch = Create();
  ASSERT_NE(ch, nullptr);
  // Closes only once the reader sleeps in Recv.
  ClosingPeer w(*ch, Role::kWriter, [&](End&) {
    return WaitUntilBlockedIn(::getppid(), {SYS_poll, SYS_ppoll}, kLong) ? 0 : 11;
  });
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  ch->Detach();
  std::vector<std::byte> buf(64);
  size_t n = 0;
  const absl::Time start = absl::Now();
  EXPECT_EQ((*r)->Recv(buf, &n, 20000), kEnd);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(w.Release(), 0);
}

TEST_P(StreamTest, WriterGetsEpipeAfterTheReaderClosed) {
  Channel* ch = Create();
  ASSERT_NE(ch, nullptr);
  Gate may_close;
  ClosingPeer reader(*ch, Role::kReader, [&](End&) { return may_close.Wait(kLong) ? 0 : 11; });
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  ch->Detach();
  const std::vector<std::byte> hello = Bytes("hello");
  size_t sent = 0;
  EXPECT_EQ((*w)->Send(hello, &sent, 1000), 0);
  EXPECT_EQ(sent, hello.size());
  may_close.Open();
  ASSERT_TRUE(reader.WaitClosed());
  EXPECT_EQ((*w)->Send(hello, &sent, 1000), -EPIPE);
  EXPECT_EQ((*w)->Send(hello, &sent, -1), -EPIPE) << "never blocks once the reader is gone";
  EXPECT_EQ((*w)->Send(hello, &sent, 0), -EPIPE);
  EXPECT_EQ(reader.Release(), 0);
}

TEST_P(StreamTest, ReceiveTimesOutNotEarlyAndNeverBlocksAtZero) {
  Channel* ch = Create();
  ASSERT_NE(ch, nullptr);
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::byte> buf(64);
  size_t n = 0;
  // No writer has opened yet: that is not the end of the stream.
  EXPECT_EQ((*r)->Recv(buf, &n, 0), -EAGAIN);
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  ch->Detach();
  EXPECT_EQ((*r)->Recv(buf, &n, 0), -EAGAIN);
  const absl::Time start = absl::Now();
  EXPECT_EQ((*r)->Recv(buf, &n, 150), -ETIMEDOUT);
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(150));
  EXPECT_LT(took, absl::Milliseconds(2150));
  w->reset();
}

TEST_P(StreamTest, WrongDirectionIsEbadfAndLeavesDataAlone) {
  Channel* ch = Create();
  ASSERT_NE(ch, nullptr);
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  auto w = ch->Open(Role::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  ch->Detach();
  size_t sent = 0;
  ASSERT_EQ((*w)->Send(Bytes("abc"), &sent, 1000), 0);
  EXPECT_EQ((*r)->Send(Bytes("zz"), &sent, 1000), -EBADF);
  std::vector<std::byte> buf(64);
  size_t n = 0;
  EXPECT_EQ((*w)->Recv(buf, &n, 1000), -EBADF);
  ASSERT_EQ((*r)->Recv(buf, &n, 1000), 0);
  buf.resize(n);
  EXPECT_EQ(buf, Bytes("abc"));
  w->reset();
}

TEST_P(StreamTest, AtomicWritesFromSeveralWritersNeverInterleave) {
  constexpr int kWriters = 4;
  constexpr uint32_t kRecords = 50;
  const size_t atomic = Find(GetParam()).caps().atomic_write;
  ASSERT_GT(atomic, 8u);
  Channel* ch = Create();
  ASSERT_NE(ch, nullptr);
  auto record = [atomic](uint32_t writer, uint32_t seq) {
    std::vector<std::byte> rec = Pattern(atomic, writer * 1000 + seq);
    std::memcpy(rec.data(), &writer, 4);
    std::memcpy(rec.data() + 4, &seq, 4);
    return rec;
  };
  std::vector<Gate> opened(kWriters);
  Gate go;
  std::vector<Child> writers;
  for (uint32_t i = 0; i < kWriters; ++i) {
    writers.push_back(StartEnd(*ch, Role::kWriter, [&, i](std::unique_ptr<End>& end) {
      opened[i].Open();
      if (!go.Wait(kLong)) return 12;
      for (uint32_t s = 0; s < kRecords; ++s) {
        if (SendAll(*end, record(i, s), 10000) != 0) return 11;
      }
      return 0;
    }));
  }
  auto r = ch->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  ch->Detach();
  // Every writer opens before any sends (and so before any closes), as in
  // ipcspec's properties: the end is owed only for writers that opened.
  for (Gate& g : opened) ASSERT_TRUE(g.Wait(kLong));
  for (int i = 0; i < kWriters; ++i) go.Open();
  int last = 0;
  std::vector<std::byte> got = RecvUntilEnd(**r, &last, 10000);
  EXPECT_EQ(last, kEnd);
  ASSERT_EQ(got.size(), kWriters * kRecords * atomic);
  std::vector<uint32_t> next(kWriters, 0);
  for (size_t off = 0; off < got.size(); off += atomic) {
    uint32_t writer, seq;
    std::memcpy(&writer, got.data() + off, 4);
    std::memcpy(&seq, got.data() + off + 4, 4);
    ASSERT_LT(writer, static_cast<uint32_t>(kWriters)) << "torn record at " << off;
    ASSERT_EQ(seq, next[writer]) << "writer " << writer << " out of order at " << off;
    ++next[writer];
    ASSERT_TRUE(std::equal(got.begin() + static_cast<long>(off),
                           got.begin() + static_cast<long>(off + atomic),
                           record(writer, seq).begin()))
        << "interleaved record at " << off;
  }
  for (Child& w : writers) EXPECT_EQ(w.Wait(kLong), 0);
}

INSTANTIATE_TEST_SUITE_P(PeerCloseStreams, StreamTest, ::testing::Values("fifo", "file"),
                         [](const auto& info) { return info.param; });

using FifoTest = ScratchDirTest;

TEST_F(FifoTest, NodeIsAPrivateFifoUntilDestroy) {
  auto ch = Find("fifo").Create(dir_);
  ASSERT_TRUE(ch.ok()) << ch.status();
  std::vector<std::filesystem::path> entries(std::filesystem::directory_iterator(dir_), {});
  ASSERT_EQ(entries.size(), 1u);
  struct stat st;
  ASSERT_EQ(::stat(entries[0].c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE((*ch)->Destroy().ok());
  EXPECT_FALSE(std::filesystem::exists(entries[0]));
}

TEST_F(FifoTest, WriterOpenWaitsForTheReader) {
  auto ch = Find("fifo").Create(dir_);
  ASSERT_TRUE(ch.ok()) << ch.status();
  Child w = Child::Start([&] {
    auto end = (*ch)->Open(Role::kWriter);
    if (!end.ok()) return 10;
    (*ch)->Detach();
    return SendAll(**end, Bytes("hi"), 1000) == 0 ? 0 : 11;
  });
  // The writer sleeps in its Open (a poll on the inotify watch) before any
  // reader exists.
  ASSERT_TRUE(WaitUntilBlockedIn(w.pid(), {SYS_poll, SYS_ppoll}, kLong));
  auto r = (*ch)->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  (*ch)->Detach();
  int last = 0;
  EXPECT_EQ(RecvUntilEnd(**r, &last, 10000), Bytes("hi"));
  EXPECT_EQ(last, kEnd);
  EXPECT_EQ(w.Wait(kLong), 0);
  r->reset();
  EXPECT_TRUE((*ch)->Destroy().ok());
}

using FileTest = ScratchDirTest;

TEST_F(FileTest, ReachableByNameAfterDetachAndDestroyRemovesBothFiles) {
  auto ch = Find("file").Create(dir_);
  ASSERT_TRUE(ch.ok()) << ch.status();
  (*ch)->Detach();  // drops the inherited control mapping; Open maps it by name
  auto w = (*ch)->Open(Role::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  auto r = (*ch)->Open(Role::kReader);
  ASSERT_TRUE(r.ok()) << r.status();
  (*ch)->Detach();
  size_t sent = 0;
  ASSERT_EQ((*w)->Send(Bytes("named"), &sent, 0), 0);
  w->reset();
  int last = 0;
  EXPECT_EQ(RecvUntilEnd(**r, &last, 1000), Bytes("named"));
  EXPECT_EQ(last, kEnd);
  r->reset();
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    struct stat st;
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
    ++files;
  }
  EXPECT_EQ(files, 2u) << "the data file and its .ctl";
  EXPECT_TRUE((*ch)->Destroy().ok());
}

}  // namespace
}  // namespace ipcspec::testing
