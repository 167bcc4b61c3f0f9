#include "raft/node.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <utility>

#include "raft/progress.h"
#include "raft/raft_log.h"

namespace sluice::raft {

const char* role_name(role r) {
  switch (r) {
    case role::follower:
      return "follower";
    case role::pre_candidate:
      return "pre-candidate";
    case role::candidate:
      return "candidate";
    case role::leader:
      return "leader";
  }
  return "?";
}

const char* refusal_name(refusal r) {
  switch (r) {
    case refusal::not_leader:
      return "not the leader";
    case refusal::transfer_in_progress:
      return "leadership transfer in progress";
    case refusal::change_in_progress:
      return "a configuration change is in progress";
    case refusal::leader_not_ready:
      return "the leader has not committed an entry of its term yet";
    case refusal::too_much_uncommitted:
      return "too much data appended but not committed";
    case refusal::learner_behind:
      return "the learner has not caught up";
    case refusal::entry_too_large:
      return "the entry is larger than max_append_bytes";
    case refusal::invalid_request:
      return "invalid request";
  }
  return "?";
}

class node::state {
 public:
  state(node_options options, const log_store& store, random_function random)
      : options_(options), store_(store), random_(std::move(random)), log_(store) {
    assert(options_.election_ticks > options_.heartbeat_ticks && options_.heartbeat_ticks > 0);
    hard_ = store.initial_hard_state();
    saved_hard_ = hard_;
    rebuild_configuration(store.configuration_entries());
    become_follower(hard_.term, no_node);
  }

  // --- Inputs ---

  void tick() {
    if (role_ == role::leader) {
      tick_leader();
    } else {
      ++election_elapsed_;
      if (promotable() && election_elapsed_ >= randomized_timeout_) start_election(false);
    }
  }

  void step(message m) {
    term_t term = message_term(m.body);
    if (term > hard_.term) {
      if (!accept_higher_term(m, term)) return;
    } else if (term < hard_.term) {
      answer_stale(m);
      return;
    }
    std::visit([&](auto& body) { handle(m.from, body); }, m.body);
  }

  base::result<index_t, refusal> propose(base::shared_bytes data, int32_t count) {
    if (role_ != role::leader) return base::unexpected(refusal::not_leader);
    if (transfer_target_ != no_node) return base::unexpected(refusal::transfer_in_progress);
    // An append carries at least one entry; one larger than an append may
    // be could never reach the followers, and the group would stall.
    if (data.size() > options_.max_append_bytes) return base::unexpected(refusal::entry_too_large);
    if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + data.size() > options_.max_uncommitted_bytes)
      return base::unexpected(refusal::too_much_uncommitted);
    uncommitted_bytes_ += data.size();
    return append_own(entry_type::data, std::move(data), std::max<int32_t>(count, 1));
  }

  base::result<void, refusal> read_index(uint64_t request) {
    if (role_ != role::leader) return base::unexpected(refusal::not_leader);
    // Until an entry of its own term commits, a new leader does not know
    // the commit index (Raft section 6.4).
    if (log_.term_at(log_.commit_index()) != hard_.term)
      return base::unexpected(refusal::leader_not_ready);
    if (config_.voters.size() == 1 && config_.is_voter(options_.id)) {
      reads_.push_back({request, log_.commit_index()});
    } else {
      // The sequence is given when the next heartbeat round goes out, so that
      // reads arriving together share one round.
      pending_reads_.push_back({request, log_.commit_index(), 0});
      read_round_due_ = true;
    }
    return {};
  }

  base::result<void, refusal> transfer_leadership(node_id target) {
    if (role_ != role::leader) return base::unexpected(refusal::not_leader);
    if (target == options_.id) return {};
    if (!config_.is_voter(target)) return base::unexpected(refusal::invalid_request);
    if (transfer_target_ == target) return {};
    transfer_target_ = target;
    // The transfer is abandoned if it has not completed within an election
    // timeout, on its own clock: check-quorum's must not be reset by it.
    transfer_elapsed_ = 0;
    progress& pr = peers_.at(target);
    if (pr.match() == log_.last_index()) {
      send(target, timeout_now_request{hard_.term});
    } else {
      send_appends(target);
    }
    return {};
  }

