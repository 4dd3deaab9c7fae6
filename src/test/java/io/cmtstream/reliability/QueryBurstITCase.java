package io.cmtstream.reliability;

import io.cmtstream.avro.Query;
import io.cmtstream.squad.SquadDataset;
import io.cmtstream.testing.AnswerLog;
import io.cmtstream.testing.TestRecords;
import org.apache.flink.api.common.JobID;
import org.apache.flink.runtime.checkpoint.CheckpointStatsCounts;
import org.apache.flink.runtime.executiongraph.ErrorInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A burst of queries that one watermark step releases at once, read by the bundled reader (a few answers a second
 * on a small machine, so the burst takes far longer to read than the checkpoint timeout): checkpoints keep
 * completing while it is read, none fails, and every query ends with exactly one committed answer. Before the
 * memory bank released such a burst in bounded batches, the step that released it emitted every query's hits at
 * once, blocked on the busy reader, and no checkpoint barrier could pass until the whole burst was read: the
 * checkpoint expired and the job restarted (docs/RELIABILITY.md section 17).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QueryBurstITCase {
    private static final String TENANT = "burst";
    private static final int BURST = 400;
    private static final Path READER = Path.of("models/cmt-bge-small-squad");
    /** SQuAD paragraphs of a training article: a few answers a second, as in the evaluation. */
    private static final SquadDataset ARTICLE = SquadDataset.load(Path.of("data/squad/squad-v1.1-dev-open.json"))
            .select(List.of("Apollo_program"));

    private ReliabilityCluster cluster;

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.start(1, 1);
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(cluster);
    }

    @Test
    void checkpointsKeepCompletingWhileABurstReleasedByOneWatermarkIsRead() throws Exception {
        JobID id = cluster.submit(Map.of("cmt.model.dir", READER.toAbsolutePath().toString(),
                "execution.checkpointing.timeout", "10 s"), 1, null);
        for (SquadDataset.Paragraph p : ARTICLE.paragraphs()) {
            cluster.publish(p.asDocument(TENANT));
        }
        // One askedAt a little ahead: every query waits for the same watermark step, which releases them all.
        Instant askedAt = Instant.now().plusSeconds(5);
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < BURST; i++) {
            String question = ARTICLE.questions().get(i % ARTICLE.questions().size()).question();
            Query q = TestRecords.query(TENANT, "q" + i, question, 1);
            q.setAskedAt(askedAt);
            cluster.publish(q);
            keys.add(AnswerLog.key(TENANT, "q" + i));
        }
        long completedAtFirstAnswer = -1;
        long failedAtFirstAnswer = -1;
        long completedAtLastAnswer;
        try (AnswerLog answers = cluster.answers()) {
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (!answers.byQuery.keySet().containsAll(keys) && System.nanoTime() < deadline) {
                answers.poll(Duration.ofMillis(200));
                assertNull(failure(id), "the job failed while the burst was read");
                if (completedAtFirstAnswer < 0 && !answers.byQuery.isEmpty()) {
                    // Earlier ones may fail while the model loads (tasks not yet running): not what is tested.
                    completedAtFirstAnswer = counts(id).getNumberOfCompletedCheckpoints();
                    failedAtFirstAnswer = counts(id).getNumberOfFailedCheckpoints();
                }
            }
            completedAtLastAnswer = counts(id).getNumberOfCompletedCheckpoints();
            assertEquals(BURST, answers.byQuery.keySet().stream().filter(keys::contains).count(), "queries answered");
            long spanSeconds = (answers.visibleAt.values().stream().mapToLong(Long::longValue).max().orElse(0)
                    - answers.visibleAt.values().stream().mapToLong(Long::longValue).min().orElse(0)) / 1000;
            long failed = counts(id).getNumberOfFailedCheckpoints() - failedAtFirstAnswer;
            System.out.printf("QUERY BURST: %d queries answered over %d s; checkpoints completed while they were "
                    + "read: %d; failed: %d%n", BURST, spanSeconds, completedAtLastAnswer - completedAtFirstAnswer, failed);
            assertEquals(0, failed, "checkpoints failed while the burst was read");
            assertTrue(spanSeconds >= 10, "the burst took longer to read than the checkpoint timeout ("
                    + spanSeconds + " s): otherwise this test proves nothing");
            assertTrue(completedAtLastAnswer - completedAtFirstAnswer >= 3,
                    "checkpoints completed while the burst was read: " + (completedAtLastAnswer - completedAtFirstAnswer));
        }
        cluster.stopWithSavepoint(id);
        Map<String, Integer> counts = cluster.committedAnswerCounts("answers");
        assertEquals(List.of(), keys.stream().filter(k -> counts.getOrDefault(k, 0) != 1).toList(),
                "queries without exactly one committed answer");
    }

    private ErrorInfo failure(JobID id) throws Exception {
        return cluster.flink.getExecutionGraph(id).get(10, TimeUnit.SECONDS).getFailureInfo();
    }

    private CheckpointStatsCounts counts(JobID id) throws Exception {
        return cluster.checkpoints(id).getCounts();
    }
}
