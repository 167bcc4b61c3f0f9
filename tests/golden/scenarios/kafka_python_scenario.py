"""Golden-frame scenario for kafka-python (python3-kafka): see ../README.md.

Usage: /usr/bin/python3 kafka_python_scenario.py HOST:PORT

Every client gets its own client_id, which the fixtures record in each request
header, so tests can tell which step sent a frame. Compression codecs whose
Python module is missing here are skipped, with a note on stderr.
"""
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, codec
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

TOPIC = "golden"
# Clients send a batch uncompressed when compressing does not make it smaller,
# so the values repeat themselves.
MESSAGES = [(b"key-%d" % i, b"value-%d " % i + b"golden frame " * 16) for i in (1, 2, 3)]
CODECS = {"gzip": codec.has_gzip, "snappy": codec.has_snappy, "lz4": codec.has_lz4,
          "zstd": codec.has_zstd}


def produce(bootstrap, client_id, **settings):
    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, linger_ms=50,
                             **settings)
    futures = [producer.send(TOPIC, key=key, value=value) for key, value in MESSAGES]
    producer.flush(10)
    for future in futures:
        future.get(timeout=10)
    producer.close(10)


def consume_in_group(bootstrap):
    consumer = KafkaConsumer(TOPIC, bootstrap_servers=bootstrap, client_id="kp-consume-group",
                             group_id="kp-group", auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=10000)
    received = 0
    for _ in consumer:
        received += 1
        if received == len(MESSAGES):
            break
    if received == 0:
        sys.exit("kp-consume-group: no messages")
    consumer.commit()
    consumer.close()


def administer(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kp-admin")
    admin.create_topics([NewTopic("kp-admin-topic", num_partitions=1, replication_factor=1)])
    admin.create_partitions({"kp-admin-topic": NewPartitions(total_count=2)})
    admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-admin-topic")])
    admin.delete_topics(["kp-admin-topic"])
    admin.close()


def main():
    bootstrap = sys.argv[1]
    produce(bootstrap, "kp-produce-default")
    for name, available in CODECS.items():
        if available():
            produce(bootstrap, f"kp-produce-{name}", compression_type=name)
        else:
            print(f"kafka-python: skipping compression_type={name!r}: its module is missing",
                  file=sys.stderr)
    consume_in_group(bootstrap)
    administer(bootstrap)


if __name__ == "__main__":
    main()
