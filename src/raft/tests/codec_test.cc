#include "raft/codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice::raft {
namespace {

base::shared_bytes bytes_of(std::string_view text) { return base::shared_bytes::copy_of(text); }

entry make_entry(index_t index, term_t term, int32_t count, entry_type type,
                 std::string_view data) {
  entry e;
  e.index = index;
  e.term = term;
  e.count = count;
  e.type = type;
  e.data = bytes_of(data);
  return e;
}

message make(group_id group, message_body body) {
  message m;
  m.group = group;
  m.from = 2;
  m.to = 7;
  m.body = std::move(body);
  return m;
}

// One message of every kind, with every field away from its default.
std::vector<message> every_kind() {
  std::vector<message> out;
  out.push_back(make(1, vote_request{5, 100, 4, true, false}));
  out.push_back(make(2, vote_request{6, 0, 0, false, true}));
  out.push_back(make(3, vote_response{5, true, true}));
  out.push_back(make(4, vote_response{9, false, false}));
  append_request append{12, 1'000'000'000'000, 11, 999'999'999'999, {}};
  append.entries.push_back(
      make_entry(1'000'000'000'001, 11, 5, entry_type::data, "five records here"));
  append.entries.push_back(make_entry(1'000'000'000'006, 12, 1, entry_type::leader_change, ""));
  append.entries.push_back(make_entry(1'000'000'000'007, 12, 1, entry_type::configuration,
                                      encode_configuration({{1, 2, 3}, {4}}).as_string_view()));
  // A gap is not a valid log, but the codec carries what it is given.
  append.entries.push_back(
      make_entry(1'000'000'000'100, 12, 300, entry_type::data, std::string(20'000, 'x')));
  out.push_back(make(5, append));
  out.push_back(make(6, append_request{3, 0, 0, 0, {}}));
  out.push_back(make(7, append_response{12, true, 1'000'000'000'399, 0, 0}));
  out.push_back(make(8, append_response{12, false, 0, 77, 90, 11}));
  out.push_back(make(9, heartbeat_request{4, 123, UINT64_MAX}));
  out.push_back(make(10, heartbeat_response{4, 1ULL << 40, 555, 550}));
  snapshot snap;
  snap.meta.index = 4096;
  snap.meta.term = 3;
  snap.meta.config = {{1, 2, 3, 1000}, {7, 8}};
  snap.data = bytes_of(std::string(1'000, 's'));
  out.push_back(make(UINT64_MAX, install_snapshot_request{7, snap}));
  out.push_back(make(1ULL << 50, install_snapshot_response{7, 4096}));
  out.push_back(make(0, timeout_now_request{8}));
  return out;
}

void expect_same_entries(const std::vector<entry>& a, const std::vector<entry>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, b[i].index);
    EXPECT_EQ(a[i].term, b[i].term);
    EXPECT_EQ(a[i].count, b[i].count);
    EXPECT_EQ(a[i].type, b[i].type);
    EXPECT_TRUE(a[i].data == b[i].data);
  }
}

void expect_same(const message& a, const message& b) {
  EXPECT_EQ(a.group, b.group);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  ASSERT_EQ(a.body.index(), b.body.index());
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b.body);
        EXPECT_EQ(x.term, y.term);
        if constexpr (std::is_same_v<T, vote_request>) {
          EXPECT_EQ(x.last_index, y.last_index);
          EXPECT_EQ(x.last_term, y.last_term);
          EXPECT_EQ(x.pre_vote, y.pre_vote);
          EXPECT_EQ(x.transfer, y.transfer);
        } else if constexpr (std::is_same_v<T, vote_response>) {
          EXPECT_EQ(x.granted, y.granted);
          EXPECT_EQ(x.pre_vote, y.pre_vote);
        } else if constexpr (std::is_same_v<T, append_request>) {
          EXPECT_EQ(x.prev_index, y.prev_index);
          EXPECT_EQ(x.prev_term, y.prev_term);
          EXPECT_EQ(x.commit, y.commit);
          expect_same_entries(x.entries, y.entries);
        } else if constexpr (std::is_same_v<T, append_response>) {
          EXPECT_EQ(x.success, y.success);
          EXPECT_EQ(x.match, y.match);
          EXPECT_EQ(x.hint, y.hint);
          EXPECT_EQ(x.hint_term, y.hint_term);
          EXPECT_EQ(x.rejected, y.rejected);
        } else if constexpr (std::is_same_v<T, heartbeat_request>) {
          EXPECT_EQ(x.commit, y.commit);
          EXPECT_EQ(x.sequence, y.sequence);
        } else if constexpr (std::is_same_v<T, heartbeat_response>) {
          EXPECT_EQ(x.sequence, y.sequence);
          EXPECT_EQ(x.last_index, y.last_index);
          EXPECT_EQ(x.match, y.match);
        } else if constexpr (std::is_same_v<T, install_snapshot_request>) {
          EXPECT_EQ(x.snap.meta, y.snap.meta);
          EXPECT_TRUE(x.snap.data == y.snap.data);
        } else if constexpr (std::is_same_v<T, install_snapshot_response>) {
          EXPECT_EQ(x.index, y.index);
        }
      },
      a.body);
}

TEST(Codec, RoundTripsEveryMessageKind) {
  auto messages = every_kind();
  ASSERT_EQ(messages.size(), 13u);
  auto encoded = encode_batch(2, 7, messages);
  auto decoded = decode_batch(base::shared_bytes(encoded));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_EQ(decoded->size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    SCOPED_TRACE(i);
    expect_same(messages[i], (*decoded)[i]);
  }
}

TEST(Codec, EmptyBatchRoundTrips) {
  auto decoded = decode_batch(base::shared_bytes(encode_batch(0, 1, {})));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(Codec, EntryDataAndSnapshotsAreSlicesOfTheInput) {
  base::shared_bytes input(encode_batch(2, 7, every_kind()));
  auto decoded = decode_batch(input);
  ASSERT_TRUE(decoded.ok());
  auto inside = [&](const base::shared_bytes& b) {
    return b.data() >= input.begin() && b.data() + b.size() <= input.end();
  };
  const auto& append = std::get<append_request>((*decoded)[4].body);
  EXPECT_TRUE(inside(append.entries[0].data));
  EXPECT_TRUE(inside(append.entries[3].data));
  EXPECT_TRUE(inside(std::get<install_snapshot_request>((*decoded)[10].body).snap.data));
}

TEST(Codec, RefusesMessagesOfAnotherPair) {
  std::vector<message> messages{make(1, timeout_now_request{1})};
  EXPECT_THROW(encode_batch(2, 8, messages), std::invalid_argument);
}

TEST(Codec, EveryTruncationIsAnError) {
  auto encoded = encode_batch(2, 7, every_kind());
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    auto decoded = decode_batch(
        base::shared_bytes(std::vector<uint8_t>(encoded.begin(), encoded.begin() + cut)));
    ASSERT_FALSE(decoded.ok()) << "a batch cut at " << cut << " of " << encoded.size()
                               << " bytes decoded";
  }
}

TEST(Codec, TrailingBytesAreAnError) {
  auto encoded = encode_batch(2, 7, every_kind());
  encoded.push_back(0);
  auto decoded = decode_batch(base::shared_bytes(encoded));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message.find("trailing"), std::string::npos);
}

// Builds a batch by hand: version 1, from 2, to 7, one message of group 1.
std::vector<uint8_t> one_message(uint8_t kind, std::vector<uint8_t> body) {
  std::vector<uint8_t> out{1, 4, 14, 1, 2, kind};
  // A loop, not insert(): GCC 12 warns falsely (-Warray-bounds) on inserting
  // into a vector built from a short initializer list.
  for (uint8_t b : body) out.push_back(b);
  return out;
}

TEST(Codec, RefusesWhatNoEncoderWrites) {
  struct bad_case {
    const char* what;
    std::vector<uint8_t> bytes;
  };
  std::vector<bad_case> cases{
      {"version 2", {2, 4, 14, 0}},
      {"negative sender", {1, 1, 14, 0}},
      {"unknown kind", one_message(9, {2})},
      {"negative term", one_message(8, {1})},
      {"unknown vote flag", one_message(0, {2, 0, 0, 4})},
      {"unknown response flag", one_message(3, {2, 2, 0, 0, 0})},
      // append_request with one entry of count 0
      {"entry count 0", one_message(2, {2, 0, 0, 0, 1, 0, 2, 0, 0, 0})},
      {"entry type 3", one_message(2, {2, 0, 0, 0, 1, 0, 2, 2, 3, 0})},
      {"entry data past the end", one_message(2, {2, 0, 0, 0, 1, 0, 2, 2, 0, 5, 'a'})},
      {"negative entry index", one_message(2, {2, 0, 0, 0, 1, 3, 2, 2, 0, 0})},
      {"message count past the end", {1, 4, 14, 0xff, 0xff, 0xff, 0xff, 0x0f}},
      {"entry count past the end", one_message(2, {2, 0, 0, 0, 0xff, 0xff, 0x03})},
      {"voter count past the end", one_message(6, {2, 0, 0, 0xff, 0x7f})},
      {"overlong varint",
       one_message(8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})},
  };
  for (const auto& c : cases) {
    auto decoded = decode_batch(base::shared_bytes(c.bytes));
    EXPECT_FALSE(decoded.ok()) << c.what;
  }
  // The hand-built frame is right apart from the one field: fixed, it decodes.
  auto fixed = decode_batch(base::shared_bytes(one_message(2, {2, 0, 0, 0, 1, 0, 2, 2, 0, 0})));
  ASSERT_TRUE(fixed.ok()) << fixed.error().message;
  EXPECT_EQ(std::get<append_request>((*fixed)[0].body).entries[0].count, 1);
}

