package io.cmtstream.reliability;

import io.cmtstream.app.StartupChecks;
import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Evidence;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.testing.AnswerLog;
import org.apache.flink.api.common.JobID;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Kafka settings an expert expects: the sources read only committed records, the sinks' transaction timeout
 * is checked against the broker's maximum at start, and a broker restart while records stream costs no answer and
 * duplicates none (counted to the answers topic's end offsets with a read_committed consumer).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KafkaSettingsITCase {
    private ReliabilityCluster cluster;

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.startWithRestartableBroker(1, 2,
                "documents-restart", "queries-restart", "answers-restart", "dead-letters-restart");
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(cluster);
    }

    @Test
    void aDocumentOrQueryOfAnAbortedUpstreamTransactionIsNeverSeen() throws Exception {
        JobID job = cluster.submit(Map.of(), 2, null);
        String t = "upstream";
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, cluster.kafka.bootstrapServers());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "upstream-" + UUID.randomUUID());
        try (KafkaProducer<byte[], byte[]> upstream =
                     new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            upstream.initTransactions();
            upstream.beginTransaction();
            upstream.send(record("documents", t + "/aborted", AvroBytes.encode(
                    document(t, "aborted", "The lighthouse keeper lit the lamp every evening at dusk."))));
            upstream.send(record("queries", t + "/q-aborted", AvroBytes.encode(
                    query(t, "q-aborted", "Who lit the lamp?", 10))));
            upstream.flush();
            upstream.abortTransaction();
            upstream.beginTransaction();
            upstream.send(record("documents", t + "/committed", AvroBytes.encode(
                    document(t, "committed", "A violin has four strings tuned in perfect fifths."))));
            upstream.commitTransaction();
        }
        // The aborted records are in the log: a read_uncommitted consumer, Kafka's default, would hand them over.
        assertTrue(uncommittedKeys("documents", t + "/aborted").contains(t + "/aborted"));

        cluster.publish(query(t, "q-bank", "Who lit the lamp?", 10));
        try (AnswerLog answers = cluster.answers()) {
            Answer bank = answers.await(t, "q-bank");
            answers.drain(Duration.ofSeconds(1));
            Set<String> ids = bank.getEvidence().stream().map(Evidence::getDocId)
                    .collect(Collectors.toCollection(TreeSet::new));
            assertEquals(Set.of("committed"), ids, "the aborted document is no memory");
            assertFalse(answers.byQuery.containsKey(AnswerLog.key(t, "q-aborted")),
                    "the aborted query is not answered");
        }
        cluster.flink.cancelJob(job).get(30, TimeUnit.SECONDS);
        cluster.await("job cancelled", () -> cluster.status(job).isGloballyTerminalState());
        System.out.println("KAFKA: an aborted upstream transaction's document and query were never seen; the "
                + "committed document is the bank");
    }

    @Test
    void aTransactionTimeoutAboveTheBrokersMaximumFailsAtStartNamingBothSettings() {
        // The broker's default transaction.max.timeout.ms is 15 min, the job's default timeout the same.
        StartupChecks.kafkaTransactionsFit(cluster.jobConfiguration(Map.of()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                StartupChecks.kafkaTransactionsFit(cluster.jobConfiguration(
                        Map.of("cmt.kafka.properties.transaction.timeout.ms", "900001"))));
        assertTrue(e.getMessage().startsWith("the sinks' transaction timeout "
                + "'cmt.kafka.properties.transaction.timeout.ms' (900001 ms) is above the brokers' "
                + "'transaction.max.timeout.ms' (900000 ms)"), e.getMessage());
        // At-least-once sinks open no transactions: nothing to check.
        StartupChecks.kafkaTransactionsFit(cluster.jobConfiguration(Map.of(
                "cmt.kafka.properties.transaction.timeout.ms", "900001", "cmt.delivery.guarantee", "AT_LEAST_ONCE")));
        System.out.println("KAFKA: start-up check: " + e.getMessage());
    }

    @Test
    void aBrokerRestartWhileRecordsStreamLosesAndDuplicatesNoAnswer() throws Exception {
        long started = System.nanoTime();
        Map<String, String> topics = Map.of("cmt.kafka.topic.documents", "documents-restart",
                "cmt.kafka.topic.queries", "queries-restart", "cmt.kafka.topic.answers", "answers-restart",
                "cmt.kafka.topic.dead-letters", "dead-letters-restart", "cmt.kafka.group-id", "restart");
        JobID job = cluster.submit(topics, 2, null);
        String t = "restart";
        int documents = 40;
        List<String> queries = new ArrayList<>();
        for (int i = 0; i < documents; i += 2) {
            queries.add("q" + i);
        }
        // The producer blocks and retries while the broker is down (its delivery timeout is 2 min).
        CompletableFuture<Void> publishing = CompletableFuture.runAsync(() -> {
            for (int i = 0; i < documents; i++) {
                cluster.send("documents-restart", null, t + "/d" + i, AvroBytes.encode(
                        document(t, "d" + i, "Document " + i + ": the lighthouse keeper lit lamp number " + i + ".")));
                if (i % 2 == 0) {
                    cluster.send("queries-restart", null, t + "/q" + i, AvroBytes.encode(
                            query(t, "q" + i, "Who lit lamp number " + i + "?", 3)));
                }
                ReliabilityCluster.sleep(150);
            }
        });
        ReliabilityCluster.sleep(2_000);
        cluster.kafka.stopBroker();
        long down = System.nanoTime();
        ReliabilityCluster.sleep(5_000);
        cluster.kafka.startBroker();
        long downMillis = (System.nanoTime() - down) / 1_000_000;
        publishing.get(120, TimeUnit.SECONDS);

        List<String> keys = queries.stream().map(q -> AnswerLog.key(t, q)).toList();
        try (AnswerLog answers = cluster.answers("answers-restart")) {
            answers.await(keys);
        }
        int restored = (int) cluster.checkpoints(job).getCounts().getNumberOfRestoredCheckpoints();
        // Stopping with a savepoint commits the last transaction; then the topic's end is final.
        cluster.stopWithSavepoint(job);
        Map<String, Integer> perQuery = new TreeMap<>();
        AvroDecoder<Answer> decoder = new AvroDecoder<>(Answer.class);
        List<ConsumerRecord<byte[], byte[]>> all = cluster.readCommittedToTheEnd("answers-restart");
        for (ConsumerRecord<byte[], byte[]> r : all) {
            Answer a = decoder.decode(r.value());
            perQuery.merge(a.getQueryId(), 1, Integer::sum);
        }
        assertEquals(new TreeSet<>(queries), perQuery.keySet(), "every query answered, no other answers");
        perQuery.forEach((q, n) -> assertEquals(1, n, "committed answers to " + q));
        assertEquals(0, cluster.readCommittedToTheEnd("dead-letters-restart").size(), "no dead letters");
        System.out.printf("KAFKA: broker down %d ms while %d documents and %d queries streamed; committed answers "
                        + "%d (to the end offsets, read_committed), lost 0, duplicated 0; checkpoints restored by "
                        + "the job %d (%d s)%n", downMillis, documents, queries.size(), all.size(), restored,
                (System.nanoTime() - started) / 1_000_000_000);
    }

    private static ProducerRecord<byte[], byte[]> record(String topic, String key, byte[] value) {
        return new ProducerRecord<>(topic, key.getBytes(StandardCharsets.UTF_8), value);
    }

    /** Keys of {@code topic} as a read_uncommitted consumer sees them, until {@code wanted} is among them. */
    private Set<String> uncommittedKeys(String topic, String wanted) {
        Properties c = new Properties();
        c.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, cluster.kafka.bootstrapServers());
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        Set<String> keys = new TreeSet<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int p = 0; p < ReliabilityCluster.PARTITIONS; p++) {
                partitions.add(new TopicPartition(topic, p));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + ReliabilityCluster.TIMEOUT.toNanos();
            while (System.nanoTime() < deadline && !keys.contains(wanted)) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> keys.add(new String(r.key(), StandardCharsets.UTF_8)));
            }
        }
        return keys;
    }
}
