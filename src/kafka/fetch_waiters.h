#pragma once

// How an append wakes the Fetch requests waiting for it (see partition.h,
// waiting_shards): the owner shard calls notify_appended() after each append;
// every shard with a waiter for the partition is posted a wakeup.

#include "kafka/partition.h"
#include "kafka/shard.h"

namespace sluice::kafka {

void notify_appended(partition& p, shard_set& shards);

}  // namespace sluice::kafka
