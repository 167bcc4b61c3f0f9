// kafkajs steps for test_kafkajs.py, one per run:
//
//   node kafkajs_roundtrip.js BOOTSTRAP COMMAND 'JSON ARGUMENTS'
//
// prints one JSON line with the step's result on stdout and exits 0, or prints
// the error on stderr and exits 1. kafkajs comes from NODE_PATH (the test points
// it at tests/golden/node_modules). Every step is bounded by kafkajs's request
// timeouts and by a watchdog.
//
// Commands:
//   create     {topic, partitions, configs?}   -> {created}
//   list       {}                               -> {topics}
//   metadata   {topics}                         -> fetchTopicMetadata
//   produce    {topic, count, tag, compression?, idempotent?}
//                                              -> {messages: [{key, value, headers, partition}], results}
//   offsets    {topic}                          -> fetchTopicOffsets
//   offsets-by-time {topic, timestamp}          -> fetchTopicOffsetsByTimestamp
//   delete-records {topic, partitions: [{partition, offset}]} -> {}
//   describe-configs {topic}                    -> describeConfigs
//   delete     {topics}                         -> {}
'use strict';

const { Kafka, CompressionTypes, ConfigResourceTypes, Partitioners, logLevel } = require('kafkajs');

const WATCHDOG_MS = 90000;

function client(bootstrap) {
  return new Kafka({
    clientId: 'sluice-it-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

function messageOf(tag, i) {
  return {
    key: `${tag}-key-${i % 40}`,
    value: `${tag}-${i}-${'x'.repeat(i % 50)}`,
    headers: { i: String(i), tag },
  };
}

async function withAdmin(kafka, f) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await f(admin);
  } finally {
    await admin.disconnect();
  }
}

async function produce(kafka, args) {
  // Wraps the default (Java-compatible murmur2) partitioner to record the
  // partition it picks for each message.
  const chosen = new Map();
  const createPartitioner = () => {
    const inner = Partitioners.DefaultPartitioner();
    return (a) => {
      const p = inner(a);
      chosen.set(a.message.value, p);
      return p;
    };
  };
  const config = { createPartitioner };
  if (args.idempotent) Object.assign(config, { idempotent: true, maxInFlightRequests: 1 });
  const producer = kafka.producer(config);
  await producer.connect();
  const compression = args.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const messages = [];
  const results = [];
  try {
    const chunk = 250;
    for (let first = 0; first < args.count; first += chunk) {
      const batch = [];
      for (let i = first; i < Math.min(args.count, first + chunk); i++) batch.push(messageOf(args.tag, i));
      // acks -1 is kafkajs's default; be explicit.
      const r = await producer.send({ topic: args.topic, acks: -1, compression, messages: batch });
      results.push(...r);
      messages.push(...batch);
    }
  } finally {
    await producer.disconnect();
  }
  return {
    messages: messages.map((m) => ({ ...m, partition: chosen.get(m.value) })),
    results,
  };
}

async function run(bootstrap, command, args) {
  const kafka = client(bootstrap);
  switch (command) {
    case 'create':
      return withAdmin(kafka, async (admin) => ({
        created: await admin.createTopics({
          waitForLeaders: true,
          topics: [{
            topic: args.topic,
            numPartitions: args.partitions,
            replicationFactor: 1,
            configEntries: Object.entries(args.configs || {}).map(([name, value]) => ({ name, value })),
          }],
        }),
      }));
    case 'list':
      return withAdmin(kafka, async (admin) => ({ topics: await admin.listTopics() }));
    case 'metadata':
      return withAdmin(kafka, (admin) => admin.fetchTopicMetadata({ topics: args.topics }));
    case 'produce':
      return produce(kafka, args);
    case 'offsets':
      return withAdmin(kafka, (admin) => admin.fetchTopicOffsets(args.topic));
    case 'offsets-by-time':
      return withAdmin(kafka, (admin) => admin.fetchTopicOffsetsByTimestamp(args.topic, args.timestamp));
    case 'delete-records':
      return withAdmin(kafka, async (admin) => {
        // deleteTopicRecords looks the leaders up in metadata it does not load.
        await admin.fetchTopicMetadata({ topics: [args.topic] });
        await admin.deleteTopicRecords({ topic: args.topic, partitions: args.partitions });
        return {};
      });
    case 'describe-configs':
      return withAdmin(kafka, (admin) => admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: args.topic }],
        includeSynonyms: false,
      }));
    case 'delete':
      return withAdmin(kafka, async (admin) => {
        await admin.deleteTopics({ topics: args.topics, timeout: 30000 });
        return {};
      });
    default:
      throw new Error(`unknown command ${command}`);
  }
}

const watchdog = setTimeout(() => {
  console.error(`kafkajs_roundtrip: no result within ${WATCHDOG_MS} ms`);
  process.exit(3);
}, WATCHDOG_MS);

run(process.argv[2], process.argv[3], JSON.parse(process.argv[4] || '{}'))
  .then((result) => {
    clearTimeout(watchdog);
    // Exit only once the (possibly large) line is written: stdout is a pipe.
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
  })
  .catch((error) => {
    console.error(error && error.stack ? error.stack : error);
    if (error && error.type) console.error(`kafkajs error type: ${error.type}`);
    process.exit(1);
  });
