// Golden-frame scenario for kafkajs: see ../README.md.
//
// Usage: node kafkajs_scenario.js HOST:PORT (with kafkajs installed in ../node_modules)
//
// Every step gets its own clientId, which the fixtures record in each request
// header, so tests can tell which step sent a frame.
'use strict';

const { Kafka, CompressionTypes, ConfigResourceTypes, logLevel } = require('kafkajs');

const TOPIC = 'golden';
// Clients send a batch uncompressed when compressing does not make it smaller,
// so the values repeat themselves.
const MESSAGES = [1, 2, 3].map((i) => ({ key: `key-${i}`, value: `value-${i} ${'golden frame '.repeat(16)}` }));

function client(bootstrap, clientId) {
  return new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.ERROR, retry: { retries: 2 } });
}

async function produce(bootstrap, clientId, producerConfig, compression) {
  const producer = client(bootstrap, clientId).producer(producerConfig);
  await producer.connect();
  await producer.send({ topic: TOPIC, compression, messages: MESSAGES });
  await producer.disconnect();
}

async function consumeInGroup(bootstrap) {
  const consumer = client(bootstrap, 'kjs-consume-group').consumer({ groupId: 'kjs-group' });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  const received = [];
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      received.push({ partition, offset: message.offset });
    },
  });
  const deadline = Date.now() + 10000;
  while (received.length < MESSAGES.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (received.length === 0) throw new Error('kjs-consume-group: no messages');
  const last = received[received.length - 1];
  await consumer.commitOffsets([
    { topic: TOPIC, partition: last.partition, offset: (BigInt(last.offset) + 1n).toString() },
  ]);
  await consumer.disconnect();
}

async function administer(bootstrap) {
  const admin = client(bootstrap, 'kjs-admin').admin();
  const topic = 'kjs-admin-topic';
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
  await admin.fetchTopicOffsets(topic);
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '-1' }] });
  await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    includeSynonyms: false,
  });
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
}

async function main() {
  const bootstrap = process.argv[2];
  await produce(bootstrap, 'kjs-produce-none', {}, CompressionTypes.None);
  await produce(bootstrap, 'kjs-produce-gzip', {}, CompressionTypes.GZIP);
  await produce(bootstrap, 'kjs-produce-idempotent', { idempotent: true, maxInFlightRequests: 1 },
    CompressionTypes.None);
  await consumeInGroup(bootstrap);
  await administer(bootstrap);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
