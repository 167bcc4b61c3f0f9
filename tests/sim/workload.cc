#include "sim/workload.h"

namespace sluice::sim {

namespace {

uint64_t request_id(int client, uint64_t op) { return (static_cast<uint64_t>(client) << 40) | op; }

}  // namespace

workload::workload(cluster& c, workload_options options, prng random)
    : cluster_(c), options_(options), random_(random) {
  for (int i = 0; i < options_.clients; ++i) {
    client cl;
    cl.id = i + 1;
    cl.target = random_member();
    clients_.push_back(cl);
  }
}

node_id workload::random_member() {
  std::vector<node_id> members = cluster_.members();
  return members[random_.below(members.size())];
}

workload::client* workload::by_request(uint64_t request) {
  auto id = static_cast<int>(request >> 40);
  if (id < 1 || id > static_cast<int>(clients_.size())) return nullptr;
  client& c = clients_[static_cast<size_t>(id - 1)];
  return c.op && c.sent && request_id(c.id, c.op_id) == request ? &c : nullptr;
}

void workload::step() {
  uint64_t now = cluster_.now();
  for (client& c : clients_) {
    if (cluster_.failed()) return;
    if (c.op && c.sent && now - c.op->invoked > options_.op_timeout) abandon(c);
    if (!c.op && now >= c.idle_until) start_op(c);
    if (c.op && !c.sent && now >= c.idle_until) attempt(c);
  }
}

void workload::start_op(client& c) {
  kv_operation op;
  op.client = c.id;
  op.key = "k" + std::to_string(random_.below(static_cast<uint64_t>(options_.keys)));
  if (random_.chance(options_.put_ratio)) {
    op.what = kv_operation::kind::put;
    op.value = "v" + std::to_string(c.id) + "." + std::to_string(c.next_op);
  }
  op.invoked = cluster_.now();
  c.op = op;
  c.op_id = c.next_op++;
  c.sent = false;
  c.node = raft::no_node;
  c.index = 0;
}

void workload::attempt(client& c) {
  uint64_t now = cluster_.now();
  // A request that cannot even be placed for a whole timeout is given up on
  // (nothing happened, so nothing is recorded).
  if (now - c.op->invoked > options_.op_timeout) {
    c.op.reset();
    return;
  }
  if (!cluster_.available(c.target)) {
    c.target = random_member();
    if (!cluster_.available(c.target)) return;
  }
  if (c.op->what == kv_operation::kind::put) {
    kv_command command{c.id, c.op_id, c.op->key, *c.op->value};
    auto count = static_cast<int32_t>(random_.range(1, options_.max_count));
    auto r = cluster_.propose(c.target, command, count);
    if (!r) {
      redirect(c, r.error());
      return;
    }
    c.index = *r;
  } else {
    auto r = cluster_.read_index(c.target, request_id(c.id, c.op_id));
    if (!r) {
      redirect(c, r.error());
      return;
    }
  }
  // The invocation is the accepted attempt: refused ones had no effect.
  c.op->invoked = now;
  c.sent = true;
  c.node = c.target;
}

void workload::redirect(client& c, raft::refusal why) {
  ++stats_.refusals;
  const raft::node* n = cluster_.node(c.target);
  node_id hint = n ? n->leader() : raft::no_node;
  if (why == raft::refusal::not_leader || why == raft::refusal::transfer_in_progress) {
    c.target = hint != raft::no_node && hint != c.target ? hint : random_member();
  }
  // Back off a little before the retry (a leader not ready yet, back-pressure).
  c.idle_until = cluster_.now() + 1 + random_.below(static_cast<uint64_t>(options_.think) + 1);
}

void workload::complete(client& c, std::optional<std::string> value) {
  kv_operation op = std::move(*c.op);
  op.completed = cluster_.now();
  if (op.what == kv_operation::kind::get) {
    op.value = std::move(value);
    ++stats_.gets_ok;
  } else {
    ++stats_.puts_ok;
  }
  history_.push_back(std::move(op));
  c.op.reset();
  c.sent = false;
  c.idle_until = cluster_.now() + random_.below(static_cast<uint64_t>(options_.think) + 1);
}

void workload::abandon(client& c) {
  if (c.op->what == kv_operation::kind::put && c.sent) {
    history_.push_back(std::move(*c.op));
    ++stats_.puts_unknown;
  } else if (c.op->what == kv_operation::kind::get) {
    ++stats_.gets_failed;
  }
  c.op.reset();
  c.sent = false;
  // Another node may know better; try one at random.
  c.target = random_member();
  c.idle_until = cluster_.now() + random_.below(static_cast<uint64_t>(options_.think) + 1);
}

void workload::finish() {
  for (client& c : clients_) {
    if (c.op) abandon(c);
  }
}

void workload::on_applied(node_id node, const raft::entry& e,
                          const std::optional<kv_command>& command) {
  for (client& c : clients_) {
    if (!c.op || !c.sent || c.node != node || c.op->what != kv_operation::kind::put) continue;
    if (command && command->client == c.id && command->op == c.op_id) {
      complete(c, std::nullopt);
    } else if (e.last_index() >= c.index) {
      abandon(c);  // another entry took its place on this node
    }
  }
}

void workload::on_read(node_id node, uint64_t request, bool ok) {
  client* c = by_request(request);
  if (c == nullptr || c->node != node || c->op->what != kv_operation::kind::get) return;
  if (ok) {
    complete(*c, cluster_.kv(node).get(c->op->key));
  } else {
    abandon(*c);
  }
}

void workload::on_down(node_id node) {
  for (client& c : clients_) {
    if (c.op && c.sent && c.node == node) abandon(c);
  }
}

void workload::on_snapshot_installed(node_id node, raft::index_t index) {
  for (client& c : clients_) {
    if (c.op && c.sent && c.node == node && c.op->what == kv_operation::kind::put &&
        c.index <= index) {
      abandon(c);
    }
  }
}

}  // namespace sluice::sim
