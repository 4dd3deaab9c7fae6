package io.cmtstream.reliability;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Evidence;
import io.cmtstream.testing.AnswerLog;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static io.cmtstream.testing.TestRecords.delete;
import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Nothing lost: a task manager dies in the middle of ingesting documents and answering queries, and later the job
 * is stopped with a savepoint and restored at another parallelism. After each, every document published (less the
 * deleted ones) is in the memory bank exactly once, shown by a query whose topK exceeds the bank, and every query
 * has exactly one committed answer (read_committed, counted per queryId).
 *
 * <p>The two tests are one story on one job and run in order.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FailureRecoveryITCase {
    private static final String TENANT = "recovery";
    private static final Map<String, String> JOB = Map.of(
            "cmt.query.max-top-k", "500",
            "cmt.memory.shards", "3",
            "cmt.checkpoint.interval", "1 s");
    private static final String[] TOPICS = {"rivers", "mountains", "cities", "instruments", "planets", "rulers",
            "languages", "diseases", "bridges", "composers"};

    private ReliabilityCluster cluster;
    private AnswerLog answers;
    private JobID job;
    /** Document ids that must be in the bank: published, not deleted since. */
    private final TreeSet<String> expectedBank = new TreeSet<>();
    /** Every query published, by (tenant, queryId) key. */
    private final List<String> queries = new ArrayList<>();
    private int documentsSent;

    @BeforeAll
    void start() throws Exception {
        // Two task managers of one slot each at parallelism 2: every task manager runs a share of every operator.
        cluster = ReliabilityCluster.start(2, 1);
        job = cluster.submit(JOB, 2, null);
        answers = cluster.answers();
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(answers, cluster);
    }

    @Test
    @Order(1)
    void taskManagerLossLosesNoMemoryAndNoAnswer() throws Exception {
        // Phase 1: a first slice, answered and checkpointed before anything goes wrong.
        publishSlice(0, 30, 0);
        answers.await(queries);
        cluster.awaitCheckpoints(job, 1);

        // Phase 2: keep publishing (new documents, upserts, deletes, queries) while task manager 0 is killed.
        CompletableFuture<Void> publishing = CompletableFuture.runAsync(() -> {
            publishSlice(30, 70, 40);
            for (int i = 0; i < 30; i += 6) {
                String id = docId(i);
                cluster.publish(delete(TENANT, id));
                expectedBank.remove(id);
                documentsSent++;
            }
            for (int i = 3; i < 30; i += 6) {
                cluster.publish(document(TENANT, docId(i), text(i + 1000)));
                documentsSent++;
            }
        });
        Thread.sleep(1500);
        assertTrue(!publishing.isDone(), "the kill must land while documents are still being published");
        cluster.flink.terminateTaskManager(0).get(60, TimeUnit.SECONDS);
        // The replacement a cluster manager would start; until then the job waits for slots.
        cluster.flink.startTaskManager();
        publishing.get(120, TimeUnit.SECONDS);

        answers.await(queries);
        assertBankIsWhole("after-kill");
        answers.drain(Duration.ofSeconds(3));
        assertEachQueryAnsweredOnce();

        assertEquals(JobStatus.RUNNING, cluster.status(job));
        assertNotNull(cluster.checkpoints(job).getLatestRestoredCheckpoint(),
                "the job must have restored from a checkpoint, not started over");
        System.out.printf("RECOVERY tm-kill: documents sent %d, bank %d (deleted %d), queries %d, answers %d, "
                        + "duplicates 0, lost 0, restored checkpoint %d%n", documentsSent, expectedBank.size(),
                5, queries.size(), answers.byQuery.size(),
                cluster.checkpoints(job).getLatestRestoredCheckpoint().getCheckpointId());
    }

    @Test
    @Order(2)
    void savepointRestoresTheWholeBankAtAnotherParallelism() throws Exception {
        String savepoint = cluster.stopWithSavepoint(job);
        // Published while no job runs: the restored sources must pick these up from the savepoint's offsets.
        publishSlice(70, 80, 60);
        cluster.flink.startTaskManager(); // a third slot for parallelism 3
        job = cluster.submit(JOB, 3, savepoint);

        answers.await(queries);
        assertBankIsWhole("after-savepoint");
        answers.drain(Duration.ofSeconds(3));
        assertEachQueryAnsweredOnce();
        assertEquals(JobStatus.RUNNING, cluster.status(job));
        System.out.printf("RECOVERY savepoint p2->p3: documents sent %d, bank %d, queries %d, answers %d, "
                + "duplicates 0, lost 0%n", documentsSent, expectedBank.size(), queries.size(), answers.byQuery.size());
    }

    /** Documents {@code from..to-1}, with a query after every third document. */
    private void publishSlice(int from, int to, int queryBase) {
        for (int i = from; i < to; i++) {
            cluster.publish(document(TENANT, docId(i), text(i)));
            expectedBank.add(docId(i));
            documentsSent++;
            if (i % 3 == 2) {
                String qid = "q" + (queryBase + i);
                cluster.publish(query(TENANT, qid, "Which " + TOPICS[i % TOPICS.length] + " are described?", null));
                queries.add(AnswerLog.key(TENANT, qid));
            }
            ReliabilityCluster.sleep(40);
        }
    }

    /** A query asked now, with topK above the bank size, must list every expected document exactly once. */
    private void assertBankIsWhole(String queryId) {
        cluster.publish(query(TENANT, queryId, "What do the documents say?", 500));
        queries.add(AnswerLog.key(TENANT, queryId));
        Answer bank = answers.await(TENANT, queryId);
        List<String> ids = bank.getEvidence().stream().map(Evidence::getDocId).toList();
        Map<String, Long> counts = ids.stream().collect(Collectors.groupingBy(id -> id, Collectors.counting()));
        List<String> twice = counts.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
        assertTrue(twice.isEmpty(), "in the bank more than once: " + twice);
        TreeSet<String> missing = new TreeSet<>(expectedBank);
        missing.removeAll(counts.keySet());
        TreeSet<String> extra = new TreeSet<>(counts.keySet());
        extra.removeAll(expectedBank);
        assertTrue(missing.isEmpty(), "lost from the bank: " + missing);
        assertTrue(extra.isEmpty(), "in the bank but deleted or never sent: " + extra);
        assertEquals(expectedBank.size(), ids.size());
    }

    private void assertEachQueryAnsweredOnce() {
        Map<String, Integer> duplicates = new HashMap<>();
        answers.byQuery.forEach((k, list) -> {
            if (list.size() != 1) {
                duplicates.put(k, list.size());
            }
        });
        assertTrue(duplicates.isEmpty(), "queries answered more than once: " + duplicates);
        assertTrue(answers.byQuery.keySet().containsAll(queries));
        assertEquals(queries.size(), answers.byQuery.size(), "answers to queries never sent");
    }

    private static String docId(int i) {
        return String.format("doc-%03d", i);
    }

    private static String text(int i) {
        return "Record " + i + " of the archive is about " + TOPICS[i % TOPICS.length] + ": entry " + (i * 7919 % 1000)
                + " lists its names, dates and places.";
    }
}
