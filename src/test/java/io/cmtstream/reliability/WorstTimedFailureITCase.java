package io.cmtstream.reliability;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Exactly-once under the worst-timed failures. While documents and queries stream, a task manager is killed again
 * and again, each time at a chosen moment: while a transaction holding answers is open (a read_uncommitted
 * consumer sees answers a read_committed one does not), or right after the job manager reports a checkpoint
 * complete and before the answers of that checkpoint are committed. Then the job is stopped with a savepoint,
 * restored at another parallelism, stopped again, and the answers topic is read to its end offsets: every query has
 * exactly one committed answer. The same kills in AT_LEAST_ONCE mode leave every query at least one.
 *
 * <p>{@code -Dcmt.kills=N} sets the kills per mode (CI: 4; the documented long run: 12).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WorstTimedFailureITCase {
    private static final int KILLS = Integer.getInteger("cmt.kills", 4);
    private static final String TENANT = "worst";

    private ReliabilityCluster cluster;
    /** Task managers alive, by their MiniCluster index (terminated ones keep their index). */
    private final Deque<Integer> alive = new ArrayDeque<>(List.of(0, 1));
    private int taskManagersStarted = 2;

    @BeforeAll
    void start() throws Exception {
        List<String> topics = new ArrayList<>();
        for (String t : List.of("documents", "queries", "answers", "dead-letters")) {
            topics.add(t + "-alo");
        }
        cluster = ReliabilityCluster.start(2, 1, topics.toArray(new String[0]));
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(cluster);
    }

    @Test
    @Order(1)
    void everyQueryHasExactlyOneCommittedAnswerAfterKillsAtTheWorstMoments() throws Exception {
        Map<String, String> job = Map.of("cmt.checkpoint.interval", "1 s", "cmt.query.max-top-k", "500");
        JobID id = cluster.submit(job, 2, null);
        Stream stream = new Stream("");
        stream.start();
        int inOpenTransaction = 0;
        int beforeCommit = 0;
        int beforeCommitTries = 0;
        for (int kill = 0; kill < KILLS; kill++) {
            cluster.awaitCheckpoints(id, 2);
            long restoredBefore = restoredCheckpoint(id);
            if (kill % 2 == 0) {
                ReliabilityCluster.await("a transaction holding answers open",
                        () -> cluster.uncommittedRecords("answers") > 0);
                killATaskManager();
                inOpenTransaction++;
            } else {
                int tries = killBetweenACheckpointsCompletionAndItsCommit(id);
                beforeCommitTries += tries;
                beforeCommit += tries > 0 ? 1 : 0;
            }
            ReliabilityCluster.await("job restored from a checkpoint after kill " + kill,
                    () -> cluster.status(id) == JobStatus.RUNNING && restoredCheckpoint(id) > restoredBefore);
        }
        stream.stop();
        cluster.awaitCheckpoints(id, 2); // every task runs again: a savepoint needs them all

        String savepoint = cluster.stopWithSavepoint(id);
        cluster.flink.startTaskManager(); // a third slot: restore at parallelism 3
        alive.addLast(taskManagersStarted++);
        JobID restored = cluster.submit(job, 3, savepoint);
        Stream after = new Stream("");
        after.queries.addAll(stream.queries);
        after.next = stream.next;
        after.publish(10);
        cluster.awaitCheckpoints(restored, 3);
        cluster.stopWithSavepoint(restored);

        Map<String, Integer> counts = cluster.committedAnswerCounts("answers");
        List<String> lost = after.queries.stream().filter(q -> !counts.containsKey(q)).toList();
        Map<String, Integer> twice = new TreeMap<>();
        counts.forEach((q, n) -> {
            if (n != 1) {
                twice.put(q, n);
            }
        });
        System.out.printf("WORST-TIMED exactly-once: kills %d (in an open transaction %d, between a checkpoint's "
                        + "completion and its commit %d, %d checkpoints watched for it), queries %d, answers %d, "
                        + "lost %d, duplicated %d%n", KILLS, inOpenTransaction, beforeCommit, beforeCommitTries,
                after.queries.size(), counts.values().stream().mapToInt(Integer::intValue).sum(), lost.size(),
                twice.size());
        assertEquals(List.of(), lost, "queries with no committed answer");
        assertEquals(Map.of(), twice, "queries with more than one committed answer");
        assertEquals(after.queries.size(), counts.size(), "answers to queries never sent");
        assertTrue(beforeCommit > 0 || KILLS < 2,
                "no kill landed between a checkpoint's completion and its commit in " + beforeCommitTries
                        + " checkpoints watched");
    }

    @Test
    @Order(2)
    void everyQueryHasAtLeastOneAnswerAfterKillsInAtLeastOnceMode() throws Exception {
        Map<String, String> job = Map.of("cmt.checkpoint.interval", "1 s",
                "cmt.delivery.guarantee", "AT_LEAST_ONCE",
                "cmt.kafka.group-id", "worst-alo",
                "cmt.kafka.topic.documents", "documents-alo",
                "cmt.kafka.topic.queries", "queries-alo",
                "cmt.kafka.topic.answers", "answers-alo",
                "cmt.kafka.topic.dead-letters", "dead-letters-alo");
        // Back to two task managers of one slot for parallelism 2, so that every kill hits a running task.
        while (alive.size() > 2) {
            cluster.flink.terminateTaskManager(alive.removeFirst()).get(60, TimeUnit.SECONDS);
        }
        JobID id = cluster.submit(job, 2, null);
        Stream stream = new Stream("-alo");
        stream.start();
        for (int kill = 0; kill < KILLS; kill++) {
            cluster.awaitCheckpoints(id, 2);
            long restoredBefore = restoredCheckpoint(id);
            killATaskManager();
            ReliabilityCluster.await("job restored after kill " + kill,
                    () -> cluster.status(id) == JobStatus.RUNNING && restoredCheckpoint(id) > restoredBefore);
        }
        stream.stop();
        cluster.awaitCheckpoints(id, 2);
        cluster.stopWithSavepoint(id);

        Map<String, Integer> counts = cluster.committedAnswerCounts("answers-alo");
        List<String> lost = stream.queries.stream().filter(q -> !counts.containsKey(q)).toList();
        long repeated = counts.values().stream().filter(n -> n > 1).count();
        System.out.printf("WORST-TIMED at-least-once: kills %d, queries %d, lost %d, answered more than once %d%n",
                KILLS, stream.queries.size(), lost.size(), repeated);
        assertEquals(List.of(), lost, "queries with no answer");
    }

    /** Kills the oldest live task manager and starts its replacement, as a cluster manager would. */
    private void killATaskManager() throws Exception {
        cluster.flink.terminateTaskManager(alive.removeFirst()).get(60, TimeUnit.SECONDS);
        cluster.flink.startTaskManager();
        alive.addLast(taskManagersStarted++);
    }

    /**
     * Watches checkpoints complete and kills a task manager as soon as one completes while the answers of its
     * transaction are still uncommitted: the last stable offset has not moved since before the completion. Returns
     * how many checkpoints it watched before it could (0: none of 40 gave the chance; it then kills anyway).
     */
    private int killBetweenACheckpointsCompletionAndItsCommit(JobID id) throws Exception {
        for (int watched = 1; watched <= 40; watched++) {
            long completed = completedCheckpoints(id);
            long uncommitted = cluster.uncommittedRecords("answers");
            long committedEnd = committedEnd();
            long deadline = System.nanoTime() + ReliabilityCluster.TIMEOUT.toNanos();
            while (completedCheckpoints(id) == completed) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no checkpoint completed within " + ReliabilityCluster.TIMEOUT);
                }
                uncommitted = cluster.uncommittedRecords("answers");
                committedEnd = committedEnd();
            }
            // Completed at the job manager; the commit is the task managers' next step.
            if (uncommitted > 0 && committedEnd() == committedEnd) {
                killATaskManager();
                return watched;
            }
        }
        killATaskManager();
        return 0;
    }

    private long committedEnd() {
        return cluster.committedEnd("answers");
    }

    private long completedCheckpoints(JobID id) {
        try {
            return cluster.checkpoints(id).getCounts().getNumberOfCompletedCheckpoints();
        } catch (Exception e) {
            return -1;
        }
    }

    private long restoredCheckpoint(JobID id) {
        try {
            var stats = cluster.checkpoints(id).getLatestRestoredCheckpoint();
            return stats == null ? -1 : stats.getCheckpointId();
        } catch (Exception e) {
            return -1;
        }
    }

    /** Documents every 60 ms and a query after every third, on a thread of its own until stopped. */
    private final class Stream {
        private final String suffix;
        final List<String> queries = new CopyOnWriteArrayList<>();
        private final AtomicBoolean running = new AtomicBoolean();
        private Thread thread;
        int next;

        Stream(String suffix) {
            this.suffix = suffix;
        }

        void start() {
            running.set(true);
            thread = new Thread(() -> {
                while (running.get()) {
                    publish(1);
                }
            }, "publisher" + suffix);
            thread.start();
        }

        void stop() throws InterruptedException {
            running.set(false);
            thread.join(30_000);
        }

        void publish(int documents) {
            for (int d = 0; d < documents; d++, next++) {
                String key = cluster.publishStreamEntry(TENANT, next, suffix);
                if (key != null) {
                    queries.add(key);
                }
            }
        }
    }
}
