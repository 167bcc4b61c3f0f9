#!/usr/bin/env bash
# Runs every fuzz target for a bounded time. Usage: run.sh FUZZ_BIN_DIR SECONDS
# Seeds come from the golden frames captured from real clients
# (tests/golden/frames). A crash, leak or timeout fails the run; its input is
# kept under the work directory printed below.
set -euo pipefail
bin_dir=$(cd "$1" && pwd)
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work="$bin_dir/work"
rm -rf "$work"
mkdir -p "$work/findings"
python3 "$here/seed_corpus.py" "$here/../golden/frames" "$work/corpus"

status=0
for target in frame_fuzz request_header_fuzz message_body_fuzz record_batch_fuzz; do
  echo "fuzz: $target for ${seconds}s ($(ls "$work/corpus/$target" | wc -l) seeds)"
  if "$bin_dir/$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/findings/$target-" "$work/corpus/$target" > "$work/$target.log" 2>&1; then
    grep -E '^Done [0-9]+ runs' "$work/$target.log" | sed "s/^/fuzz: $target: /"
  else
    echo "fuzz: $target FAILED: see $work/$target.log and $work/findings/"
    tail -30 "$work/$target.log"
    status=1
  fi
done
exit $status
