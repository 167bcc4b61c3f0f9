#!/usr/bin/env python3
"""Derives Sluice's own schema files from Apache Kafka's message schemas.

Run by hand when the upstream schemas change; the build reads only the output
(src/protocol/schemas). Keeps the wire facts -- names, types, versions,
nullability, tags, defaults, mapKey, entityType, ignorable -- and drops the prose
`about` strings, the comments and Java-only hints (zeroCopy).

    python3 src/protocol/codegen/import_kafka_schemas.py ../shared/kafka-protocol/messages
"""
import json
import pathlib
import re
import sys

# API keys served to clients (CLIENTS.md 2a-2c) plus the ones Raft and the
# transaction coordinator may reuse. ZooKeeper-era controller APIs are left out.
API_KEYS = {
    0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46,
    47, 48, 49, 50, 51, 52, 53, 54, 55, 57, 59, 60, 61, 64, 65, 66, 68, 69, 71, 72, 74,
    75, 76, 77, 78, 79, 80, 81, 82,
}
DATA_SCHEMAS = {
    "RequestHeader", "ResponseHeader",
    "ConsumerProtocolSubscription", "ConsumerProtocolAssignment",
    "OffsetCommitKey", "OffsetCommitValue", "GroupMetadataKey", "GroupMetadataValue",
    "TransactionLogKey", "TransactionLogValue", "LeaderChangeMessage",
    "SnapshotHeaderRecord", "SnapshotFooterRecord", "KRaftVersionRecord", "VotersRecord",
}
DROPPED_KEYS = {"about", "zeroCopy"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in DROPPED_KEYS}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def main(source_dir, target_dir):
    target = pathlib.Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.json"):
        old.unlink()
    count = 0
    for path in sorted(pathlib.Path(source_dir).glob("*.json")):
        text = "\n".join(l for l in path.read_text().splitlines() if not re.match(r"\s*//", l))
        schema = json.loads(text)
        wanted = schema.get("apiKey") in API_KEYS if schema["type"] in ("request", "response") \
            else schema["name"] in DATA_SCHEMAS
        if not wanted:
            continue
        (target / path.name).write_text(json.dumps(strip(schema), indent=1) + "\n")
        count += 1
    print(f"wrote {count} schemas to {target}")


if __name__ == "__main__":
    here = pathlib.Path(__file__).resolve().parent
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else here.parent / "schemas")
