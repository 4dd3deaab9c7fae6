package io.cmtstream.reliability;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Evidence;
import io.cmtstream.testing.AnswerLog;
import org.apache.flink.api.common.JobID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.cmtstream.testing.TestRecords.delete;
import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Upsert and delete: republishing a document id replaces its memory, a DELETE removes it, and both survive a
 * restore, from a checkpoint (a task failure) and from a savepoint (at another parallelism).
 *
 * <p>The proof that the old content is gone: a control document holds the new text from the start; identical
 * text gives an identical key, so after the upsert the republished document scores exactly as the control does,
 * and no longer as its old text did.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpsertDeleteITCase {
    private static final String OLD_TEXT = "Volcanoes erupt molten rock, ash and gases from deep inside the earth.";
    private static final String NEW_TEXT = "The violin is a wooden string instrument played with a bow.";
    private static final String QUESTION = "What instrument is played with a bow?";
    private static final Map<String, String> JOB = Map.of("cmt.memory.shards", "3", "cmt.query.max-top-k", "20");

    private ReliabilityCluster cluster;
    private AnswerLog answers;
    private int asked;

    @BeforeAll
    void start() throws Exception {
        // Two task managers so that one can be killed; one slot each, parallelism 2.
        cluster = ReliabilityCluster.start(2, 1);
        answers = cluster.answers();
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(answers, cluster);
    }

    @Test
    void upsertReplacesAndDeleteRemovesAMemoryAcrossCheckpointAndSavepointRestores() throws Exception {
        String t = "upserts";
        JobID job = cluster.submit(JOB, 2, null);
        cluster.publish(document(t, "target", OLD_TEXT));
        cluster.publish(document(t, "control", NEW_TEXT));
        cluster.publish(document(t, "doomed", "Bees make honey from the nectar of flowers."));
        cluster.publish(document(t, "later", "Glaciers carve valleys as they move."));
        cluster.publish(document(t, "filler", "The library lends books and maps."));
        Map<String, Float> before = scores(ask(t));
        float oldScore = before.get("target");
        float newScore = before.get("control");
        assertTrue(Math.abs(oldScore - newScore) > 0.01,
                "old and new texts must score apart to tell them: " + before);
        assertTrue(before.containsKey("doomed"));

        cluster.publish(document(t, "target", NEW_TEXT));
        cluster.publish(delete(t, "doomed"));
        Map<String, Float> after = scores(ask(t));
        assertReplacedAndRemoved(after, "target", newScore, "doomed");

        // Restore from a checkpoint: kill a task manager once the upsert and the delete are checkpointed.
        cluster.awaitCheckpoints(job, 2);
        cluster.flink.terminateTaskManager(0).get(60, TimeUnit.SECONDS);
        cluster.flink.startTaskManager();
        cluster.await("restore from checkpoint", () -> {
            try {
                return cluster.checkpoints(job).getLatestRestoredCheckpoint() != null;
            } catch (Exception e) {
                return false;
            }
        });
        Map<String, Float> restoredFromCheckpoint = scores(ask(t));
        assertReplacedAndRemoved(restoredFromCheckpoint, "target", newScore, "doomed");

        // Restore from a savepoint at parallelism 1, with an upsert and a delete sent while no job ran.
        String savepoint = cluster.stopWithSavepoint(job);
        cluster.publish(document(t, "later", NEW_TEXT));
        cluster.publish(delete(t, "filler"));
        JobID restored = cluster.submit(JOB, 1, savepoint);
        Map<String, Float> last = scores(ask(t));
        assertReplacedAndRemoved(last, "target", newScore, "doomed");
        assertReplacedAndRemoved(last, "later", newScore, "filler");
        assertEquals(3, last.size(), "target, control and later remain: " + last);

        answers.drain(Duration.ofSeconds(2));
        answers.byQuery.forEach((k, list) -> assertEquals(1, list.size(), "answers to " + k));
        assertNotNull(restored);
        System.out.printf("UPSERT/DELETE: old score %.4f, new score %.4f, republished scores %.4f (checkpoint "
                        + "restore %.4f, savepoint restore %.4f and %.4f); deleted ids absent after both restores%n",
                oldScore, newScore, after.get("target"), restoredFromCheckpoint.get("target"), last.get("target"),
                last.get("later"));
    }

    private void assertReplacedAndRemoved(Map<String, Float> scores, String replaced, float newScore,
                                          String deleted) {
        assertEquals(newScore, scores.get(replaced), 1e-4, replaced + " must score as its new text: " + scores);
        assertEquals(scores.get("control"), scores.get(replaced), 1e-4, scores.toString());
        assertFalse(scores.containsKey(deleted), deleted + " was deleted: " + scores);
    }

    private Answer ask(String tenant) {
        String id = "q" + asked++;
        cluster.publish(query(tenant, id, QUESTION, 20));
        return answers.await(tenant, id);
    }

    private static Map<String, Float> scores(Answer a) {
        Map<String, Float> out = new LinkedHashMap<>();
        List<Evidence> evidence = a.getEvidence();
        for (Evidence e : evidence) {
            assertEquals(null, out.put(e.getDocId(), e.getScore()), "evidence lists " + e.getDocId() + " twice");
        }
        return out;
    }
}
