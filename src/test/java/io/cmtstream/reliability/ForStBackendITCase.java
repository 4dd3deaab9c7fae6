package io.cmtstream.reliability;

import io.cmtstream.app.CmtStreamOptions;
import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Evidence;
import io.cmtstream.testing.AnswerLog;
import org.apache.flink.api.common.JobID;
import org.apache.flink.core.execution.SavepointFormatType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static io.cmtstream.testing.TestRecords.delete;
import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The job on Flink 2's disaggregated ForSt state backend ({@code state.backend.type: forst} in the job's
 * configuration; docs/UPGRADING.md): documents become memories, an upsert replaces and a delete removes one, and
 * the bank survives a stop with a (native) savepoint and a restore, as on RocksDB. Here ForSt keeps its files on
 * the local file system; on a cluster its primary directory would be S3 or another DFS.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ForStBackendITCase {
    private static final String TENANT = "forst";
    private static final Map<String, String> JOB = Map.of(
            "state.backend.type", "forst",
            "cmt.query.max-top-k", "100");
    private static final String GROUP = CmtStreamOptions.GROUP_ID.defaultValue();

    private ReliabilityCluster cluster;
    private AnswerLog answers;

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.start(1, 2);
        answers = cluster.answers();
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(answers, cluster);
    }

    @Test
    void memoryBankOnForStKeepsEveryDocumentAcrossASavepoint() throws Exception {
        JobID job = cluster.submit(JOB, 2, null);
        assertEquals("ForStStateBackend", cluster.stateBackend(job));
        TreeSet<String> expected = new TreeSet<>();
        for (int i = 0; i < 12; i++) {
            cluster.publish(document(TENANT, docId(i), text(i)));
            expected.add(docId(i));
        }
        cluster.publish(document(TENANT, docId(3), text(103)));
        cluster.publish(delete(TENANT, docId(5)));
        expected.remove(docId(5));
        // A job's first fetch from Kafka can take longer than the idle timeout, and the consistency watermark
        // would then pass a query asked meanwhile (docs/RELIABILITY.md, "Still open"): ask once all is read.
        cluster.awaitCommittedToTheEnd(GROUP, "documents");
        assertEquals(List.copyOf(expected), bank("bank-before"));

        // ForSt refuses canonical savepoints ("does not support CANONICAL savepoints"): a native one.
        String savepoint = cluster.stopWithSavepoint(job, SavepointFormatType.NATIVE);
        cluster.publish(document(TENANT, docId(20), text(20)));
        cluster.publish(delete(TENANT, docId(8)));
        expected.add(docId(20));
        expected.remove(docId(8));
        JobID restored = cluster.submit(JOB, 2, savepoint);
        assertEquals("ForStStateBackend", cluster.stateBackend(restored));
        cluster.awaitCommittedToTheEnd(GROUP, "documents");

        assertEquals(List.copyOf(expected), bank("bank-after"));
        assertNotNull(cluster.checkpoints(restored).getLatestRestoredCheckpoint(),
                "the job must have restored the savepoint, not started over");
        System.out.printf("FORST: %d memories on ForStStateBackend, kept across stop-with-savepoint and restore%n",
                expected.size());
    }

    /** The document ids of the tenant's bank, sorted: a query whose topK exceeds the bank lists all of it. */
    private List<String> bank(String queryId) {
        cluster.publish(query(TENANT, queryId, "What do the documents say?", 100));
        Answer bank = answers.await(TENANT, queryId);
        List<String> ids = new ArrayList<>(bank.getEvidence().stream().map(Evidence::getDocId).toList());
        ids.sort(null);
        return ids;
    }

    private static String docId(int i) {
        return String.format("doc-%02d", i);
    }

    private static String text(int i) {
        return "Entry " + i + " of the ledger records a river crossing at mile " + (i * 37 % 100) + ".";
    }
}
