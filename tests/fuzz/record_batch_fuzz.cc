// Bytes as a Produce request's records or a segment file holds them: split
// into record batches, each validated and its records decoded; the same bytes
// are also read as a legacy message set. Nothing may crash, and the in-place
// header updates must leave a batch whose CRC checks.

#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "protocol/legacy_message_set.h"
#include "protocol/record_batch.h"

using namespace sluice;

namespace {

constexpr size_t max_decompressed = 1 << 20;

// Keeps derived values from being optimized away.
volatile int64_t sink;

void decode_all(const protocol::record_batch& batch) {
  auto reader = protocol::record_reader::open(batch, max_decompressed);
  if (!reader.ok()) return;
  protocol::record r;
  while (true) {
    auto more = reader->next(r);
    if (!more.ok() || !*more) return;
    sink = r.offset(batch.header());
    sink = r.timestamp(batch.header());
    if (batch.header().is_control() && r.key) {
      (void)protocol::decode_control_record_key(r.key->span());
      if (r.value) (void)protocol::decode_end_txn_marker(r.value->span());
    }
  }
}

void update_in_place(const protocol::record_batch& batch) {
  // set_max_timestamp keeps the CRC when the bytes it covers do not change,
  // so the result verifies only where the input did.
  const bool crc_was_valid = protocol::verify_crc(batch).ok();
  std::vector<uint8_t> copy(batch.bytes().begin(), batch.bytes().end());
  protocol::set_base_offset(copy, 1234);
  protocol::set_partition_leader_epoch(copy, 5);
  protocol::set_max_timestamp(copy, protocol::timestamp_type::log_append_time, 99);
  auto updated = protocol::record_batch::parse(base::shared_bytes(std::move(copy)));
  if (!updated.ok() || (crc_was_valid && !protocol::verify_crc(*updated).ok())) std::abort();
}

void read_legacy(const base::shared_bytes& input, bool verify_crc) {
  protocol::legacy_read_options options;
  options.max_decompressed_bytes = max_decompressed;
  options.allow_partial_tail = true;
  // Random bytes rarely carry a right CRC: without the check, the decoders
  // behind it get fuzzed too.
  options.verify_crc = verify_crc;
  protocol::legacy_message_reader reader(input, options);
  protocol::legacy_message m;
  while (true) {
    auto more = reader.next(m);
    if (!more.ok() || !*more) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = base::shared_bytes::copy_of(std::span<const uint8_t>(data, size));

  protocol::batch_splitter splitter(input, {.allow_partial_tail = true});
  while (true) {
    auto next = splitter.next();
    if (!next.ok() || !next->has_value()) break;
    const protocol::record_batch& batch = **next;
    sink = batch.header().last_offset();
    (void)protocol::validate_produced_batch(batch, max_decompressed);
    (void)protocol::check_records(batch, max_decompressed);
    // Decoding does not depend on the CRC, so it runs on every batch.
    decode_all(batch);
    update_in_place(batch);
  }

  read_legacy(input, true);
  read_legacy(input, false);
  return 0;
}
