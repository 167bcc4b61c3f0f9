// sluice dump-log: the segment files of a log directory, decoded (log_dump.h).
#include <memory>

#include "cli/command_families.h"
#include "cli/log_dump.h"

namespace sluice::cli {

void add_dump_log_command(CLI::App& root, invocation& inv) {
  auto* command = root.add_subcommand(
      "dump-log", "Decode segment files (.log, .index, .timeindex) of a broker's log directory");
  auto paths = std::make_shared<std::vector<std::string>>();
  auto options = std::make_shared<dump_options>();
  command
      ->add_option("path", *paths,
                   "Segment files, or partition directories (<log.dirs>/<topic>-<partition>) "
                   "standing for their .log files in offset order")
      ->required();
  command->add_flag("--records", options->records,
                    "Print every record: offset, timestamp, key, value, headers");
  command->add_flag("--verify", options->verify,
                    "Check batch CRCs and records, offset order, and index entries against the "
                    ".log (a directory then includes its indexes); exit 1 if anything is wrong");
  command->add_option("--from-offset", options->from_offset,
                      "Leave out batches, records and index entries below this offset");
  command->add_option("--max-bytes", options->max_bytes,
                      "Bytes of each key, value and header value to print (default 256, 0: all)");
  command->footer(
      "Examples:\n"
      "  sluice dump-log /var/lib/sluice/orders-0\n"
      "  sluice dump-log --records --max-bytes 64 "
      "/var/lib/sluice/orders-0/00000000000000000000.log\n"
      "  sluice dump-log --verify /var/lib/sluice/orders-0\n"
      "  sluice dump-log /var/lib/sluice/orders-0/00000000000000000000.index\n"
      "  sluice dump-log --from-offset 1000 --records --format json /var/lib/sluice/orders-0\n"
      "\n"
      "Bytes that are not printable UTF-8 show as \\xNN. A batch with a bad CRC shows\n"
      "crc_valid false; a file whose walk stops early says why under error.");
  on_run(command, inv, [&inv, paths, options]() -> base::result<void> {
    auto dump = dump_paths(*paths, *options);
    if (!dump) return base::unexpected(dump.error());
    print(*dump, inv.format());
    if (!options->verify) return {};
    if (auto failure = verification_failure(*dump)) return base::fail(*failure);
    return {};
  });
}

}  // namespace sluice::cli