  base::result<index_t, refusal> change_configuration(config_change change) {
    if (role_ != role::leader) return base::unexpected(refusal::not_leader);
    if (transfer_target_ != no_node) return base::unexpected(refusal::transfer_in_progress);
    if (!config_history_.empty() && config_history_.back().first > log_.commit_index())
      return base::unexpected(refusal::change_in_progress);
    // Ongaro's fix to single-server changes: a leader changes the
    // configuration only after committing an entry of its own term.
    if (log_.term_at(log_.commit_index()) != hard_.term)
      return base::unexpected(refusal::leader_not_ready);
    configuration next = config_;
    node_id n = change.node;
    switch (change.what) {
      case config_change::kind::add_learner:
        if (n == no_node || next.contains(n)) return base::unexpected(refusal::invalid_request);
        next.learners.push_back(n);
        break;
      case config_change::kind::promote_learner: {
        if (!next.is_learner(n)) return base::unexpected(refusal::invalid_request);
        if (peers_.at(n).match() < log_.commit_index())
          return base::unexpected(refusal::learner_behind);
        std::erase(next.learners, n);
        next.voters.push_back(n);
        break;
      }
      case config_change::kind::remove_node:
        if (!next.contains(n)) return base::unexpected(refusal::invalid_request);
        if (next.is_voter(n) && next.voters.size() == 1)
          return base::unexpected(refusal::invalid_request);
        std::erase(next.voters, n);
        std::erase(next.learners, n);
        break;
    }
    return append_own(entry_type::configuration, encode_configuration(next), 1);
  }

  void campaign() {
    if (role_ != role::leader && promotable()) start_election(false);
  }

  void on_persisted(index_t index, term_t term) {
    if (!log_.mark_durable(index, term)) return;
    if (role_ == role::leader) {
      maybe_commit();
    } else {
      acknowledge(std::nullopt);
    }
  }

  void on_snapshot(const snapshot_meta& meta) {
    log_.compacted(meta);
    // Configurations the snapshot covers live on in it.
    while (!config_history_.empty() && config_history_.front().first <= meta.index)
      config_history_.erase(config_history_.begin());
  }

  // --- Outputs ---

  bool has_ready() const {
    return snapshot_to_install_ || hard_ != saved_hard_ || !outbox_.empty() || log_.has_unsent() ||
           log_.has_committed() || !reads_.empty() ||
           (role_ == role::leader && (append_due_ || read_round_due_));
  }

  ready take_ready() {
    if (role_ == role::leader) {
      // Proposals made since the last ready travel together: one append
      // per follower for all of them.
      if (append_due_) {
        for (auto& [id, pr] : peers_) send_appends(id);
        append_due_ = false;
      }
      if (read_round_due_) broadcast_heartbeat();
    }
    ready r;
    r.snapshot_to_install = std::move(snapshot_to_install_);
    snapshot_to_install_.reset();
    if (hard_ != saved_hard_) {
      r.hard_state_to_save = hard_;
      saved_hard_ = hard_;
    }
    r.messages = std::move(outbox_);
    outbox_.clear();
    r.entries = log_.take_unsent();
    r.committed = log_.take_committed(4 * options_.max_append_bytes);
    if (role_ == role::leader) {
      for (const entry& e : r.committed) {
        // Only this leader's own proposals were counted in.
        if (e.type == entry_type::data && e.term == hard_.term)
          uncommitted_bytes_ -= std::min(uncommitted_bytes_, e.data.size());
      }
    }
    r.reads = std::move(reads_);
    reads_.clear();
    return r;
  }

  // --- State ---
  const node_options& options() const { return options_; }
  role current_role() const { return role_; }
  term_t term() const { return hard_.term; }
  node_id leader() const { return leader_; }
  const raft_log& log() const { return log_; }
  const configuration& config() const { return config_; }

