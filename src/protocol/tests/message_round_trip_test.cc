// Every message type at every version: random values survive encode -> decode
// unchanged, and decode -> encode reproduces the bytes exactly.

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "protocol/all_messages.h"
#include "protocol/testing/randomize.h"

namespace sluice::protocol {
namespace {

constexpr int iterations_per_version = 100;

template <typename Message>
void check_round_trips(testing::random_values& rng, int& versions_checked) {
  for (int16_t version = Message::min_version; version <= Message::max_version; ++version) {
    for (int i = 0; i < iterations_per_version; ++i) {
      Message original;
      testing::randomize(original, version, rng);
      base::byte_writer writer;
      original.encode(writer, version);
      base::shared_bytes encoded(writer.take());

      base::byte_reader reader(encoded);
      Message decoded;
      decoded.decode(reader, version);
      ASSERT_TRUE(reader.ok()) << Message::name << " v" << version << ": " << reader.error()
                               << " at " << reader.error_position();
      ASSERT_EQ(reader.remaining(), 0u) << Message::name << " v" << version;
      ASSERT_TRUE(decoded == original) << Message::name << " v" << version << " changed";

      base::byte_writer again;
      decoded.encode(again, version);
      ASSERT_TRUE(base::shared_bytes(again.take()) == encoded)
          << Message::name << " v" << version << " re-encoded differently";
    }
    ++versions_checked;
  }
}

TEST(MessageRoundTrip, EveryApiEveryVersion) {
  testing::random_values rng(20261126);
  int versions_checked = 0;
  for (const api_info& api : all_apis()) {
    bool known = visit_api(static_cast<int16_t>(api.key), [&](auto request, auto response) {
      check_round_trips<typename decltype(request)::type>(rng, versions_checked);
      check_round_trips<typename decltype(response)::type>(rng, versions_checked);
    });
    ASSERT_TRUE(known) << api.name;
  }
  // Every API has at least one request and one response version.
  EXPECT_GE(versions_checked, 2 * static_cast<int>(all_apis().size()));
}

TEST(MessageRoundTrip, EveryDataSchemaEveryVersion) {
  testing::random_values rng(7);
  int versions_checked = 0;
  for_each_data_schema([&](auto schema) {
    check_round_trips<typename decltype(schema)::type>(rng, versions_checked);
  });
  EXPECT_GT(versions_checked, 15);
}

}  // namespace
}  // namespace sluice::protocol
