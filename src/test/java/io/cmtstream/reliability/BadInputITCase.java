package io.cmtstream.reliability;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.DeadLetter;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.Evidence;
import io.cmtstream.avro.Query;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.testing.AnswerLog;
import io.cmtstream.testing.TestRecords;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input never stops the job: a mixed stream of good and bad documents and queries, every bad record followed
 * by a good one. Both sides are counted: every good query is answered from exactly the good documents, and every
 * bad record becomes exactly one DeadLetter carrying its topic, partition, offset (as the broker acknowledged
 * them), a reason with the expected stable code, and its raw bytes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputITCase {
    private static final int MAX_DOCUMENT_CHARS = 2000;
    private static final int MAX_TOP_K = 50;

    private ReliabilityCluster cluster;
    private JobID job;

    /** A record that must become a dead letter: where the broker put it, its bytes, the reason codes allowed. */
    private record Bad(String name, RecordMetadata at, byte[] value, String codes) {}

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.start(1, 2);
        job = cluster.submit(Map.of(
                "cmt.ingest.max-document-chars", String.valueOf(MAX_DOCUMENT_CHARS),
                "cmt.query.max-top-k", String.valueOf(MAX_TOP_K)), 2, null);
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void mixedStreamDeadLettersEveryBadRecordAndAnswersEveryGoodOne() throws Exception {
        String tenant = "mixed";
        List<Bad> bad = new ArrayList<>();
        List<String> goodDocs = new ArrayList<>();
        List<String> goodQueries = new ArrayList<>();
        int[] next = {0};
        Runnable goodDocument = () -> {
            String id = "good-" + next[0];
            cluster.publish(document(tenant, id, "Good document number " + next[0] + " about lighthouses and tides."));
            goodDocs.add(id);
            next[0]++;
        };
        Runnable goodQuery = () -> {
            String id = "q-" + next[0]++;
            cluster.publish(query(tenant, id, "What about lighthouses?", 3));
            goodQueries.add(id);
        };

        // Documents topic.
        bad.add(badDocument("garbage bytes", "this is not avro \u0000\u0001\u00ff".getBytes(StandardCharsets.UTF_8),
                "MALFORMED_AVRO"));
        goodDocument.run();
        bad.add(badDocument("empty value", new byte[0], "MALFORMED_AVRO"));
        goodDocument.run();
        byte[] whole = AvroBytes.encode(document(tenant, "cut", "A document that will be cut in half."));
        bad.add(badDocument("truncated document", Arrays.copyOf(whole, whole.length / 2), "MALFORMED_AVRO"));
        goodDocument.run();
        bad.add(badDocument("a Query on the documents topic",
                AvroBytes.encode(query(tenant, "stray", "Is this a document?", null)), "MALFORMED_AVRO|WRONG_SCHEMA"));
        goodDocument.run();
        bad.add(badDocument("blank text", AvroBytes.encode(document(tenant, "blank", "  \n\t ")), "EMPTY_TEXT"));
        goodDocument.run();
        bad.add(badDocument("text over the limit",
                AvroBytes.encode(document(tenant, "huge", "x".repeat(MAX_DOCUMENT_CHARS + 1))), "TEXT_TOO_LONG"));
        goodDocument.run();
        bad.add(badDocument("missing tenant", AvroBytes.encode(document("", "no-tenant", "Orphan text.")),
                "MISSING_FIELD"));
        goodDocument.run();
        bad.add(badDocument("missing id", AvroBytes.encode(document(tenant, "", "Text without an id.")),
                "MISSING_FIELD"));
        goodDocument.run();
        bad.add(badDocument("malformed tenant", AvroBytes.encode(document("a/b", "slash", "Text.")), "BAD_TENANT"));
        goodDocument.run();
        bad.add(badDocument("text not UTF-8", notUtf8(document(tenant, "latin1", "Caf\u00e9 au lait, a drink.")),
                "INVALID_UTF8"));
        goodDocument.run();
        // Queries topic (asked after all good documents above, so each sees all of them).
        bad.add(badQuery("garbage bytes", "\u0002\u0004garbage".getBytes(StandardCharsets.UTF_8), "MALFORMED_AVRO"));
        goodQuery.run();
        bad.add(badQuery("topK 0", AvroBytes.encode(query(tenant, "k0", "What about lighthouses?", 0)), "BAD_TOP_K"));
        goodQuery.run();
        bad.add(badQuery("topK negative", AvroBytes.encode(query(tenant, "kneg", "What about tides?", -5)),
                "BAD_TOP_K"));
        goodQuery.run();
        bad.add(badQuery("topK absurd", AvroBytes.encode(query(tenant, "khuge", "What about tides?", 1_000_000)),
                "BAD_TOP_K"));
        goodQuery.run();
        bad.add(badQuery("empty question", AvroBytes.encode(query(tenant, "empty", "", null)), "EMPTY_TEXT"));
        goodQuery.run();
        bad.add(badQuery("missing tenant", AvroBytes.encode(query("", "orphan", "Whose question?", null)),
                "MISSING_FIELD"));
        goodQuery.run();
        bad.add(badQuery("a Document on the queries topic",
                AvroBytes.encode(document(tenant, "stray-doc", "Is this a query?")), "MALFORMED_AVRO|WRONG_SCHEMA"));
        goodQuery.run();
        bad.add(badQuery("question not UTF-8", notUtf8(query(tenant, "latin1-q", "Where is the caf\u00e9?", null)),
                "INVALID_UTF8"));
        goodQuery.run();
        // The whole bank, last: the good documents and nothing else.
        cluster.publish(query(tenant, "bank", "lighthouses", MAX_TOP_K));
        goodQueries.add("bank");

        try (AnswerLog answers = cluster.answers()) {
            Map<String, Answer> got = answers.await(goodQueries.stream()
                    .map(q -> AnswerLog.key(tenant, q)).toList());
            Set<String> bankIds = got.get(AnswerLog.key(tenant, "bank")).getEvidence().stream()
                    .map(Evidence::getDocId).collect(Collectors.toCollection(TreeSet::new));
            assertEquals(new TreeSet<>(goodDocs), bankIds, "the bank holds exactly the good documents");
            answers.drain(Duration.ofSeconds(2));
            assertEquals(goodQueries.size(), answers.byQuery.size(), "answers: one per good query, none for bad ones");
            answers.byQuery.forEach((k, list) -> assertEquals(1, list.size(), "answers to " + k));
        }

        List<ConsumerRecord<byte[], byte[]>> records = cluster.readDeadLetters(bad.size(), Duration.ofSeconds(3));
        List<DeadLetter> letters = records.stream().map(r -> TestRecords.decodeDeadLetter(r.value())).toList();
        assertEquals(bad.size(), letters.size(), "dead letters: one per bad record " + letters);
        Map<String, Integer> byReason = new TreeMap<>();
        for (Bad b : bad) {
            List<DeadLetter> mine = letters.stream()
                    .filter(d -> d.getTopic().equals(b.at.topic()) && d.getPartition() == b.at.partition()
                            && d.getOffset() == b.at.offset())
                    .toList();
            assertEquals(1, mine.size(), b.name + " at " + b.at + ": " + mine);
            DeadLetter d = mine.get(0);
            assertTrue(d.getReason().matches("(" + b.codes + "): .+"), b.name + ": reason '" + d.getReason() + "'");
            assertNotNull(d.getPayload(), b.name);
            assertArrayEquals(b.value, bytes(d.getPayload()), b.name + ": raw bytes");
            assertTrue(d.getFailedAt().toEpochMilli() > 0);
            byReason.merge(d.getReason().substring(0, d.getReason().indexOf(':')), 1, Integer::sum);
        }
        assertEquals(JobStatus.RUNNING, cluster.status(job));
        assertEquals(0, cluster.checkpoints(job).getCounts().getNumberOfRestoredCheckpoints(),
                "bad input must not have failed the job");
        System.out.printf("BAD INPUT: good documents %d, good queries %d answered %d; bad records %d, dead letters %d "
                + "by reason %s; job restarts 0%n", goodDocs.size(), goodQueries.size(), goodQueries.size(),
                bad.size(), letters.size(), byReason);
    }

    private Bad badDocument(String name, byte[] value, String codes) {
        return new Bad(name, cluster.send("documents", null, "bad/" + name, value), value, codes);
    }

    private Bad badQuery(String name, byte[] value, String codes) {
        return new Bad(name, cluster.send("queries", null, "bad/" + name, value), value, codes);
    }

    /** The record's Avro bytes with the UTF-8 'é' (c3 a9) replaced by bytes that are not UTF-8 (ff 80). */
    private static byte[] notUtf8(Object record) {
        byte[] out = record instanceof Document d ? AvroBytes.encode(d) : AvroBytes.encode((Query) record);
        for (int i = 0; i + 1 < out.length; i++) {
            if (out[i] == (byte) 0xc3 && out[i + 1] == (byte) 0xa9) {
                out[i] = (byte) 0xff;
                out[i + 1] = (byte) 0x80;
                return out;
            }
        }
        throw new AssertionError("no 'é' to spoil");
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