  size_t memory_footprint() const {
    size_t bytes = sizeof(node) + sizeof(state);
    bytes += (config_.voters.capacity() + config_.learners.capacity()) * sizeof(node_id);
    for (const auto& [index, config] : config_history_)
      bytes += sizeof(index) + sizeof(config) +
               (config.voters.capacity() + config.learners.capacity()) * sizeof(node_id);
    // A map node is the value plus three pointers and a colour.
    bytes += peers_.size() * (sizeof(std::pair<const node_id, progress>) + 4 * sizeof(void*));
    bytes += log_.unstable_count() * sizeof(entry) + log_.unstable_bytes();
    return bytes;
  }

 private:
  struct pending_read {
    uint64_t request;
    index_t index;
    uint64_t sequence;  // 0 until its heartbeat round goes out
  };

  void send(node_id to, message_body body) {
    outbox_.push_back(message{options_.group, options_.id, to, std::move(body)});
  }

  bool promotable() const { return config_.is_voter(options_.id); }

  bool in_lease() const {
    return options_.check_quorum && leader_ != no_node &&
           election_elapsed_ < options_.election_ticks;
  }

  void reset_timers() {
    election_elapsed_ = 0;
    heartbeat_elapsed_ = 0;
    randomized_timeout_ =
        options_.election_ticks +
        static_cast<int>(random_() % static_cast<uint64_t>(options_.election_ticks));
  }

  void set_term(term_t term) {
    if (term == hard_.term) return;
    hard_.term = term;
    hard_.voted_for = no_node;
    // Agreement with a leader is per term.
    leader_match_ = 0;
    acked_ = 0;
  }

  // --- Configurations ---

  void rebuild_configuration(const std::vector<entry>& entries) {
    config_history_.clear();
    for (const entry& e : entries) record_configuration(e);
    refresh_configuration();
  }

  void record_configuration(const entry& e) {
    if (e.type != entry_type::configuration || e.index <= log_.snapshot().index) return;
    configuration config;
    // A configuration entry that does not decode is a bug or corruption
    // that the CRC did not catch; refusing to use it keeps the old set.
    if (!decode_configuration(e.data.span(), config)) return;
    config_history_.emplace_back(e.index, std::move(config));
  }

  void forget_configurations_from(index_t index) {
    while (!config_history_.empty() && config_history_.back().first >= index)
      config_history_.pop_back();
  }

  void refresh_configuration() {
    config_ = config_history_.empty() ? log_.snapshot().config : config_history_.back().second;
    if (role_ != role::leader) return;
    for (node_id id : config_.voters) add_peer(id);
    for (node_id id : config_.learners) add_peer(id);
    std::erase_if(peers_, [&](const auto& p) { return !config_.contains(p.first); });
    if (transfer_target_ != no_node && !config_.is_voter(transfer_target_))
      transfer_target_ = no_node;
    // Fewer voters may already make a quorum for waiting reads.
    check_reads();
  }

  void add_peer(node_id id) {
    if (id == options_.id || peers_.contains(id)) return;
    peers_.emplace(id, progress(log_.last_index() + 1, options_.max_inflight_appends));
  }

  // --- Roles ---

  void become_follower(term_t term, node_id leader) {
    if (role_ == role::leader) fail_pending_reads();
    set_term(term);
    role_ = role::follower;
    leader_ = leader;
    peers_.clear();
    votes_.clear();
    transfer_target_ = no_node;
    uncommitted_bytes_ = 0;
    append_due_ = false;
    read_round_due_ = false;
    reset_timers();
  }

  void start_election(bool transfer) {
    if (options_.pre_vote && !transfer) {
      become_pre_candidate();
    } else {
      become_candidate(transfer);
    }
  }

  void become_pre_candidate() {
    // The term stays: a pre-vote asks whether an election could be won
    // before anyone's term is raised by it.
    role_ = role::pre_candidate;
    leader_ = no_node;
    reset_timers();
    request_votes(true, false);
  }

  void become_candidate(bool transfer) {
    set_term(hard_.term + 1);
    hard_.voted_for = options_.id;
    role_ = role::candidate;
    leader_ = no_node;
    reset_timers();
    request_votes(false, transfer);
  }

