package io.cmtstream.reliability;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.Evidence;
import io.cmtstream.avro.Query;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.testing.AnswerLog;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Consistency: a query asked at t sees every document published at or before t, also when the query reaches the
 * job first and such a document arrives after it, on another partition, within the configured out-of-orderness;
 * and quiet partitions hold a query back no longer than the idle timeout (plus the checkpoint interval for
 * exactly-once visibility).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsistencyITCase {
    private static final long OUT_OF_ORDERNESS_MS = 1000;
    private static final long IDLE_TIMEOUT_MS = 2000;
    private static final long CHECKPOINT_MS = 1000;
    /** Scheduling and processing on a shared two-core test machine. */
    private static final long SLACK_MS = 3000;

    private ReliabilityCluster cluster;
    private AnswerLog answers;
    private final AtomicBoolean noise = new AtomicBoolean();
    private Thread noiseThread;

    @BeforeAll
    void start() throws Exception {
        // Small network buffers, so that a burst of a few hundred documents backpressures the documents source.
        cluster = ReliabilityCluster.start(1, 2, Map.of("taskmanager.memory.segment-size", "4 kb"));
        cluster.submit(Map.of(
                "cmt.watermark.out-of-orderness", OUT_OF_ORDERNESS_MS + " ms",
                "cmt.watermark.idle-timeout", IDLE_TIMEOUT_MS + " ms",
                "cmt.checkpoint.interval", CHECKPOINT_MS + " ms",
                "cmt.query.max-top-k", "20",
                "cmt.model.max-in-flight", "4"), 2, null);
        answers = cluster.answers();
        // Warm up: the first model calls are slow.
        cluster.publish(document("warmup", "w", "Warming up the model."));
        cluster.publish(query("warmup", "w", "Warm?", 1));
        answers.await("warmup", "w");
    }

    @AfterEach
    void stopNoise() throws InterruptedException {
        noise.set(false);
        if (noiseThread != null) {
            noiseThread.join();
        }
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(answers, cluster);
    }

    @Test
    void queryPublishedBeforeAnEarlierDocumentArrivesStillSeesIt() {
        // Documents partition 0 streams other tenants' documents (event time drives its watermark); partition 1 is
        // quiet between the late documents (the wall clock drives it): both regimes are crossed.
        startNoise(0);
        Random random = new Random(42);
        List<String> keys = new ArrayList<>();
        List<String[]> expected = new ArrayList<>();
        for (int k = 0; k < 12; k++) {
            String tenant = "order-" + k;
            int queryPartition = k % 2;
            int documentPartition = (k + 1) % 2;
            send(document(tenant, "early", "An early note about harbours and ships."), random.nextInt(2));
            Instant askedAt = Instant.now();
            Query q = query(tenant, "q", "What about harbours?", 10);
            q.setAskedAt(askedAt);
            cluster.send("queries", queryPartition, tenant + "/q", AvroBytes.encode(q));
            // The adversary: the document reaches the job after the query, with publishedAt before askedAt, and
            // backdating plus delay stays within the out-of-orderness.
            long delay = random.nextInt(300);
            long backdate = random.nextInt(300);
            ReliabilityCluster.sleep(delay);
            send(document(tenant, "late", "A late note about harbours and tides.", askedAt.minusMillis(backdate)),
                    documentPartition);
            keys.add(AnswerLog.key(tenant, "q"));
            expected.add(new String[] {tenant, "early", "late", delay + "+" + backdate});
        }
        Map<String, Answer> got = answers.await(keys);
        for (String[] e : expected) {
            Answer a = got.get(AnswerLog.key(e[0], "q"));
            Set<String> ids = a.getEvidence().stream().map(Evidence::getDocId).collect(Collectors.toSet());
            assertTrue(ids.contains(e[1]) && ids.contains(e[2]),
                    e[0] + " (late document delayed+backdated " + e[3] + " ms) saw only " + ids);
        }
        System.out.printf("CONSISTENCY out-of-order: %d queries published before an earlier document, each saw "
                + "it: %d/%d%n", keys.size(), keys.size(), keys.size());
    }

    @Test
    void quietPartitionsDoNotHoldQueriesBackPastTheIdleTimeout() {
        long bound = IDLE_TIMEOUT_MS + CHECKPOINT_MS + SLACK_MS;
        String tenant = "quiet";
        send(document(tenant, "d", "A note about quiet libraries."), 0);
        answersWithin(tenant, "settle", Long.MAX_VALUE);
        ReliabilityCluster.sleep(IDLE_TIMEOUT_MS + 1000); // every documents partition is now quiet
        long allQuiet = answersWithin(tenant, "all-quiet", bound);
        startNoise(0); // partition 0 busy with another tenant's documents, partition 1 quiet
        ReliabilityCluster.sleep(500);
        long oneQuiet = answersWithin(tenant, "one-quiet", bound);
        System.out.printf("CONSISTENCY idle bound: askedAt->visible %d ms (all partitions quiet), %d ms (one "
                + "quiet), bound %d ms (idle %d + checkpoint %d + slack %d)%n", allQuiet, oneQuiet, bound,
                IDLE_TIMEOUT_MS, CHECKPOINT_MS, SLACK_MS);
    }

    @Test
    void queryPublishedAfterABurstThatBackpressuresTheSourceSeesTheWholeBurst() {
        // Compressing the burst takes several idle timeouts, and most of it waits in Kafka while the source is
        // backpressured: a watermark that followed the wall clock would release the query before the last
        // documents are read (it did, before the reader's own watermark generator learnt to wait for its partitions).
        String tenant = "burst";
        int burst = 240;
        String text = "A long note about rivers, bridges and the towns along them. ".repeat(20);
        long started = System.nanoTime();
        for (int i = 0; i < burst; i++) {
            send(document(tenant, "b" + i, i + ". " + text), i % 2);
        }
        List<String> lastOfEachPartition = List.of("b" + (burst - 2), "b" + (burst - 1));
        Query q = query(tenant, "after-burst", "What about rivers?", 2);
        q.setRestrictTo(lastOfEachPartition);
        cluster.publish(q);
        Answer a = answers.await(tenant, "after-burst");
        Set<String> ids = a.getEvidence().stream().map(Evidence::getDocId).collect(Collectors.toSet());
        long latency = answers.visibleAt.get(AnswerLog.key(tenant, "after-burst"))
                - q.getAskedAt().toEpochMilli();
        assertTrue(ids.containsAll(lastOfEachPartition), "the query published after the burst saw only " + ids
                + " of " + lastOfEachPartition + " (answered " + latency + " ms after it was asked)");
        System.out.printf("CONSISTENCY burst: %d documents published in %.1f s, the query after them saw the last "
                + "of each partition, visible %d ms after askedAt (idle timeout %d ms)%n", burst,
                (System.nanoTime() - started) / 1e9 - latency / 1e3, latency, IDLE_TIMEOUT_MS);
    }

    /** Asks {@code queryId} of {@code tenant} now; asserts its answer is visible within {@code boundMs}. */
    private long answersWithin(String tenant, String queryId, long boundMs) {
        Query q = query(tenant, queryId, "What about libraries?", 3);
        cluster.publish(q);
        answers.await(tenant, queryId);
        long latency = answers.visibleAt.get(AnswerLog.key(tenant, queryId))
                - q.getAskedAt().toEpochMilli();
        assertTrue(latency <= boundMs, queryId + ": visible after " + latency + " ms, bound " + boundMs + " ms");
        return latency;
    }

    private void startNoise(int partition) {
        noise.set(true);
        noiseThread = new Thread(() -> {
            int i = 0;
            while (noise.get()) {
                send(document("noise", "n" + (i++ % 50), "Noise document " + i + " about nothing much."), partition);
                ReliabilityCluster.sleep(50);
            }
        }, "noise");
        noiseThread.start();
    }

    private void send(Document d, int partition) {
        cluster.send("documents", partition, d.getTenant() + "/" + d.getId(), AvroBytes.encode(d));
    }
}
