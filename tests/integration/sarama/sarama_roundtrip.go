// sarama_roundtrip: sarama (github.com/Shopify/sarama, Debian's 1.22.1 built
// offline in GOPATH mode) against a sluice broker at one protocol level.
//
//	sarama_roundtrip -brokers HOST:PORT -topic T -version default|0.10.0.0|2.0.0 [-n N]
//	                 [-mode both|produce|consume] [-produced-version V]
//	                 [-codec none|gzip|snappy|lz4] [-fetch-bytes B] [-ts-base MS]
//	                 [-timeout D] [-verbose]
//
// Produce (modes both and produce): N keyed messages, the first half with a
// SyncProducer (ten one at a time, then batches of 100 with SendMessages) and
// the rest with an AsyncProducer, all in flight at once. Every message must be
// acknowledged; per partition the acknowledged offsets must follow the produce
// order, and one key must always go to one partition.
//
// Consume (modes both and consume): a plain Consumer (sarama.NewConsumer and
// ConsumePartition, no consumer group) reads every partition of the topic from
// OffsetOldest up to its newest offset (ListOffsets). Message i is recognised by
// its value and checked byte for byte (key and value); offsets must be dense
// from 0, produce order kept per partition, and every message 0..N-1 read
// exactly once. In mode both each one must also be at the partition and offset
// its acknowledgement gave. Timestamps and headers are checked where both the
// producing level (-produced-version, default -version) and the consuming one
// carry them. Nothing may follow the last message, and the high watermark must
// agree.
//
// Exit status 0 on success, 1 with a description of what went wrong, 2 for bad
// arguments. The whole run is bounded by -timeout.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Shopify/sarama"
)

const keys = 97 // distinct keys; messages with one key share a partition

type sent struct {
	key, value []byte
	ts         time.Time
	header     []byte
	partition  int32
	offset     int64
	acked      bool
	consumed   bool
}

var failures []string