  void request_votes(bool pre_vote, bool transfer) {
    votes_.clear();
    votes_[options_.id] = true;
    if (tally_votes()) return;
    for (node_id id : config_.voters) {
      if (id == options_.id) continue;
      send(id, vote_request{pre_vote ? hard_.term + 1 : hard_.term, log_.last_index(),
                            log_.last_term(), pre_vote, transfer});
    }
  }

  // Acts on the votes counted so far; returns whether the round is decided.
  bool tally_votes() {
    size_t granted = 0;
    size_t rejected = 0;
    for (node_id id : config_.voters) {
      auto vote = votes_.find(id);
      if (vote == votes_.end()) continue;
      (vote->second ? granted : rejected)++;
    }
    if (granted >= config_.quorum()) {
      if (role_ == role::pre_candidate) {
        become_candidate(false);
      } else {
        become_leader();
      }
      return true;
    }
    if (rejected > config_.voters.size() - config_.quorum()) {
      become_follower(hard_.term, no_node);
      return true;
    }
    return false;
  }

  void become_leader() {
    role_ = role::leader;
    leader_ = options_.id;
    votes_.clear();
    peers_.clear();
    refresh_configuration();
    reset_timers();
    heartbeat_sequence_ = std::max<uint64_t>(heartbeat_sequence_, 1);
    // Raft's no-op: committing an entry of its own term tells the new leader
    // the commit index, and KRaft records the leader in it.
    append_own(entry_type::leader_change, {}, 1);
  }

  index_t append_own(entry_type type, base::shared_bytes data, int32_t count) {
    entry e;
    e.index = log_.last_index() + 1;
    e.term = hard_.term;
    e.count = count;
    e.type = type;
    e.data = std::move(data);
    index_t index = e.index;
    if (type == entry_type::configuration) {
      record_configuration(e);
      refresh_configuration();
    }
    log_.append(std::move(e));
    append_due_ = true;
    // A one-voter group commits as soon as its own disk has the entry.
    return index;
  }

  // --- Leader ---

  void tick_leader() {
    ++heartbeat_elapsed_;
    ++election_elapsed_;
    if (election_elapsed_ >= options_.election_ticks) {
      election_elapsed_ = 0;
      if (options_.check_quorum && !quorum_recently_active()) {
        become_follower(hard_.term, no_node);
        return;
      }
      fail_unconfirmed_reads();
    }
    if (transfer_target_ != no_node && ++transfer_elapsed_ >= options_.election_ticks) {
      transfer_target_ = no_node;
    }
    for (auto& [id, pr] : peers_) {
      // A snapshot that got lost is sent again.
      if (pr.state() == progress::mode::snapshot && ++pr.snapshot_ticks >= options_.election_ticks)
        pr.become_probe();
      if (pr.state() == progress::mode::replicate && !pr.can_send()) {
        if (++pr.stalled_ticks >= options_.election_ticks) pr.become_probe();
      } else {
        pr.stalled_ticks = 0;
      }
    }
    if (heartbeat_elapsed_ >= options_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      broadcast_heartbeat();
    }
    // A leader alone in its configuration has no answers to wait for.
    check_reads();
  }

  bool quorum_recently_active() {
    size_t active = config_.is_voter(options_.id) ? 1 : 0;
    for (auto& [id, pr] : peers_) {
      if (pr.recently_active && config_.is_voter(id)) ++active;
      pr.recently_active = false;
    }
    return active >= config_.quorum();
  }

  void broadcast_heartbeat() {
    uint64_t sequence = ++heartbeat_sequence_;
    for (pending_read& read : pending_reads_) {
      if (read.sequence == 0) read.sequence = sequence;
    }
    read_round_due_ = false;
    for (auto& [id, pr] : peers_) {
      send(id, heartbeat_request{hard_.term, std::min(log_.commit_index(), pr.match()), sequence});
    }
  }

  void send_appends(node_id to) {
    while (send_append(to, false)) {
    }
  }

