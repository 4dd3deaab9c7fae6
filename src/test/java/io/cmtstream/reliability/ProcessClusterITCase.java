package io.cmtstream.reliability;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The job on a real standalone cluster of separate JVM processes (a JobManager and two TaskManagers, see
 * {@link ProcessCluster}), submitted through the REST API; documents and queries stream while one TaskManager
 * process is killed with SIGKILL and a new one started. Stopped with a savepoint, the answers topic read to its
 * end offsets holds exactly one committed answer per query.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProcessClusterITCase {
    private static final String TENANT = "processes";

    private ReliabilityCluster broker;
    private ProcessCluster flink;

    @BeforeAll
    void start() throws Exception {
        broker = ReliabilityCluster.brokerOnly();
        flink = ProcessCluster.start(Files.createTempDirectory("cmt-processes"), 2);
    }

    @AfterAll
    void stop() throws Exception {
        ReliabilityCluster.closeAll(flink, broker);
    }

    @Test
    void aTaskManagerProcessKilledWithSigkillLosesAndDuplicatesNoAnswer() throws Exception {
        JobID job = flink.submit(broker.jobGraph(Map.of(
                "cmt.model.dir", ReliabilityCluster.MODEL.toAbsolutePath().toString(),
                "cmt.checkpoint.interval", "1 s"), 2));
        ReliabilityCluster.await("job running on both TaskManagers", () -> flink.allTasksRunning(job));

        List<String> queries = new ArrayList<>();
        int next = publish(0, 30, queries);
        ReliabilityCluster.await("2 checkpoints", () -> flink.checkpoints(job)[0] >= 2);
        // The stream goes on while we wait: on a slow machine the first 30 answers may all be committed by now.
        int[] streamed = {next};
        ReliabilityCluster.await("a transaction holding answers open", () -> {
            if (broker.uncommittedRecords("answers") > 0) {
                return true;
            }
            streamed[0] = publish(streamed[0], streamed[0] + 1, queries);
            return false;
        });
        next = streamed[0];
        long pid = flink.killTaskManager();
        flink.startTaskManager();
        next = publish(next, next + 30, queries);
        ReliabilityCluster.await("job restored from a checkpoint, every task running again", () ->
                flink.checkpoints(job)[1] > 0 && flink.allTasksRunning(job) && flink.status(job) == JobStatus.RUNNING);
        publish(next, next + 15, queries);
        long completed = flink.checkpoints(job)[0];
        ReliabilityCluster.await("2 checkpoints after the restore", () -> flink.checkpoints(job)[0] >= completed + 2);
        flink.stopWithSavepoint(job);

        Map<String, Integer> counts = broker.committedAnswerCounts("answers");
        List<String> lost = queries.stream().filter(q -> !counts.containsKey(q)).toList();
        long duplicated = counts.values().stream().filter(n -> n > 1).count();
        System.out.printf("PROCESS CLUSTER: TaskManager pid %d killed with SIGKILL, restored checkpoint %d, "
                        + "queries %d, answers %d, lost %d, duplicated %d%n", pid, flink.checkpoints(job)[1],
                queries.size(), counts.values().stream().mapToInt(Integer::intValue).sum(), lost.size(), duplicated);
        assertEquals(List.of(), lost, "queries with no committed answer");
        assertEquals(0, duplicated, "queries with more than one committed answer: " + counts);
        assertEquals(queries.size(), counts.size(), "answers to queries never sent");
    }

    /** Entries {@code from..to-1} of the stream ({@link ReliabilityCluster#publishStreamEntry}); returns {@code to}. */
    private int publish(int from, int to, List<String> queries) {
        for (int i = from; i < to; i++) {
            String key = broker.publishStreamEntry(TENANT, i, "");
            if (key != null) {
                queries.add(key);
            }
        }
        return to;
    }
}
