package io.cmtstream.reliability;

import io.cmtstream.app.CmtStreamJob;
import io.cmtstream.app.EmbeddedCluster;
import io.cmtstream.app.EmbeddedKafka;
import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.Query;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.ingest.InvalidRecordException;
import io.cmtstream.testing.AnswerLog;
import io.cmtstream.testing.TestRecords;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.CheckpointStatsSnapshot;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The reliability tests' view of an {@link EmbeddedCluster} (the one harness of the demo, the evaluation and the
 * tests): its in-process Kafka broker (KRaft, 2 partitions per topic) and MiniCluster with a chosen number of task
 * managers, to which the job built by {@link CmtStreamJob} is submitted as a job graph (so task managers can be
 * killed and jobs stopped with a savepoint and restored); plus what the tests publish and read. One per test class.
 */
final class ReliabilityCluster implements AutoCloseable {
    /**
     * The retrieval-only model (real bge-small keys, no reader) unless {@code -Dcmt.test.model=DIR} names another:
     * what these tests count does not depend on the answer text.
     */
    static final Path MODEL = Path.of(System.getProperty("cmt.test.model", "src/test/resources/models/retrieval-only"));
    static final Duration TIMEOUT = Duration.ofSeconds(90);
    /** Partitions of every topic. */
    static final int PARTITIONS = EmbeddedCluster.Setup.defaults().partitions();

    final EmbeddedCluster cluster;
    final EmbeddedKafka kafka;
    /** Null for a broker alone ({@link #brokerOnly}). */
    final MiniCluster flink;
    final Path work;
    private final KafkaProducer<byte[], byte[]> producer;
    /** For {@link #uncommittedRecords}, which is polled in a tight loop; opened on first use. */
    private Admin offsetsAdmin;

    private ReliabilityCluster(EmbeddedCluster cluster) {
        this.cluster = cluster;
        this.kafka = cluster.kafka();
        this.flink = cluster.flink();
        this.work = cluster.work();
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /**
     * Starts the broker (the job's four default topics plus {@code extraTopics}) and a MiniCluster of
     * {@code taskManagers} x {@code slots}, restarting failed jobs with a fixed delay.
     */
    static ReliabilityCluster start(int taskManagers, int slots, String... extraTopics) throws Exception {
        return start(taskManagers, slots, Map.of(), extraTopics);
    }

    /** As {@link #start(int, int, String...)}, with {@code clusterSettings} added to the MiniCluster's configuration. */
    static ReliabilityCluster start(int taskManagers, int slots, Map<String, String> clusterSettings,
                                    String... extraTopics) throws Exception {
        return start(setup(taskManagers, slots, clusterSettings, extraTopics));
    }

    /**
     * As {@link #start(int, int, String...)}, on a broker that {@link EmbeddedKafka#stopBroker} and
     * {@link EmbeddedKafka#startBroker} restart on its port and log directories.
     */
    static ReliabilityCluster startWithRestartableBroker(int taskManagers, int slots, String... extraTopics)
            throws Exception {
        return start(setup(taskManagers, slots, Map.of(), extraTopics).withRestartableBroker());
    }

    /**
     * The broker alone (the job's four default topics plus {@code extraTopics}), for a test that runs Flink
     * elsewhere (separate processes: {@link ProcessCluster}); {@link #flink} is null.
     */
    static ReliabilityCluster brokerOnly(String... extraTopics) throws Exception {
        return start(EmbeddedCluster.Setup.defaults().withTopics(extraTopics).brokerOnly());
    }

    private static EmbeddedCluster.Setup setup(int taskManagers, int slots, Map<String, String> clusterSettings,
                                               String... extraTopics) {
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("restart-strategy.type", "fixed-delay");
        conf.put("restart-strategy.fixed-delay.attempts", "1000");
        conf.put("restart-strategy.fixed-delay.delay", "1 s");
        conf.putAll(clusterSettings);
        return EmbeddedCluster.Setup.defaults().withTopics(extraTopics).withTaskManagers(taskManagers, slots)
                .withClusterSettings(conf);
    }

    private static ReliabilityCluster start(EmbeddedCluster.Setup setup) throws Exception {
        EmbeddedCluster cluster = EmbeddedCluster.start(setup);
        try {
            return new ReliabilityCluster(cluster);
        } catch (Exception | Error e) {
            cluster.close();
            throw e;
        }
    }

    private static final String[] SUBJECTS = {"rivers", "mountains", "cities", "instruments", "planets"};

    /**
     * Entry {@code i} of a steady stream for {@code tenant}: a document on "documents" + {@code topicSuffix} and,
     * after every third, a query about it on "queries" + {@code topicSuffix}; then a 60 ms pause. Returns the
     * query's {@link AnswerLog#key}, or null where no query was sent.
     */
    String publishStreamEntry(String tenant, int i, String topicSuffix) {
        String subject = SUBJECTS[i % SUBJECTS.length];
        String docId = String.format("doc-%04d", i);
        send("documents" + topicSuffix, null, tenant + "/" + docId, AvroBytes.encode(TestRecords.document(tenant, docId,
                "Entry " + i + " of the archive is about " + subject + " and their names.")));
        String key = null;
        if (i % 3 == 2) {
            String queryId = "q" + i;
            send("queries" + topicSuffix, null, tenant + "/" + queryId,
                    AvroBytes.encode(TestRecords.query(tenant, queryId, "Which " + subject + " are named?", null)));
            key = AnswerLog.key(tenant, queryId);
        }
        sleep(60);
        return key;
    }

    /**
     * The job's configuration in these tests: this broker, earliest offsets, 1 s checkpoints, 3 shards, the test
     * model (see {@link EmbeddedCluster#jobConfiguration}); then {@code overrides}.
     */
    Configuration jobConfiguration(Map<String, String> overrides) {
        return cluster.jobConfiguration(settings(overrides));
    }

    private static Map<String, String> settings(Map<String, String> overrides) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("cmt.model.dir", MODEL.toString());
        s.put("cmt.memory.shards", "3");
        s.put("cmt.checkpoint.interval", "1 s");
        s.putAll(overrides);
        return s;
    }