  // Sends one append to `to` if flow control allows; returns whether it
  // carried entries (so a caller streaming a backlog may send another). An
  // empty append is sent while probing, or when `allow_empty`: a follower
  // that lost entries the leader thinks are on their way rejects it, and
  // the rejection starts the repair.
  bool send_append(node_id to, bool allow_empty) {
    progress& pr = peers_.at(to);
    if (!pr.can_send()) return false;
    if (pr.next() < log_.first_index()) {
      send_snapshot(to, pr);
      return false;
    }
    auto entries = log_.read(pr.next(), log_.last_index(), options_.max_append_bytes);
    if (!entries.ok()) {
      send_snapshot(to, pr);
      return false;
    }
    bool probing = pr.state() == progress::mode::probe;
    if (entries->empty() && !probing && !allow_empty) return false;
    index_t prev = entries->empty() ? pr.next() - 1 : entries->front().index - 1;
    auto prev_term = log_.term_at(prev);
    if (!prev_term) {
      send_snapshot(to, pr);
      return false;
    }
    index_t last = entries->empty() ? prev : entries->back().last_index();
    bool had_entries = !entries->empty();
    send(to, append_request{hard_.term, prev, *prev_term, log_.commit_index(),
                            std::move(entries.value())});
    pr.sent(last, had_entries);
    return had_entries && !probing;
  }

  void send_snapshot(node_id to, progress& pr) {
    auto snap = store_.load_snapshot();
    // Nothing to send yet (the store is still writing one): try again later.
    if (!snap.ok()) return;
    pr.become_snapshot(snap->meta.index);
    send(to, install_snapshot_request{hard_.term, std::move(snap.value())});
  }

  void maybe_commit() {
    std::vector<index_t> matches;
    for (node_id id : config_.voters) {
      matches.push_back(id == options_.id ? log_.durable_index() : peers_.at(id).match());
    }
    if (matches.empty()) return;
    std::sort(matches.begin(), matches.end(), std::greater<>());
    index_t candidate = matches[config_.quorum() - 1];
    // Only entries of the leader's own term commit by counting (Raft
    // section 3.6.2); earlier ones commit with them.
    if (candidate <= log_.commit_index() || log_.term_at(candidate) != hard_.term) return;
    log_.commit_to(candidate);
    // A leader that removed itself leaves once the removal is committed.
    if (!config_.contains(options_.id) && !config_history_.empty() &&
        config_history_.back().first <= log_.commit_index()) {
      become_follower(hard_.term, no_node);
    }
  }

  void check_reads() {
    while (!pending_reads_.empty() && pending_reads_.front().sequence != 0) {
      uint64_t sequence = pending_reads_.front().sequence;
      size_t acks = config_.is_voter(options_.id) ? 1 : 0;
      for (auto& [id, pr] : peers_) {
        if (config_.is_voter(id) && pr.acked_sequence >= sequence) ++acks;
      }
      if (acks < config_.quorum()) return;
      reads_.push_back({pending_reads_.front().request, pending_reads_.front().index});
      pending_reads_.erase(pending_reads_.begin());
    }
  }

  // A read whose round went out before the last election-timeout boundary
  // and still lacks a quorum fails (the client retries): pending reads stay
  // bounded even when answers never come (check_quorum off, or peers gone).
  void fail_unconfirmed_reads() {
    std::erase_if(pending_reads_, [&](const pending_read& read) {
      if (read.sequence == 0 || read.sequence > last_boundary_sequence_) return false;
      reads_.push_back({read.request, -1});
      return true;
    });
    last_boundary_sequence_ = heartbeat_sequence_;
  }

  void fail_pending_reads() {
    for (const pending_read& read : pending_reads_) reads_.push_back({read.request, -1});
    pending_reads_.clear();
  }

  // --- Term checks ---

  // A message from a higher term. Returns false when it is to be ignored.
  bool accept_higher_term(const message& m, term_t term) {
    if (const auto* request = std::get_if<vote_request>(&m.body)) {
      // While a voter hears from a leader it ignores candidates: a node
      // that was cut off cannot depose a working leader (check-quorum's
      // other half). A transfer's candidate was sent by the leader itself.
      if (!request->transfer && in_lease()) return false;
      // A pre-vote raises nobody's term.
      if (request->pre_vote) return true;
    }
    if (const auto* response = std::get_if<vote_response>(&m.body)) {
      // Granted pre-votes carry the term the candidate would take.
      if (response->pre_vote && response->granted) return true;
    }
    bool from_leader = std::holds_alternative<append_request>(m.body) ||
                       std::holds_alternative<heartbeat_request>(m.body) ||
                       std::holds_alternative<install_snapshot_request>(m.body);
    become_follower(term, from_leader ? m.from : no_node);
    return true;
  }