func failf(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	failures = append(failures, msg)
	fmt.Fprintln(os.Stderr, "FAIL: "+msg)
	if len(failures) >= 20 {
		fatalf("too many failures")
	}
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func keyOf(i int) []byte { return []byte(fmt.Sprintf("key-%02d", i%keys)) }

// valueOf: "v<index>|" then filler: varied lengths (up to ~2.3 KB) and every
// byte value, so that corruption or truncation shows.
func valueOf(i int) []byte {
	n := (i * 7919) % 2311
	v := make([]byte, 0, n+16)
	v = append(v, []byte(fmt.Sprintf("v%07d|", i))...)
	for j := 0; len(v) < n; j++ {
		v = append(v, byte((i*131+j*17)%256))
	}
	return v
}

// indexOf: the message index a consumed value claims to be, or -1.
func indexOf(value []byte) int {
	if len(value) < 9 || value[0] != 'v' || value[8] != '|' {
		return -1
	}
	i, err := strconv.Atoi(string(value[1:8]))
	if err != nil {
		return -1
	}
	return i
}

func parseVersion(s string) (sarama.KafkaVersion, error) {
	if s == "default" {
		return sarama.NewConfig().Version, nil
	}
	return sarama.ParseKafkaVersion(s)
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers")
	topic := flag.String("topic", "sarama", "topic (must exist, or be auto-created)")
	versionFlag := flag.String("version", "default", `protocol level: "default" (sarama's: 0.8.2.0) or a Kafka version such as 0.10.0.0 or 2.0.0`)
	producedFlag := flag.String("produced-version", "", "mode consume: the level the messages were produced at (default: -version)")
	mode := flag.String("mode", "both", "both, produce or consume")
	n := flag.Int("n", 1000, "messages to produce and/or consume")
	codec := flag.String("codec", "none", "compression: none, gzip, snappy, lz4")
	fetchBytes := flag.Int("fetch-bytes", 0, "Consumer.Fetch.Default (0: sarama's default)")
	timeout := flag.Duration("timeout", 120*time.Second, "bound on the whole run")
	tsBase := flag.Int64("ts-base", time.Now().Add(-time.Hour).UnixNano()/int64(time.Millisecond),
		"timestamp of message 0 in ms since the epoch (message i: +i ms); give the same to produce and consume")
	verbose := flag.Bool("verbose", false, "sarama's log on stderr")
	flag.Parse()
	usage := func(format string, args ...interface{}) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		os.Exit(2)
	}
	if *n < 2 || *n > 9999999 {
		usage("-n must be in 2..9999999")
	}
	doProduce := *mode == "both" || *mode == "produce"
	doConsume := *mode == "both" || *mode == "consume"
	if !doProduce && !doConsume {
		usage("-mode: unknown %q", *mode)
	}

	cfg := sarama.NewConfig()
	cfg.ClientID = "sarama-roundtrip"
	v, err := parseVersion(*versionFlag)
	if err != nil {
		usage("-version: %v", err)
	}
	cfg.Version = v
	produced := v
	if *producedFlag != "" {
		if produced, err = parseVersion(*producedFlag); err != nil {
			usage("-produced-version: %v", err)
		}
	}
	switch *codec {
	case "none":
		cfg.Producer.Compression = sarama.CompressionNone
	case "gzip":
		cfg.Producer.Compression = sarama.CompressionGZIP
	case "snappy":
		cfg.Producer.Compression = sarama.CompressionSnappy
	case "lz4":
		cfg.Producer.Compression = sarama.CompressionLZ4
	default:
		usage("-codec: unknown %q", *codec)
	}
	if *fetchBytes > 0 {
		cfg.Consumer.Fetch.Default = int32(*fetchBytes)
	}
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Retry.Backoff = 200 * time.Millisecond
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	if err := cfg.Validate(); err != nil {
		usage("config: %v", err)
	}
	if *verbose {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Ltime|log.Lmicroseconds)
	}
	checkTimestamps := cfg.Version.IsAtLeast(sarama.V0_10_0_0) && produced.IsAtLeast(sarama.V0_10_0_0)
	checkHeaders := cfg.Version.IsAtLeast(sarama.V0_11_0_0) && produced.IsAtLeast(sarama.V0_11_0_0)

	// The whole run is bounded: a watchdog ends the process.
	start := time.Now()
	deadline := start.Add(*timeout)
	watchdog := time.AfterFunc(*timeout, func() {
		fmt.Fprintf(os.Stderr, "FAIL: timed out after %v\n", *timeout)
		os.Exit(1)
	})
	defer watchdog.Stop()

	fmt.Printf("sarama_roundtrip: mode %s, version %s (%s), topic %s, %d messages, codec %s\n",
		*mode, *versionFlag, cfg.Version, *topic, *n, *codec)

	client, err := sarama.NewClient(strings.Split(*brokers, ","), cfg)
	if err != nil {
		fatalf("NewClient: %v", err)
	}
	defer client.Close()

	// Millisecond timestamps from -ts-base on, distinct per message: what a
	// v1 message or a record batch carries exactly.
	base := time.Unix(0, *tsBase*int64(time.Millisecond))
	msgs := make([]*sent, *n)
	for i := range msgs {
		msgs[i] = &sent{
			key:    keyOf(i),
			value:  valueOf(i),
			ts:     base.Add(time.Duration(i) * time.Millisecond),
			header: []byte(fmt.Sprintf("h%d", i)),
		}
	}

	if doProduce {
		produce(client, cfg, *topic, msgs, deadline)
	}
	if doConsume {
		consume(client, *topic, msgs, doProduce, checkTimestamps, checkHeaders, deadline)
	}
	if len(failures) > 0 {
		fmt.Fprintf(os.Stderr, "sarama_roundtrip: %d failure(s)\n", len(failures))
		os.Exit(1)
	}
	fmt.Printf("OK: %s of %d messages in %v\n", *mode, *n, time.Since(start).Round(time.Millisecond))
}

