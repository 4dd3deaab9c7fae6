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
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static io.cmtstream.testing.TestRecords.delete;
import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The migration path of docs/UPGRADING.md, the one documented state break of the move to Flink 2: savepoints of the
 * 0.1 job (Flink 1.20) do not restore on Flink 2, so the memory bank is rebuilt by a fresh job (no savepoint) that
 * re-reads the documents topic from the earliest offset under a new consumer group.
 *
 * <p>The old job here runs on this Flink (one JVM cannot hold two Flink versions); what the path relies on is the
 * same on both: the bank is a function of the documents topic alone. So the fresh job holds every memory again,
 * with the upserts and deletes applied in their order and the documents published while no job ran, each memory
 * once, scoring as it did in the old bank; and the old group's offsets are left as they were (the old job could
 * still be resumed from them). Both ways of UPGRADING.md are taken: {@code EARLIEST} for both topics, which
 * answers the questions still in the queries topic again, and the queries offsets of the old group copied to the
 * new one with {@code COMMITTED} offsets, which answers only the questions the old job had not.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FreshStartMigrationITCase {
    private static final String TENANT = "library";
    private static final String OTHER_TENANT = "archive";
    private static final String OLD_GROUP = "cmt-stream";
    private static final String[] TOPICS = {"rivers", "bridges", "composers", "planets", "glaciers"};

    private ReliabilityCluster cluster;
    private AnswerLog answers;

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.start(1, 2, "answers-copied-offsets");
        answers = cluster.answers();
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(answers, cluster);
    }

    @Test
    void freshJobReadingTheDocumentsTopicFromTheEarliestOffsetHoldsTheWholeBankAgain() throws Exception {
        // The old job, as 0.1 deployments run it: committed offsets of the default group.
        JobID old = cluster.submit(job(OLD_GROUP, "COMMITTED", "answers"), 2, null);
        TreeSet<String> expected = new TreeSet<>();
        for (int i = 0; i < 16; i++) {
            cluster.publish(document(TENANT, docId(i), text(i)));
            expected.add(docId(i));
        }
        cluster.publish(document(OTHER_TENANT, "other", text(99)));
        cluster.publish(document(TENANT, docId(3), text(103)));
        cluster.publish(delete(TENANT, docId(7)));
        expected.remove(docId(7));
        cluster.awaitCommittedToTheEnd(OLD_GROUP, "documents");
        Answer oldAnswer = ask(TENANT, "old-bank");
        Map<String, Float> oldBank = bank(oldAnswer);
        assertEquals(expected, new TreeSet<>(oldBank.keySet()));
        cluster.awaitCommittedToTheEnd(OLD_GROUP, "queries");

        // The upgrade: the old job is cancelled (its savepoint would not restore on Flink 2); documents and a
        // question keep coming.
        cluster.flink.cancelJob(old).get(30, TimeUnit.SECONDS);
        cluster.await("old job cancelled", () -> cluster.status(old).isGloballyTerminalState());
        Map<Integer, Long> oldDocumentOffsets = cluster.committedOffsets(OLD_GROUP, "documents");
        Map<Integer, Long> oldQueryOffsets = cluster.committedOffsets(OLD_GROUP, "queries");
        cluster.publish(document(TENANT, docId(20), text(20)));
        cluster.publish(delete(TENANT, docId(11)));
        expected.add(docId(20));
        expected.remove(docId(11));
        cluster.publish(query(TENANT, "asked-during-upgrade", "Which glaciers are described?", 3));

        // Way 1: a fresh job, no savepoint, a new group, the earliest offsets of both topics.
        String group1 = "cmt-stream-flink2";
        JobID fresh = cluster.submit(job(group1, "EARLIEST", "answers"), 2, null);
        assertEquals("EmbeddedRocksDBStateBackend", cluster.stateBackend(fresh));
        cluster.awaitCommittedToTheEnd(group1, "documents");
        Map<String, Float> newBank = bank(ask(TENANT, "new-bank"));
        assertEquals(expected, new TreeSet<>(newBank.keySet()), "the rebuilt bank");
        oldBank.forEach((id, score) -> {
            if (newBank.containsKey(id)) {
                assertEquals(score, newBank.get(id), 1e-4, id + " must score as it did in the old bank");
            }
        });
        assertNull(cluster.checkpoints(fresh).getLatestRestoredCheckpoint(), "the fresh job restores nothing");
        assertEquals(List.of("other"), ids(ask(OTHER_TENANT, "other-bank")), "the other tenant's bank");
        answers.await(List.of(key("asked-during-upgrade")));
        // The old question was read again and answered again, once the rebuilt bank held every document published
        // before it was asked (less the one deleted since, if that delete was applied first; plus the one published
        // since, if that came first: the bank is not versioned).
        answers.drain(Duration.ofSeconds(2));
        List<Answer> oldBankAnswers = answers.byQuery.get(key("old-bank"));
        assertEquals(2, oldBankAnswers.size(), "old-bank answered by the old job and again by the fresh one");
        Set<String> reanswered = new TreeSet<>(ids(oldBankAnswers.get(1)));
        Set<String> atLeast = new TreeSet<>(ids(oldAnswer));
        atLeast.remove(docId(11));
        Set<String> atMost = new TreeSet<>(ids(oldAnswer));
        atMost.add(docId(20));
        assertTrue(reanswered.containsAll(atLeast) && atMost.containsAll(reanswered), reanswered::toString);
        answers.byQuery.forEach((k, list) -> {
            if (!k.equals(key("old-bank"))) {
                assertEquals(1, list.size(), "answers to " + k);
            }
        });
        cluster.flink.cancelJob(fresh).get(30, TimeUnit.SECONDS);
        cluster.await("fresh job cancelled", () -> cluster.status(fresh).isGloballyTerminalState());

        // Way 2 (instead of way 1 in a real upgrade): the new group starts with the old group's queries offsets,
        // and with COMMITTED offsets reads the documents topic, where it has none, from the earliest. Every
        // question after the old job's offsets is answered once (here also those asked of way 1's job), none
        // before; into an answers topic of its own, to count them apart.
        String group2 = "cmt-stream-flink2-copied";
        cluster.commitOffsets(group2, "queries", oldQueryOffsets);
        JobID copied = cluster.submit(job(group2, "COMMITTED", "answers-copied-offsets"), 2, null);
        cluster.awaitCommittedToTheEnd(group2, "documents");
        try (AnswerLog copiedAnswers = cluster.answers("answers-copied-offsets")) {
            cluster.publish(query(TENANT, "copied-bank", "Which rivers and bridges are described?", 100));
            Set<String> after = Set.of(key("asked-during-upgrade"), key("new-bank"),
                    AnswerLog.key(OTHER_TENANT, "other-bank"), key("copied-bank"));
            copiedAnswers.await(List.copyOf(after));
            assertEquals(expected, new TreeSet<>(bank(copiedAnswers.byQuery.get(key("copied-bank")).get(0)).keySet()));
            copiedAnswers.drain(Duration.ofSeconds(2));
            assertFalse(copiedAnswers.byQuery.containsKey(key("old-bank")), "the old job's question again");
            assertEquals(after, copiedAnswers.byQuery.keySet());
            copiedAnswers.byQuery.forEach((k, list) -> assertEquals(1, list.size(), "answers to " + k));
        }
        assertNull(cluster.checkpoints(copied).getLatestRestoredCheckpoint());

        assertEquals(oldDocumentOffsets, cluster.committedOffsets(OLD_GROUP, "documents"), "old group's offsets");
        assertEquals(oldQueryOffsets, cluster.committedOffsets(OLD_GROUP, "queries"), "old group's offsets");
        System.out.printf("MIGRATION: old bank %d memories; fresh job (new group, EARLIEST) %d memories, scores "
                        + "equal, 1 old question answered again; fresh job (queries offsets copied, COMMITTED) %d "
                        + "memories, no old question answered again; old group's offsets untouched%n",
                oldBank.size(), newBank.size(), expected.size());
    }

    private Map<String, String> job(String group, String startingOffsets, String answersTopic) {
        return Map.of(
                "cmt.kafka.group-id", group,
                "cmt.kafka.starting-offsets", startingOffsets,
                "cmt.kafka.topic.answers", answersTopic,
                "cmt.query.max-top-k", "100");
    }

    private Answer ask(String tenant, String queryId) {
        cluster.publish(query(tenant, queryId, "Which rivers and bridges are described?", 100));
        return answers.await(tenant, queryId);
    }

    /** docId to score of an answer listing a whole bank (its topK exceeds it); each memory at most once. */
    private static Map<String, Float> bank(Answer a) {
        Map<String, Float> scores = new TreeMap<>();
        for (Evidence e : a.getEvidence()) {
            assertNull(scores.put(e.getDocId(), e.getScore()), "evidence lists " + e.getDocId() + " twice");
        }
        return scores;
    }

    private static List<String> ids(Answer a) {
        return a.getEvidence().stream().map(Evidence::getDocId).toList();
    }

    private static String key(String queryId) {
        return AnswerLog.key(TENANT, queryId);
    }

    private static String docId(int i) {
        return String.format("doc-%02d", i);
    }

    private static String text(int i) {
        return "Record " + i + " of the catalogue is about " + TOPICS[i % TOPICS.length] + ": entry "
                + (i * 7919 % 1000) + " lists its names, dates and places.";
    }
}
