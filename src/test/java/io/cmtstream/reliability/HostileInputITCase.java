package io.cmtstream.reliability;

import io.cmtstream.app.CmtStreamOptions;
import io.cmtstream.avro.Answer;
import io.cmtstream.avro.DeadLetter;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;
import io.cmtstream.avro.Evidence;
import io.cmtstream.avro.Query;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.ingest.DocumentValidator;
import io.cmtstream.ingest.HostileRecords;
import io.cmtstream.ingest.HostileRecords.Hostile;
import io.cmtstream.ingest.HostileRecords.Kind;
import io.cmtstream.ingest.IngestDeserializer;
import io.cmtstream.ingest.IngestLimits;
import io.cmtstream.ingest.Ingested;
import io.cmtstream.ingest.InvalidRecordException;
import io.cmtstream.ingest.QueryValidator;
import io.cmtstream.testing.AnswerLog;
import io.cmtstream.testing.TestRecords;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.runtime.executiongraph.AccessExecutionVertex;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * No byte string stops the job: a seeded stream of generated records ({@link HostileRecords}: valid ones, random
 * bytes, truncated and bit-flipped records, length and count prefixes around Avro's limits, negative blocks, bad
 * union indexes, runs of union bytes, other schemas) on both topics, through the running job. Every record is
 * accounted for against the topics' end offsets: a dead letter (with the reason the ingest code gives it, so
 * reasons are stable), a stored document (the tenant's whole bank is asked for at the end), a delete, or exactly
 * one answer; no task was ever restarted; the heap's peak stays far below what one hostile prefix would allocate.
 *
 * <p>{@code -Dcmt.fuzz.seed} (default 17) and {@code -Dcmt.fuzz.records} (default 1,000) choose the run.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputITCase {
    private static final long SEED = Long.getLong("cmt.fuzz.seed", 17);
    private static final int RECORDS = Integer.getInteger("cmt.fuzz.records", 1000);
    private static final int MAX_TOP_K = 256;
    /**
     * A valid record whose event time a bit flip moved past this is drawn again: a query asked in the future is
     * held until the documents' watermark reaches it, which a test cannot wait for (and a document from the
     * future would move that watermark past the bank queries). Fixed, so a seed gives the same records.
     */
    private static final long LATEST_EVENT_TIME = HostileRecords.BASE_MILLIS + Duration.ofDays(365).toMillis();
    /** One 2^31-byte allocation, which a single hostile prefix made before the precheck. */
    private static final long HEAP_BOUND = 1L << 31;

    private ReliabilityCluster cluster;
    private JobID job;

    /** A record as sent, with where the broker put it and what the ingest code decides for it. */
    private record Sent(Hostile hostile, RecordMetadata at, Ingested<?> expected) {}

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.start(1, 2);
        job = cluster.submit(Map.of("cmt.query.max-top-k", String.valueOf(MAX_TOP_K)), 2, null);
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(cluster);
    }

    @Test
    void everyGeneratedRecordBecomesOneOutcomeAndTheJobNeverRestarts() throws Exception {
        long started = System.nanoTime();
        long startedAt = System.currentTimeMillis();
        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP).toList();
        heap.forEach(MemoryPoolMXBean::resetPeakUsage);

        // The ingest code's own decision is the oracle for which records are valid and the reason of the rest;
        // the job must reach the same decision for every record, and act on it exactly once.
        IngestLimits limits = new IngestLimits(CmtStreamOptions.MAX_DOCUMENT_CHARS.defaultValue(),
                CmtStreamOptions.MAX_QUESTION_CHARS.defaultValue(), MAX_TOP_K);
        IngestDeserializer<Document> documents = new IngestDeserializer<>(Document.class,
                new DocumentValidator(limits), d -> d.getPublishedAt().toEpochMilli(),
                TypeInformation.of(new TypeHint<Ingested<Document>>() {}));
        IngestDeserializer<Query> queries = new IngestDeserializer<>(Query.class, new QueryValidator(limits),
                q -> q.getAskedAt().toEpochMilli(), TypeInformation.of(new TypeHint<Ingested<Query>>() {}));

        HostileRecords gen = new HostileRecords(SEED, Math.max(3, RECORDS / 100));
        List<Sent> sent = new ArrayList<>();
        Set<String> documentKeys = new HashSet<>();
        Set<String> answerKeys = new TreeSet<>();
        Map<String, Set<String>> bank = new TreeMap<>();
        int deletes = 0;
        int redrawn = 0;
        while (sent.size() < RECORDS) {
            Hostile h = gen.next();
            Ingested<?> expected = h.forDocuments()
                    ? documents.ingest(h.topic(), 0, 0, null, h.value())
                    : queries.ingest(h.topic(), 0, 0, null, h.value());
            if (expected.isValid()) {
                // Valid records need unique keys (a repeated query id replaces the pending one; the order of two
                // records of one document id on two partitions is undefined), past event times, banks that fit.
                if (expected.value instanceof Document d) {
                    String key = d.getTenant() + "/" + d.getId();
                    boolean upsert = d.getOp() == DocumentOp.UPSERT;
                    if (expected.eventTime > LATEST_EVENT_TIME || documentKeys.contains(key)
                            || (upsert && bank.getOrDefault(d.getTenant(), Set.of()).size() >= MAX_TOP_K)) {
                        redrawn++;
                        continue;
                    }
                    documentKeys.add(key);
                    if (upsert) {
                        bank.computeIfAbsent(d.getTenant(), t -> new TreeSet<>()).add(d.getId());
                    } else {
                        deletes++;
                    }
                } else {
                    Query q = (Query) expected.value;
                    String key = AnswerLog.key(q.getTenant(), q.getId());
                    if (expected.eventTime > LATEST_EVENT_TIME || q.getId().equals("bank") || !answerKeys.add(key)) {
                        redrawn++;
                        continue;
                    }
                }
            }
            sent.add(new Sent(h, cluster.send(h.topic(), null, "fuzz/" + sent.size(), h.value()), expected));
        }
        // Asked now, after every document: each tenant's whole bank, which must hold exactly its stored documents.
        for (String tenant : bank.keySet()) {
            cluster.publish(query(tenant, "bank", "lighthouse", MAX_TOP_K));
            answerKeys.add(AnswerLog.key(tenant, "bank"));
        }
        long sentDocuments = sent.stream().filter(s -> s.hostile.forDocuments()).count();
        long sentQueries = sent.size() - sentDocuments;
        assertEquals(sentDocuments, endOffsets("documents"), "documents topic holds every record sent");
        assertEquals(sentQueries + bank.size(), endOffsets("queries"), "queries topic holds every record sent");

        // About 20 ms of model time per record on an idle 2-core machine; room for one shared with other work.
        Duration patience = ReliabilityCluster.TIMEOUT.plusMillis(100L * RECORDS);
        try (AnswerLog answers = cluster.answers()) {
            long deadline = System.nanoTime() + patience.toNanos();
            while (!answers.byQuery.keySet().containsAll(answerKeys) && System.nanoTime() < deadline) {
                answers.poll(Duration.ofMillis(200));
            }
            answers.drain(Duration.ofSeconds(3));
            Set<String> missing = new TreeSet<>(answerKeys);
            missing.removeAll(answers.byQuery.keySet());
            assertEquals(Set.of(), missing, () -> "valid queries without an answer (" + missing.size() + " of "
                    + answerKeys.size() + "); dead letters among them: " + deadLettersOf(missing) + "; answered only "
                    + "in transactions never committed: " + uncommittedAnswersOf(missing) + "; " + pipeline());
            assertEquals(answerKeys, answers.byQuery.keySet(), "answers to exactly the valid queries");
            answers.byQuery.forEach((k, list) -> assertEquals(1, list.size(), "answers to " + k));
            for (Map.Entry<String, Set<String>> tenant : bank.entrySet()) {
                Answer a = answers.byQuery.get(AnswerLog.key(tenant.getKey(), "bank")).get(0);
                assertEquals(tenant.getValue(), a.getEvidence().stream().map(Evidence::getDocId)
                        .collect(Collectors.toCollection(TreeSet::new)), "bank of tenant " + tenant.getKey());
            }
        }

        List<Sent> refused = sent.stream().filter(s -> !s.expected.isValid()).toList();
        List<ConsumerRecord<byte[], byte[]>> records = cluster.readDeadLetters(refused.size(), Duration.ofSeconds(3));
        // Kafka's time of an answer or dead letter is when it was written, not its record's event time (2023 here):
        // time-based retention counts from it, and deleted the first answers of slow runs before they were read.
        for (ConsumerRecord<byte[], byte[]> r : cluster.readCommittedToTheEnd("answers")) {
            assertTrue(r.timestamp() >= startedAt, "Kafka timestamp of the answer at " + r.offset() + ": "
                    + r.timestamp());
        }
        for (ConsumerRecord<byte[], byte[]> r : records) {
            assertTrue(r.timestamp() >= startedAt, "Kafka timestamp of the dead letter at " + r.offset() + ": "
                    + r.timestamp());
        }
        Map<String, DeadLetter> letters = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            DeadLetter d = TestRecords.decodeDeadLetter(r.value());
            DeadLetter twin = letters.put(d.getTopic() + "/" + d.getPartition() + "/" + d.getOffset(), d);
            assertEquals(null, twin, "two dead letters for one record: " + d);
        }
        assertEquals(refused.size(), letters.size(), "dead letters: one per refused record");
        Map<String, Integer> byCode = new TreeMap<>();
        Map<Kind, int[]> byKind = new EnumMap<>(Kind.class);
        for (Sent s : sent) {
            byKind.computeIfAbsent(s.hostile.kind(), k -> new int[2])[s.expected.isValid() ? 0 : 1]++;
            if (s.expected.isValid()) {
                continue;
            }
            DeadLetter d = letters.get(s.at.topic() + "/" + s.at.partition() + "/" + s.at.offset());
            String what = s.hostile.kind() + " at " + s.at;
            assertTrue(d != null, "no dead letter for " + what);
            assertEquals(s.expected.deadLetter.getReason(), d.getReason(), what);
            assertArrayEquals(s.hostile.value(), bytes(d.getPayload()), what + ": raw bytes");
            byCode.merge(d.getReason().substring(0, d.getReason().indexOf(':')), 1, Integer::sum);
        }

        assertEquals(JobStatus.RUNNING, cluster.status(job));
        var graph = cluster.flink.getExecutionGraph(job).get(10, TimeUnit.SECONDS);
        for (AccessExecutionVertex v : graph.getAllExecutionVertices()) {
            // A restart of any kind (whole job or a region) starts new attempts of the tasks it touches.
            assertEquals(0, v.getCurrentExecutionAttempt().getAttemptNumber(), v.getTaskNameWithSubtaskIndex());
        }
        assertEquals(0, cluster.checkpoints(job).getCounts().getNumberOfRestoredCheckpoints());
        long heapPeak = heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
        assertTrue(heapPeak < HEAP_BOUND, "heap peak " + heapPeak);

        long stored = bank.values().stream().mapToLong(Set::size).sum();
        StringBuilder kinds = new StringBuilder();
        byKind.forEach((k, n) -> kinds.append(' ').append(k).append('=').append(n[0]).append('/').append(n[1]));
        System.out.printf("FUZZ seed %d: %d records (%d redrawn), documents %d (stored %d in %d tenants, deletes %d, "
                        + "dead letters %d), queries %d (answered %d, dead letters %d) + %d bank queries answered; "
                        + "valid/refused by kind:%s; dead letters by code %s; task restarts 0; heap peak %d MiB; "
                        + "%d s%n", SEED, sent.size(), redrawn, sentDocuments, stored, bank.size(), deletes,
                refused.stream().filter(s -> s.hostile.forDocuments()).count(), sentQueries,
                answerKeys.size() - bank.size(), refused.stream().filter(s -> !s.hostile.forDocuments()).count(),
                bank.size(), kinds, byCode, heapPeak >> 20,
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started));
    }

    /** Records in {@code topic}: the sum of its partitions' end offsets. */
    private long endOffsets(String topic) {
        try (KafkaConsumer<byte[], byte[]> c = cluster.consumer(topic)) {
            List<TopicPartition> partitions = c.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            return c.endOffsets(partitions).values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /**
     * Where answers might be held, for a failure message: answer records only a read_uncommitted consumer sees (an
     * open transaction), and the job's checkpoints (answers are committed when one completes).
     */
    private String pipeline() {
        try {
            var stats = cluster.checkpoints(job);
            var counts = stats.getCounts();
            var latest = stats.getHistory().getLatestCompletedCheckpoint();
            return "uncommitted answer records " + cluster.uncommittedRecords("answers") + "; checkpoints completed "
                    + counts.getNumberOfCompletedCheckpoints() + ", failed " + counts.getNumberOfFailedCheckpoints()
                    + ", in progress " + counts.getNumberOfInProgressCheckpoints() + ", latest completed "
                    + (latest == null ? "none" : (System.currentTimeMillis() - latest.getLatestAckTimestamp())
                    + " ms ago") + "; job " + cluster.status(job);
        } catch (Exception e) {
            return "pipeline state unavailable: " + e;
        }
    }

    /**
     * For a failure message: which of the given queries have an answer record on the topic that only a
     * read_uncommitted consumer sees (in a transaction that was aborted or is still open), to tell "never produced"
     * from "produced, never committed".
     */
    private Set<String> uncommittedAnswersOf(Set<String> queryKeys) {
        Set<String> out = new TreeSet<>();
        AvroDecoder<Answer> decoder = new AvroDecoder<>(Answer.class);
        try {
            for (ConsumerRecord<byte[], byte[]> r : cluster.readToTheEnd("answers", "read_uncommitted")) {
                try {
                    Answer a = decoder.decode(r.value());
                    String key = AnswerLog.key(a.getTenant(), a.getQueryId());
                    if (queryKeys.contains(key)) {
                        out.add(key);
                    }
                } catch (InvalidRecordException e) {
                    // not an answer: nothing to report for these queries
                }
            }
        } catch (RuntimeException | AssertionError e) {
            return Set.of("unavailable: " + e);
        }
        return out;
    }

    /** For a failure message: the dead letters (reason by tenant/queryId) of the given queries, if any. */
    private Map<String, String> deadLettersOf(Set<String> queryKeys) {
        Map<String, String> out = new TreeMap<>();
        AvroDecoder<Query> decoder = new AvroDecoder<>(Query.class);
        for (ConsumerRecord<byte[], byte[]> r : cluster.readCommittedToTheEnd("dead-letters")) {
            DeadLetter d = TestRecords.decodeDeadLetter(r.value());
            if (!d.getTopic().equals("queries") || d.getPayload() == null) {
                continue;
            }
            try {
                Query q = decoder.decode(bytes(d.getPayload()));
                String key = AnswerLog.key(q.getTenant(), q.getId());
                if (queryKeys.contains(key)) {
                    out.put(key, d.getReason());
                }
            } catch (InvalidRecordException e) {
                // not a query the job could read: not one of the valid ones
            }
        }
        return out;
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
