package io.cmtstream.reliability;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.Query;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.testing.AnswerLog;
import org.apache.flink.api.common.JobID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both delivery guarantees deliver every answer with its queryId; the test measures what each costs in latency
 * (askedAt to the answer being visible to a read_committed consumer) while documents keep streaming, one mode after
 * the other on the same broker and MiniCluster, each on its own topics. The figures are printed and written to
 * target/reliability/delivery-latency.txt.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DeliveryModesITCase {
    private static final int QUERIES = 30;
    private static final long QUERY_SPACING_MS = 200;
    private static final String CHECKPOINT_INTERVAL = "2 s";

    private ReliabilityCluster cluster;
    private final Map<String, long[]> latencies = new LinkedHashMap<>();

    @BeforeAll
    void start() throws Exception {
        List<String> topics = new ArrayList<>();
        for (String mode : List.of("EXACTLY_ONCE", "AT_LEAST_ONCE")) {
            for (String t : List.of("documents", "queries", "answers", "dead-letters")) {
                topics.add(t + "-" + mode);
            }
        }
        cluster = ReliabilityCluster.start(1, 2, topics.toArray(new String[0]));
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void bothGuaranteesAnswerEveryQueryAndAtLeastOnceIsFaster() throws Exception {
        long[] exactlyOnce = measure("EXACTLY_ONCE");
        long[] atLeastOnce = measure("AT_LEAST_ONCE");
        StringBuilder report = new StringBuilder("mode p50 p95 max (ms askedAt->visible, read_committed, checkpoint "
                + CHECKPOINT_INTERVAL + ", " + QUERIES + " queries, documents streaming)\n");
        latencies.forEach((mode, l) -> report.append(String.format("%s %d %d %d%n", mode,
                percentile(l, 50), percentile(l, 95), l[l.length - 1])));
        System.out.print("DELIVERY " + report);
        Path out = Path.of("target/reliability/delivery-latency.txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, report);
        assertTrue(percentile(atLeastOnce, 50) < percentile(exactlyOnce, 50),
                "at-least-once answers should be visible sooner: " + report);
    }

    /** Runs the job in {@code mode}, streams documents and spaced queries; the sorted latencies. */
    private long[] measure(String mode) throws Exception {
        Map<String, String> job = Map.of(
                "cmt.delivery.guarantee", mode,
                "cmt.delivery.transactional-id-prefix", "delivery-" + mode,
                "cmt.kafka.group-id", "delivery-" + mode,
                "cmt.kafka.topic.documents", "documents-" + mode,
                "cmt.kafka.topic.queries", "queries-" + mode,
                "cmt.kafka.topic.answers", "answers-" + mode,
                "cmt.kafka.topic.dead-letters", "dead-letters-" + mode,
                "cmt.checkpoint.interval", CHECKPOINT_INTERVAL);
        JobID id = cluster.submit(job, 2, null);
        String tenant = "delivery";
        AtomicBoolean streaming = new AtomicBoolean(true);
        // Documents keep flowing on both partitions, so watermarks follow event time, not the idle timeout.
        Thread documents = new Thread(() -> {
            int i = 0;
            while (streaming.get()) {
                Document d = document(tenant, "d" + (i % 40), "Streaming note " + i + " about ports and ships.");
                cluster.send("documents-" + mode, i % 2, tenant + "/" + d.getId(), AvroBytes.encode(d));
                i++;
                sleep(50);
            }
        }, "documents-" + mode);
        documents.start();
        try (AnswerLog answers = cluster.answers("answers-" + mode)) {
            ask(mode, tenant, "warmup");
            answers.await(tenant, "warmup");
            List<Query> asked = new ArrayList<>();
            for (int q = 0; q < QUERIES; q++) {
                asked.add(ask(mode, tenant, "q" + q));
                answers.poll(Duration.ofMillis(QUERY_SPACING_MS));
            }
            answers.await(asked.stream().map(q -> AnswerLog.key(tenant, q.getId())).toList());
            answers.drain(Duration.ofSeconds(1));
            long[] l = new long[QUERIES];
            for (int q = 0; q < QUERIES; q++) {
                String key = AnswerLog.key(tenant, asked.get(q).getId());
                Answer a = answers.byQuery.get(key).get(0);
                assertEquals(asked.get(q).getId(), a.getQueryId());
                assertEquals(asked.get(q).getAskedAt(), a.getAskedAt());
                if (mode.equals("EXACTLY_ONCE")) {
                    assertEquals(1, answers.byQuery.get(key).size(), "exactly once: " + key);
                }
                l[q] = answers.visibleAt.get(key) - asked.get(q).getAskedAt().toEpochMilli();
            }
            java.util.Arrays.sort(l);
            latencies.put(mode, l);
            return l;
        } finally {
            streaming.set(false);
            documents.join();
            cluster.flink.cancelJob(id).get();
            cluster.await("job cancelled", () -> cluster.status(id).isGloballyTerminalState());
        }
    }

    /** Nearest-rank percentile of sorted values. */
    private static long percentile(long[] sorted, int p) {
        return sorted[Math.max(0, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
    }

    private Query ask(String mode, String tenant, String id) {
        Query q = query(tenant, id, "Which ships are in port?", 3);
        cluster.send("queries-" + mode, null, tenant + "/" + id, AvroBytes.encode(q));
        return q;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