    /** Builds the job with {@code overrides} and submits it at {@code parallelism}, from a savepoint if given. */
    JobID submit(Map<String, String> overrides, int parallelism, String savepoint) throws Exception {
        JobID id = cluster.submit(jobConfiguration(overrides), parallelism, savepoint);
        await("job " + id + " running", () -> status(id) == JobStatus.RUNNING);
        return id;
    }

    /** Submits without waiting for the job to run (it may fail at once). */
    JobID submitWithoutWaiting(Map<String, String> overrides, int parallelism) throws Exception {
        return cluster.submit(jobConfiguration(overrides), parallelism, null);
    }

    /** The job graph of the job with {@code overrides} at {@code parallelism}, as a client submits it. */
    JobGraph jobGraph(Map<String, String> overrides, int parallelism) {
        return cluster.jobGraph(jobConfiguration(overrides), parallelism, env -> null);
    }

    JobStatus status(JobID job) {
        return cluster.status(job);
    }

    CheckpointStatsSnapshot checkpoints(JobID job) throws Exception {
        return cluster.checkpoints(job);
    }

    /** Waits until {@code job} has completed {@code count} more checkpoints than it had when called. */
    void awaitCheckpoints(JobID job, int count) throws Exception {
        long target = checkpoints(job).getCounts().getNumberOfCompletedCheckpoints() + count;
        await(count + " checkpoints of " + job, () -> {
            try {
                return checkpoints(job).getCounts().getNumberOfCompletedCheckpoints() >= target;
            } catch (Exception e) {
                return false;
            }
        });
    }

    /** The state backend {@code job} runs on, as Flink names it (e.g. EmbeddedRocksDBStateBackend). */
    String stateBackend(JobID job) throws Exception {
        return flink.getExecutionGraph(job).get(10, TimeUnit.SECONDS).getStateBackendName().orElse("none");
    }

