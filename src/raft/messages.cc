#include "raft/messages.h"

namespace sluice::raft {

term_t message_term(const message_body& body) {
  return std::visit([](const auto& m) { return m.term; }, body);
}

}  // namespace sluice::raft