// Garbage must decode or fail, never read out of bounds (run under ASan).
TEST(Codec, SurvivesGarbageAndBitFlips) {
  std::mt19937_64 random(42);
  size_t accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::vector<uint8_t> garbage(random() % 64);
    for (auto& b : garbage) b = static_cast<uint8_t>(random());
    if (!garbage.empty() && i % 2 == 0) garbage[0] = 1;  // get past the version byte
    accepted += decode_batch(base::shared_bytes(garbage)).ok();
  }
  auto encoded = encode_batch(2, 7, every_kind());
  for (size_t at = 0; at < encoded.size(); at += 7) {
    auto flipped = encoded;
    flipped[at] ^= static_cast<uint8_t>(1u << (at % 8));
    accepted += decode_batch(base::shared_bytes(flipped)).ok();
  }
  RecordProperty("accepted", static_cast<int>(accepted));
}

TEST(Codec, ThousandGroupHeartbeatBatchIsSmall) {
  std::vector<message> heartbeats;
  for (group_id g = 1; g <= 1000; ++g) {
    message m;
    m.group = g;
    m.from = 1;
    m.to = 2;
    // A realistic commit index: a million records into each partition.
    m.body = heartbeat_request{17, 1'000'000 + static_cast<index_t>(g), 4242};
    heartbeats.push_back(m);
  }
  auto encoded = encode_batch(1, 2, heartbeats);
  std::printf("1000-group heartbeat batch: %zu bytes (%.1f per group)\n", encoded.size(),
              encoded.size() / 1000.0);
  RecordProperty("heartbeat_batch_bytes", static_cast<int>(encoded.size()));
  EXPECT_LT(encoded.size(), 12'000u);
  auto decoded = decode_batch(base::shared_bytes(encoded));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<heartbeat_request>(decoded->back().body).commit, 1'001'000);
}

}  // namespace
}  // namespace sluice::raft