  void answer_stale(const message& m) {
    // A deposed leader that was cut off learns the new term from the
    // answer and steps down; without it, pre-vote would leave it stranded.
    if (std::holds_alternative<append_request>(m.body) ||
        std::holds_alternative<heartbeat_request>(m.body)) {
      send(m.from, append_response{hard_.term, false, 0, log_.last_index(), 0});
    } else if (const auto* request = std::get_if<vote_request>(&m.body)) {
      if (request->pre_vote) send(m.from, vote_response{hard_.term, false, true});
    }
  }

  // A leader's message in the current term.
  void follow(node_id from) {
    if (role_ != role::follower) become_follower(hard_.term, from);
    leader_ = from;
    election_elapsed_ = 0;
  }

  // --- Handlers (the message's term is the node's term, or a pre-vote's) ---

  void handle(node_id from, vote_request& request) {
    bool can_vote = hard_.voted_for == from || (hard_.voted_for == no_node && leader_ == no_node) ||
                    (request.pre_vote && request.term > hard_.term);
    if (can_vote && log_.is_up_to_date(request.last_index, request.last_term)) {
      send(from,
           vote_response{request.pre_vote ? request.term : hard_.term, true, request.pre_vote});
      if (!request.pre_vote) {
        hard_.voted_for = from;
        election_elapsed_ = 0;
      }
    } else {
      send(from, vote_response{hard_.term, false, request.pre_vote});
    }
  }

  void handle(node_id from, vote_response& response) {
    bool counting = (role_ == role::pre_candidate && response.pre_vote) ||
                    (role_ == role::candidate && !response.pre_vote);
    if (!counting) return;
    // A granted pre-vote must be for this round's prospective term.
    if (response.pre_vote && response.granted && response.term != hard_.term + 1) return;
    votes_[from] = response.granted;
    tally_votes();
  }

  // Entries that do not follow one another from prev_index + 1 did not come
  // from a correct leader; the message is dropped rather than let it bend
  // the log.
  static bool well_formed(const append_request& request) {
    index_t expected = request.prev_index + 1;
    for (const entry& e : request.entries) {
      if (e.index != expected || e.count < 1) return false;
      expected = e.last_index() + 1;
    }
    return request.prev_index >= 0;
  }

  void handle(node_id from, append_request& request) {
    if (role_ == role::leader) return;  // one leader per term: not possible
    if (!well_formed(request)) return;
    follow(from);
    index_t prev = request.prev_index;
    term_t prev_term = request.prev_term;
    std::vector<entry>& entries = request.entries;
    index_t committed = log_.commit_index();
    if (prev < committed) {
      // What is committed agrees with every leader: skip it.
      leader_match_ = std::max(leader_match_, committed);
      std::erase_if(entries, [&](const entry& e) { return e.last_index() <= committed; });
      if (entries.empty()) {
        acknowledge(committed);
        return;
      }
      prev = entries.front().index - 1;
      auto term = log_.term_at(prev);
      if (prev != committed || !term) return;  // entries not on our boundaries: not a leader's
      prev_term = *term;
    }
    if (!log_.matches(prev, prev_term)) {
      // Everything after the hint disagrees with the leader: its terms are
      // newer than prev_term, or it lies past this log's end.
      index_t hint = log_.last_index_with_term_at_most(prev, prev_term);
      send(from, append_response{hard_.term, false, 0, hint, request.prev_index,
                                 log_.term_at(hint).value_or(0)});
      return;
    }
    index_t last_new = entries.empty() ? prev : entries.back().last_index();
    if (!entries.empty()) {
      // Only entries the log did not hold change the configuration: a
      // stale append whose entries are all here already must not forget
      // configurations that follow them.
      std::vector<entry> configurations;
      for (const entry& e : entries)
        if (e.type == entry_type::configuration) configurations.push_back(e);
      index_t old_last = log_.last_index();
      std::optional<index_t> cut = log_.append_from_leader(std::move(entries));
      if (cut) forget_configurations_from(*cut);
      index_t fresh_from = cut ? *cut : old_last + 1;
      for (const entry& e : configurations)
        if (e.index >= fresh_from) record_configuration(e);
      refresh_configuration();
    }
    leader_match_ = std::max(leader_match_, last_new);
    log_.commit_to(std::min(request.commit, last_new));
    acknowledge(last_new);
  }

