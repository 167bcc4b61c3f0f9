#pragma once

// codec: Raft messages as bytes on the wire.
//
// One batch carries every message one node sends another in one turn of the
// host's loop, for all groups at once: with many groups per node pair (multi-
// raft: a partition is a group) a tick's heartbeats cost one frame, not one
// per group. Sender and receiver are written once per batch, each message
// names its group.
//
// Layout (version 1): u8 version, varint from, varint to, uvarint message
// count, then per message: varlong group, u8 kind, the kind's fields. Numbers
// are varints (ZigZag for the signed ones); entry indexes are written as the
// distance from where the previous entry ended, which is 0 in any log, and
// entry data as a length-prefixed byte string. Decoded entry data and
// snapshot images are slices of the input buffer: no copy.
//
// The decoder reads bytes from other machines: every length and count is
// checked against what is left of the input before it is used, unknown
// versions, kinds and flags are refused, and trailing bytes are an error.

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/shared_bytes.h"
#include "raft/messages.h"

namespace sluice::raft {

// Every message must go from `from` to `to`; the batch writes the pair once.
std::vector<uint8_t> encode_batch(node_id from, node_id to, std::span<const message> messages);

// The messages of a batch, with group, from and to filled in.
base::result<std::vector<message>> decode_batch(base::shared_bytes bytes);

}  // namespace sluice::raft