    /** The offsets consumer group {@code group} has committed on {@code topic}, by partition (none: empty). */
    Map<Integer, Long> committedOffsets(String group, String topic) {
        try (Admin admin = admin()) {
            Map<Integer, Long> out = new TreeMap<>();
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS)
                    .forEach((tp, om) -> {
                        if (tp.topic().equals(topic) && om != null) {
                            out.put(tp.partition(), om.offset());
                        }
                    });
            return out;
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the offsets of group " + group, e);
        }
    }

    /**
     * Waits until consumer group {@code group} has committed the end offset of every partition of {@code topic}.
     * The Kafka source commits at completed checkpoints, so then everything published to {@code topic} so far has
     * been read and is in the job's checkpointed state (a query asked now cannot race a document still in Kafka).
     */
    void awaitCommittedToTheEnd(String group, String topic) {
        Map<Integer, Long> end = new TreeMap<>();
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (int p = 0; p < PARTITIONS; p++) {
                latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
            }
            admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS)
                    .forEach((tp, info) -> end.put(tp.partition(), info.offset()));
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the end offsets of " + topic, e);
        }
        // A partition that never held a record gets no commit.
        await("group " + group + " committed " + topic + " up to " + end, () -> {
            Map<Integer, Long> committed = committedOffsets(group, topic);
            return end.entrySet().stream().allMatch(e -> e.getValue().equals(committed.getOrDefault(e.getKey(), 0L)));
        });
    }

    /** Commits {@code offsets} (partition to offset) on {@code topic} for {@code group}, a group no job runs in. */
    void commitOffsets(String group, String topic, Map<Integer, Long> offsets) {
        Map<TopicPartition, OffsetAndMetadata> commits = new HashMap<>();
        offsets.forEach((partition, offset) -> commits.put(new TopicPartition(topic, partition),
                new OffsetAndMetadata(offset)));
        try (Admin admin = admin()) {
            admin.alterConsumerGroupOffsets(group, commits).all().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot commit offsets for group " + group, e);
        }
    }

    private Admin admin() {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        return Admin.create(p);
    }

    /**
     * Records of {@code topic} that a read_uncommitted consumer sees and a read_committed one does not yet: the
     * distance from each partition's last stable offset to its end, summed. More than 0 means a transaction
     * holding records of {@code topic} is open.
     */
    long uncommittedRecords(String topic) {
        return endOffsets(topic, IsolationLevel.READ_UNCOMMITTED) - committedEnd(topic);
    }

    /** The last stable offsets of {@code topic} summed: how far a read_committed consumer can read. */
    long committedEnd(String topic) {
        return endOffsets(topic, IsolationLevel.READ_COMMITTED);
    }

    private long endOffsets(String topic, IsolationLevel isolation) {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) {
            latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        try {
            if (offsetsAdmin == null) {
                offsetsAdmin = admin();
            }
            long sum = 0;
            for (var info : offsetsAdmin.listOffsets(latest, new ListOffsetsOptions(isolation))
                    .all().get(30, TimeUnit.SECONDS).values()) {
                sum += info.offset();
            }
            return sum;
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the offsets of " + topic, e);
        }
    }

    /** Stops {@code job} with a savepoint (sources drained of nothing: offsets and state are in it); its path. */
    String stopWithSavepoint(JobID job) throws Exception {
        return stopWithSavepoint(job, SavepointFormatType.CANONICAL);
    }

    /** As {@link #stopWithSavepoint(JobID)}, in the given format (ForSt takes only NATIVE savepoints). */
    String stopWithSavepoint(JobID job, SavepointFormatType format) throws Exception {
        return cluster.stopWithSavepoint(job, format);
    }

    RecordMetadata send(String topic, Integer partition, String key, byte[] value) {
        try {
            return producer.send(new ProducerRecord<>(topic, partition,
                    key == null ? null : key.getBytes(StandardCharsets.UTF_8), value)).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot send to " + topic, e);
        }
    }

    RecordMetadata publish(Document d) {
        return send("documents", null, d.getTenant() + "/" + d.getId(), AvroBytes.encode(d));
    }

    RecordMetadata publish(Query q) {
        return send("queries", null, q.getTenant() + "/" + q.getId(), AvroBytes.encode(q));
    }

    AnswerLog answers() {
        return new AnswerLog(consumer("answers"));
    }

    AnswerLog answers(String topic) {
        return new AnswerLog(consumer(topic));
    }

    /** Reads dead letters until {@code count} arrived, then {@code quiet} more, to catch any extra. */
    List<ConsumerRecord<byte[], byte[]>> readDeadLetters(int count, Duration quiet) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = consumer("dead-letters")) {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (out.size() < count && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            long quietEnd = System.nanoTime() + quiet.toNanos();
            while (System.nanoTime() < quietEnd) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    /**
     * Every record of {@code topic} that a read_committed consumer sees up to the topic's end (its last stable
     * offsets, read first): call it once no transaction is open any more (after a stop with a savepoint).
     */
    List<ConsumerRecord<byte[], byte[]>> readCommittedToTheEnd(String topic) {
        return readToTheEnd(topic, "read_committed");
    }

    /** As {@link #readCommittedToTheEnd}, at {@code isolation} (read_uncommitted: aborted and open records too). */
    List<ConsumerRecord<byte[], byte[]>> readToTheEnd(String topic, String isolation) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = consumer(topic, isolation)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) {
                partitions.add(new TopicPartition(topic, p));
            }
            c.unsubscribe();
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (partitions.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("could not read " + topic + " to its end offsets " + end);
                }
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    /**
     * Committed answers on {@code topic}, read to its end offsets ({@link #readCommittedToTheEnd}), counted per
     * (tenant, queryId): exactly-once means every count is 1.
     */
    Map<String, Integer> committedAnswerCounts(String topic) {
        AvroDecoder<Answer> decoder = new AvroDecoder<>(Answer.class);
        Map<String, Integer> counts = new TreeMap<>();
        for (ConsumerRecord<byte[], byte[]> r : readCommittedToTheEnd(topic)) {
            try {
                Answer a = decoder.decode(r.value());
                counts.merge(AnswerLog.key(a.getTenant(), a.getQueryId()), 1, Integer::sum);
            } catch (InvalidRecordException e) {
                throw new AssertionError("not an Answer at " + topic + " offset " + r.offset(), e);
            }
        }
        return counts;
    }

    KafkaConsumer<byte[], byte[]> consumer(String topic) {
        return consumer(topic, "read_committed");
    }

    KafkaConsumer<byte[], byte[]> consumer(String topic, String isolation) {
        Properties c = new Properties();
        c.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "reliability-" + UUID.randomUUID());
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(List.of(topic));
        return consumer;
    }

    /** Thread.sleep for test pacing; an interrupt ends the test. */
    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Closes what a test class opened, in order, skipping what was never opened. */
    static void closeAll(AutoCloseable... resources) throws Exception {
        for (AutoCloseable r : resources) {
            if (r != null) {
                r.close();
            }
        }
    }

    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + TIMEOUT + " waiting for " + what);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what);
            }
        }
    }

    @Override
    public void close() throws Exception {
        try {
            producer.close(Duration.ofSeconds(5));
            if (offsetsAdmin != null) {
                offsetsAdmin.close(Duration.ofSeconds(5));
            }
        } finally {
            cluster.close();
        }
    }
}