  // Tells the leader what this node holds durably in agreement with it.
  // Sent when that grew, or when the append just handled (ending at
  // `request_last`) is durable already: the leader may be waiting on it to
  // leave probing.
  void acknowledge(std::optional<index_t> request_last) {
    if (leader_ == no_node || role_ != role::follower) return;
    index_t ack = std::min(leader_match_, log_.durable_index());
    if (ack > acked_ || (request_last && ack >= *request_last)) {
      send(leader_, append_response{hard_.term, true, ack, 0, 0});
      acked_ = std::max(acked_, ack);
    }
  }

  void handle(node_id from, append_response& response) {
    if (role_ != role::leader) return;
    auto it = peers_.find(from);
    if (it == peers_.end()) return;
    progress& pr = it->second;
    pr.recently_active = true;
    if (!response.success) {
      // The logs cannot agree past the follower's hint, nor past the
      // leader's last entry of a term no newer than the follower's there.
      index_t agree_at_most = log_.last_index_with_term_at_most(response.hint, response.hint_term);
      index_t restart = std::min(response.rejected, agree_at_most + 1);
      if (restart > log_.snapshot().index) restart = log_.entry_start(restart).value_or(restart);
      if (pr.rejected(response.rejected, restart)) send_appends(from);
      return;
    }
    if (pr.acknowledged(response.match)) maybe_commit();
    if (role_ != role::leader) return;
    if (transfer_target_ == from && pr.match() == log_.last_index()) {
      send(from, timeout_now_request{hard_.term});
    }
    send_appends(from);
  }

  void handle(node_id from, heartbeat_request& request) {
    if (role_ == role::leader) return;
    follow(from);
    log_.commit_to(request.commit);
    // The leader sends at most what this node acknowledged in this term, so
    // the log agrees with the leader's up to there, durably: a node that
    // restarted learns that without waiting for an append.
    leader_match_ = std::max(leader_match_, std::min(request.commit, log_.durable_index()));
    index_t ack = std::min(leader_match_, log_.durable_index());
    acked_ = std::max(acked_, ack);
    send(from, heartbeat_response{hard_.term, request.sequence, log_.last_index(), ack});
  }

  void handle(node_id from, heartbeat_response& response) {
    if (role_ != role::leader) return;
    auto it = peers_.find(from);
    if (it == peers_.end()) return;
    progress& pr = it->second;
    pr.recently_active = true;
    pr.acked_sequence = std::max(pr.acked_sequence, response.sequence);
    if (pr.acknowledged(response.match)) maybe_commit();
    if (role_ != role::leader) return;
    pr.heartbeat_answered(response.last_index);
    if (pr.match() < log_.last_index()) {
      send_append(from, true);
      send_appends(from);
    }
    check_reads();
  }

  void handle(node_id from, install_snapshot_request& request) {
    if (role_ == role::leader) return;
    follow(from);
    const snapshot_meta& meta = request.snap.meta;
    if (meta.index <= log_.commit_index()) {
      // Already past it: say what is held instead.
      leader_match_ = std::max(leader_match_, log_.commit_index());
      send(from,
           install_snapshot_response{hard_.term, std::min(leader_match_, log_.durable_index())});
      return;
    }
    if (log_.matches(meta.index, meta.term)) {
      // The log holds the snapshot's last entry, so it holds everything the
      // snapshot covers (log matching): keep the log, which may run further
      // (a snapshot that travelled slowly must not cut away entries this
      // node has acknowledged), and apply the entries instead.
      leader_match_ = std::max(leader_match_, meta.index);
      log_.commit_to(meta.index);
      send(from,
           install_snapshot_response{hard_.term, std::min(leader_match_, log_.durable_index())});
      return;
    }
    log_.restore(meta);
    config_history_.clear();
    refresh_configuration();
    leader_match_ = meta.index;
    acked_ = meta.index;
    snapshot_to_install_ = std::move(request.snap);
    send(from, install_snapshot_response{hard_.term, meta.index});
  }