func produce(client sarama.Client, cfg *sarama.Config, topic string, msgs []*sent, deadline time.Time) {
	n := len(msgs)
	withHeaders := cfg.Version.IsAtLeast(sarama.V0_11_0_0)
	producerMessage := func(i int) *sarama.ProducerMessage {
		m := &sarama.ProducerMessage{
			Topic:     topic,
			Key:       sarama.ByteEncoder(msgs[i].key),
			Value:     sarama.ByteEncoder(msgs[i].value),
			Timestamp: msgs[i].ts,
			Metadata:  i,
		}
		if withHeaders {
			m.Headers = []sarama.RecordHeader{{Key: []byte("i"), Value: msgs[i].header}}
		}
		return m
	}
	ack := func(m *sarama.ProducerMessage) {
		i := m.Metadata.(int)
		if msgs[i].acked {
			failf("message %d acknowledged twice", i)
		}
		msgs[i].partition, msgs[i].offset, msgs[i].acked = m.Partition, m.Offset, true
	}

	// 1. SyncProducer: ten single messages, then batches of up to 100.
	half := n / 2
	sp, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		fatalf("NewSyncProducer: %v", err)
	}
	single := 10
	if single > half {
		single = half
	}
	for i := 0; i < single; i++ {
		m := producerMessage(i)
		if _, _, err := sp.SendMessage(m); err != nil {
			fatalf("SendMessage %d: %v", i, err)
		}
		ack(m)
	}
	for i := single; i < half; {
		j := i + 100
		if j > half {
			j = half
		}
		batch := make([]*sarama.ProducerMessage, 0, j-i)
		for k := i; k < j; k++ {
			batch = append(batch, producerMessage(k))
		}
		if err := sp.SendMessages(batch); err != nil {
			if pe, ok := err.(sarama.ProducerErrors); ok && len(pe) > 0 {
				fatalf("SendMessages %d..%d: %d failed, first: %v", i, j-1, len(pe), pe[0].Err)
			}
			fatalf("SendMessages %d..%d: %v", i, j-1, err)
		}
		for _, m := range batch {
			ack(m)
		}
		i = j
	}
	if err := sp.Close(); err != nil {
		fatalf("SyncProducer.Close: %v", err)
	}
	fmt.Printf("sync producer: %d messages acknowledged\n", half)

	// 2. AsyncProducer: the rest, all in flight at once.
	ap, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		fatalf("NewAsyncProducer: %v", err)
	}
	go func() {
		for i := half; i < n; i++ {
			ap.Input() <- producerMessage(i)
		}
	}()
	for got := 0; got < n-half; got++ {
		select {
		case m := <-ap.Successes():
			ack(m)
		case pe := <-ap.Errors():
			fatalf("async produce of message %v: %v", pe.Msg.Metadata, pe.Err)
		case <-time.After(time.Until(deadline)):
			fatalf("async producer: %d of %d acknowledged before the deadline", got, n-half)
		}
	}
	if err := ap.Close(); err != nil {
		fatalf("AsyncProducer.Close: %v", err)
	}
	fmt.Printf("async producer: %d messages acknowledged\n", n-half)

	// What the acknowledgements say: per partition, offsets follow the produce
	// order, and one key always went to one partition.
	last := map[int32]int{} // partition -> index of the last message acknowledged there
	keyPartition := map[string]int32{}
	for i, s := range msgs {
		if !s.acked {
			fatalf("message %d was never acknowledged", i)
		}
		if p, ok := keyPartition[string(s.key)]; ok && p != s.partition {
			failf("key %s went to partitions %d and %d", s.key, p, s.partition)
		}
		keyPartition[string(s.key)] = s.partition
		if j, ok := last[s.partition]; ok && s.offset <= msgs[j].offset {
			failf("partition %d: message %d acknowledged at offset %d, after message %d at offset %d",
				s.partition, i, s.offset, j, msgs[j].offset)
		}
		last[s.partition] = i
	}
}

