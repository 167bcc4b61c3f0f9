// Placeholder until this family is implemented.
#include "cli/command_families.h"

namespace sluice::cli {

void add_consume_command(CLI::App&, invocation&) {}

}  // namespace sluice::cli