  void handle(node_id from, install_snapshot_response& response) {
    if (role_ != role::leader) return;
    auto it = peers_.find(from);
    if (it == peers_.end()) return;
    progress& pr = it->second;
    pr.recently_active = true;
    if (response.index > 0) {
      if (pr.acknowledged(response.index)) maybe_commit();
    } else {
      pr.become_probe();
    }
    if (role_ == role::leader) send_appends(from);
  }

  void handle(node_id /*from*/, timeout_now_request& /*request*/) {
    if (role_ != role::leader && promotable()) start_election(true);
  }

  node_options options_;
  const log_store& store_;
  random_function random_;
  raft_log log_;

  hard_state hard_;
  hard_state saved_hard_;
  role role_ = role::follower;
  node_id leader_ = no_node;

  // Configuration entries after the snapshot, in log order; the last one
  // (or the snapshot's) is in force.
  std::vector<std::pair<index_t, configuration>> config_history_;
  configuration config_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;

  // Candidate.
  std::map<node_id, bool> votes_;
  // Follower: this node's log agrees with the current term's leader up to
  // leader_match_, and it has told the leader about acked_.
  index_t leader_match_ = 0;
  index_t acked_ = 0;
  // Leader.
  std::map<node_id, progress> peers_;
  node_id transfer_target_ = no_node;
  uint64_t heartbeat_sequence_ = 0;
  // The heartbeat sequence at the last election-timeout boundary.
  uint64_t last_boundary_sequence_ = 0;
  int transfer_elapsed_ = 0;
  std::vector<pending_read> pending_reads_;
  bool append_due_ = false;
  bool read_round_due_ = false;
  size_t uncommitted_bytes_ = 0;

  // Outputs waiting for take_ready.
  std::vector<message> outbox_;
  std::vector<read_state> reads_;
  std::optional<snapshot> snapshot_to_install_;
};

node::node(node_options options, const log_store& store, random_function random)
    : state_(std::make_unique<state>(options, store, std::move(random))) {}
node::~node() = default;

void node::tick() { state_->tick(); }
void node::step(message m) { state_->step(std::move(m)); }
base::result<index_t, refusal> node::propose(base::shared_bytes data, int32_t count) {
  return state_->propose(std::move(data), count);
}
base::result<void, refusal> node::read_index(uint64_t request) {
  return state_->read_index(request);
}
base::result<void, refusal> node::transfer_leadership(node_id target) {
  return state_->transfer_leadership(target);
}
base::result<index_t, refusal> node::change_configuration(config_change change) {
  return state_->change_configuration(change);
}
void node::campaign() { state_->campaign(); }
void node::on_persisted(index_t index, term_t term) { state_->on_persisted(index, term); }
void node::on_snapshot(const snapshot_meta& meta) { state_->on_snapshot(meta); }
bool node::has_ready() const { return state_->has_ready(); }
ready node::take_ready() { return state_->take_ready(); }

node_id node::id() const { return state_->options().id; }
group_id node::group() const { return state_->options().group; }
role node::current_role() const { return state_->current_role(); }
term_t node::term() const { return state_->term(); }
node_id node::leader() const { return state_->leader(); }
index_t node::commit_index() const { return state_->log().commit_index(); }
index_t node::applied_index() const { return state_->log().applied_index(); }
index_t node::last_index() const { return state_->log().last_index(); }
index_t node::durable_index() const { return state_->log().durable_index(); }
const configuration& node::config() const { return state_->config(); }
std::optional<term_t> node::term_at(index_t index) const { return state_->log().term_at(index); }
size_t node::memory_footprint() const { return state_->memory_footprint(); }

}  // namespace sluice::raft
