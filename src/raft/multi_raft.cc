#include "raft/multi_raft.h"

namespace sluice::raft {

node& multi_raft::add(group_id group, const log_store& store, node_options options,
                      random_function random) {
  options.id = self_;
  options.group = group;
  auto& slot = groups_[group];
  slot = std::make_unique<node>(options, store, std::move(random));
  return *slot;
}

void multi_raft::remove(group_id group) { groups_.erase(group); }

node* multi_raft::find(group_id group) {
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : it->second.get();
}

void multi_raft::tick() {
  for (auto& [id, group] : groups_) group->tick();
}

void multi_raft::deliver(std::vector<message> batch) {
  for (message& m : batch) {
    node* group = find(m.group);
    if (group == nullptr || m.to != self_) {
      ++dropped_;
      continue;
    }
    group->step(std::move(m));
  }
}

void multi_raft::process_ready(const std::function<void(node&, ready&)>& handle) {
  for (auto& [id, group] : groups_) {
    if (!group->has_ready()) continue;
    ready r = group->take_ready();
    handle(*group, r);
    for (message& m : r.messages) outbound_[m.to].push_back(std::move(m));
  }
}

std::vector<outbound_batch> multi_raft::take_outbound() {
  std::vector<outbound_batch> batches;
  batches.reserve(outbound_.size());
  for (auto& [to, messages] : outbound_) {
    if (!messages.empty()) batches.push_back({to, std::move(messages)});
  }
  outbound_.clear();
  return batches;
}

}  // namespace sluice::raft
