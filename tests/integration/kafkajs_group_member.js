// One kafkajs consumer-group member for test_consumer_groups.py:
//
//   node kafkajs_group_member.js BOOTSTRAP 'JSON ARGUMENTS'
//
// Arguments: {groupId, topic, clientId?, sessionTimeout?, heartbeatInterval?,
// lifetimeMs?}. It subscribes to `topic` from the beginning and runs until
// SIGTERM, then disconnects (which sends LeaveGroup) and exits 0. kafkajs comes
// from NODE_PATH (the test points it at tests/golden/node_modules).
//
// kafkajs's only built-in assigner is "RoundRobinAssigner", a protocol no other
// client offers, so a group it shares with kafka-python, librdkafka or Java
// members would fail with INCONSISTENT_GROUP_PROTOCOL. It joins with "range"
// instead, with the rules of Kafka's RangeAssignor: per topic, the subscribed
// members sorted by member id, each gets floor(P / M) consecutive partitions and
// the first P % M of them one more. Whoever leads the group computes the same
// assignment.
//
// stdout, one JSON object per line:
//   {"ev":"joined","memberId","leaderId","isLeader","protocol","parts":[...]}
//                                     after each join (GROUP_JOIN); parts sorted
//   {"ev":"msg","p","o","k","v"}      each message, before its offset is
//                                     committed (autoCommitThreshold 1)
//   {"ev":"error","msg"}              a crash or a failed step; exit 1 when
//                                     kafkajs does not restart after it
//   {"ev":"closed"}                   after SIGTERM, once disconnected
'use strict';

const { Kafka, logLevel, AssignerProtocol } = require('kafkajs');

const { MemberMetadata, MemberAssignment } = AssignerProtocol;
const RANGE = 'range';
const METADATA_VERSION = 0;

function emit(ev) {
  process.stdout.write(`${JSON.stringify(ev)}\n`);
}

const RangeAssigner = ({ cluster }) => ({
  name: RANGE,
  version: METADATA_VERSION,

  async assign({ members, topics }) {
    const assignment = {};
    const subscribed = members.map(({ memberId, memberMetadata }) => {
      assignment[memberId] = {};
      return { memberId, topics: MemberMetadata.decode(memberMetadata).topics };
    });
    for (const topic of topics) {
      const partitions = cluster.findTopicPartitionMetadata(topic)
        .map((m) => m.partitionId)
        .sort((a, b) => a - b);
      const consumers = subscribed
        .filter((s) => s.topics.includes(topic))
        .map((s) => s.memberId)
        .sort();
      if (consumers.length === 0) continue;
      const each = Math.floor(partitions.length / consumers.length);
      const extra = partitions.length % consumers.length;
      consumers.forEach((memberId, i) => {
        const start = each * i + Math.min(i, extra);
        const length = each + (i < extra ? 1 : 0);
        if (length > 0) assignment[memberId][topic] = partitions.slice(start, start + length);
      });
    }
    return members.map(({ memberId }) => ({
      memberId,
      memberAssignment: MemberAssignment.encode({
        version: METADATA_VERSION,
        assignment: assignment[memberId],
      }),
    }));
  },

  protocol({ topics }) {
    return {
      name: RANGE,
      metadata: MemberMetadata.encode({ version: METADATA_VERSION, topics }),
    };
  },
});

async function main(bootstrap, args) {
  const kafka = new Kafka({
    clientId: args.clientId || 'sluice-it-kafkajs-member',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  const consumer = kafka.consumer({
    groupId: args.groupId,
    partitionAssigners: [RangeAssigner],
    sessionTimeout: args.sessionTimeout || 10000,
    heartbeatInterval: args.heartbeatInterval || 1000,
    maxWaitTimeInMs: 200,
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    emit({
      ev: 'joined',
      memberId: payload.memberId,
      leaderId: payload.leaderId,
      isLeader: payload.isLeader,
      protocol: payload.groupProtocol,
      parts: (payload.memberAssignment[args.topic] || []).slice().sort((a, b) => a - b),
    });
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    emit({ ev: 'error', msg: String(payload.error && payload.error.message), restart: payload.restart });
    if (!payload.restart) process.stdout.write('', () => process.exit(1));
  });

  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    consumer.disconnect()
      .catch((e) => emit({ ev: 'error', msg: `disconnect: ${e && e.message}` }))
      .then(() => {
        emit({ ev: 'closed' });
        process.stdout.write('', () => process.exit(0));
      });
  });

  await consumer.connect();
  await consumer.subscribe({ topic: args.topic, fromBeginning: true });
  await consumer.run({
    autoCommitThreshold: 1,
    eachMessage: async ({ partition, message }) => {
      emit({
        ev: 'msg',
        p: partition,
        o: Number(message.offset),
        k: message.key && message.key.toString(),
        v: message.value && message.value.toString(),
      });
    },
  });
}

const args = JSON.parse(process.argv[3] || '{}');
const watchdog = setTimeout(() => {
  emit({ ev: 'error', msg: 'watchdog: still running, exiting' });
  process.exit(3);
}, args.lifetimeMs || 120000);
watchdog.unref();

main(process.argv[2], args).catch((error) => {
  emit({ ev: 'error', msg: String(error && error.stack ? error.stack : error) });
  process.exit(1);
});