func consume(client sarama.Client, topic string, msgs []*sent, produced, checkTimestamps, checkHeaders bool,
	deadline time.Time) {
	if err := client.RefreshMetadata(topic); err != nil {
		fatalf("RefreshMetadata(%s): %v", topic, err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		fatalf("Partitions(%s): %v", topic, err)
	}
	sort.Slice(parts, func(a, b int) bool { return parts[a] < parts[b] })
	if produced {
		for i, s := range msgs {
			found := false
			for _, q := range parts {
				found = found || q == s.partition
			}
			if !found {
				fatalf("message %d acknowledged in partition %d, not in the metadata %v", i, s.partition, parts)
			}
		}
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		fatalf("NewConsumer: %v", err)
	}
	defer consumer.Close()
	consumed := 0
	for _, p := range parts {
		oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			fatalf("GetOffset(%d, oldest): %v", p, err)
		}
		newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			fatalf("GetOffset(%d, newest): %v", p, err)
		}
		if oldest != 0 {
			failf("partition %d: oldest offset %d, want 0", p, oldest)
		}
		if newest < oldest || newest-oldest > int64(len(msgs)) {
			fatalf("partition %d: offsets %d..%d for %d messages in all", p, oldest, newest, len(msgs))
		}
		if newest == oldest {
			fmt.Printf("partition %d: empty\n", p)
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			fatalf("ConsumePartition(%d): %v", p, err)
		}
		prev := -1
		for want := oldest; want < newest; want++ {
			var m *sarama.ConsumerMessage
			select {
			case m = <-pc.Messages():
			case ce := <-pc.Errors():
				fatalf("partition %d: consumer error at offset %d: %v", p, want, ce.Err)
			case <-time.After(time.Until(deadline)):
				fatalf("partition %d: consumed up to offset %d of %d..%d before the deadline", p, want, oldest, newest)
			}
			if m.Partition != p || m.Offset != want {
				failf("partition %d: got partition %d offset %d, want offset %d", p, m.Partition, m.Offset, want)
				want = m.Offset
			}
			i := indexOf(m.Value)
			if i < 0 || i >= len(msgs) {
				failf("partition %d offset %d: value of %d bytes is none of the %d messages (starts %q)",
					p, m.Offset, len(m.Value), len(msgs), m.Value[:min(len(m.Value), 16)])
				continue
			}
			s := msgs[i]
			switch {
			case s.consumed:
				failf("partition %d offset %d: message %d read a second time", p, m.Offset, i)
			case i <= prev:
				failf("partition %d offset %d: message %d after message %d (produce order)", p, m.Offset, i, prev)
			case produced && (s.partition != p || s.offset != m.Offset):
				failf("message %d acknowledged at partition %d offset %d, read at partition %d offset %d",
					i, s.partition, s.offset, p, m.Offset)
			case !bytes.Equal(m.Key, s.key):
				failf("partition %d offset %d: key %q, want %q", p, m.Offset, m.Key, s.key)
			case !bytes.Equal(m.Value, s.value):
				failf("partition %d offset %d: value of %d bytes differs from the %d bytes of message %d",
					p, m.Offset, len(m.Value), len(s.value), i)
			case checkTimestamps && !m.Timestamp.Equal(s.ts):
				failf("partition %d offset %d: timestamp %v, want %v", p, m.Offset, m.Timestamp, s.ts)
			case checkHeaders && (len(m.Headers) != 1 || string(m.Headers[0].Key) != "i" ||
				!bytes.Equal(m.Headers[0].Value, s.header)):
				failf("partition %d offset %d: headers %s, want [i=%s]", p, m.Offset, headerText(m.Headers), s.header)
			}
			s.consumed = true
			prev = i
			consumed++
		}
		// Nothing past the newest offset.
		select {
		case m := <-pc.Messages():
			failf("partition %d: unexpected message at offset %d (newest offset %d)", p, m.Offset, newest)
		case ce := <-pc.Errors():
			failf("partition %d: consumer error at the end: %v", p, ce.Err)
		case <-time.After(300 * time.Millisecond):
		}
		if hwm := pc.HighWaterMarkOffset(); hwm != newest {
			failf("partition %d: high watermark %d, newest offset %d", p, hwm, newest)
		}
		if err := pc.Close(); err != nil {
			failf("partition %d: PartitionConsumer.Close: %v", p, err)
		}
		fmt.Printf("partition %d: %d messages consumed and checked\n", p, newest-oldest)
	}
	for i, s := range msgs {
		if !s.consumed {
			failf("message %d was not consumed (%d of %d were)", i, consumed, len(msgs))
			break
		}
	}
}

func headerText(hs []*sarama.RecordHeader) string {
	parts := make([]string, 0, len(hs))
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("%s=%s", h.Key, h.Value))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
