"""Golden-frame scenario for confluent-kafka-python (librdkafka): see ../README.md.

Usage: /usr/bin/python3 confluent_kafka_scenario.py HOST:PORT

Every client gets its own client.id, which the fixtures record in each request
header, so tests can tell which step sent a frame.
"""
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

TOPIC = "golden"
# Clients send a batch uncompressed when compressing does not make it smaller,
# so the values repeat themselves.
MESSAGES = [(b"key-%d" % i, b"value-%d " % i + b"golden frame " * 16) for i in (1, 2, 3)]


def produce(bootstrap, client_id, **settings):
    producer = Producer({"bootstrap.servers": bootstrap, "client.id": client_id,
                         "linger.ms": 50, **settings})
    for key, value in MESSAGES:
        producer.produce(TOPIC, key=key, value=value)
    left = producer.flush(10)
    if left:
        sys.exit(f"{client_id}: {left} messages not delivered")


def consume_in_group(bootstrap):
    consumer = Consumer({"bootstrap.servers": bootstrap, "client.id": "ck-consume-group",
                         "group.id": "ck-group", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    received = 0
    deadline = time.monotonic() + 10
    while received < len(MESSAGES) and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            received += 1
    if received == 0:
        sys.exit("ck-consume-group: no messages")
    consumer.commit(asynchronous=False)
    consumer.close()


def administer(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "ck-admin"})
    admin.create_topics([NewTopic("ck-admin-topic", 1, 1)])["ck-admin-topic"].result(10)
    admin.create_partitions([NewPartitions("ck-admin-topic", 2)])["ck-admin-topic"].result(10)
    resource = ConfigResource("topic", "ck-admin-topic")
    admin.describe_configs([resource])[resource].result(10)
    admin.delete_topics(["ck-admin-topic"])["ck-admin-topic"].result(10)


def main():
    bootstrap = sys.argv[1]
    produce(bootstrap, "ck-produce-gzip", **{"compression.type": "gzip"})
    produce(bootstrap, "ck-produce-idempotent", **{"enable.idempotence": True})
    consume_in_group(bootstrap)
    administer(bootstrap)


if __name__ == "__main__":
    main()
