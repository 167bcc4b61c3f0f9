// Placeholder until this family is implemented.
#include "cli/command_families.h"

namespace sluice::cli {

void add_dump_log_command(CLI::App&, invocation&) {}

}  // namespace sluice::cli
