package io.cmtstream.reliability;

import io.cmtstream.app.StartupChecks;
import io.cmtstream.model.ModelLoadException;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.runtime.clusterframework.ApplicationStatus;
import org.apache.flink.runtime.execution.SuppressRestartsException;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A missing or corrupt model file stops the job at start with a message naming the file: missing files are caught
 * by the start-up check before anything is submitted; a corrupt TorchScript file fails the job once, with no
 * restart loop although the restart strategy would allow a thousand attempts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ModelLoadFailureITCase {
    private static final Path TINY = Path.of("src/test/resources/models/tiny-random");

    private ReliabilityCluster cluster;

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.start(1, 2);
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void missingModelFilesFailTheStartUpCheckNamingTheFile(@TempDir Path tmp) throws IOException {
        Path noReader = copy(TINY, tmp.resolve("no-reader"));
        Files.delete(noReader.resolve("reader.pt"));
        assertStartFailsNaming(noReader, "reader.pt");

        Path noJson = copy(TINY, tmp.resolve("no-json"));
        Files.delete(noJson.resolve("model.json"));
        assertStartFailsNaming(noJson, "model.json");

        Path badJson = copy(TINY, tmp.resolve("bad-json"));
        Files.writeString(badJson.resolve("model.json"), "{ \"format\": ");
        assertStartFailsNaming(badJson, "model.json");

        assertStartFailsNaming(tmp.resolve("no-such-model"), "no-such-model");
    }

    @Test
    void corruptTorchScriptFileFailsTheJobOnceNamingTheFile(@TempDir Path tmp) throws Exception {
        Path corrupt = copy(TINY, tmp.resolve("corrupt"));
        Files.write(corrupt.resolve("compressor.pt"), "not a TorchScript archive".getBytes());
        // Present, so the start-up check passes; only loading it can tell.
        StartupChecks.modelLoads(cluster.jobConfiguration(Map.of("cmt.model.dir", corrupt.toString())));

        long started = System.nanoTime();
        JobID job = cluster.submitWithoutWaiting(Map.of("cmt.model.dir", corrupt.toString()), 2);
        JobResult result = cluster.flink.requestJobResult(job).get(ReliabilityCluster.TIMEOUT.toSeconds(),
                TimeUnit.SECONDS);
        long seconds = (System.nanoTime() - started) / 1_000_000_000;
        assertEquals(ApplicationStatus.FAILED, result.getApplicationStatus());
        Throwable failure = result.getSerializedThrowable().orElseThrow()
                .deserializeError(getClass().getClassLoader());
        List<Throwable> chain = causes(failure);
        assertTrue(chain.stream().anyMatch(t -> t instanceof SuppressRestartsException),
                "restarts must be suppressed: " + chain);
        assertTrue(chain.stream().anyMatch(t -> t instanceof ModelLoadException
                        && t.getMessage().contains(corrupt.resolve("compressor.pt").toString())),
                "the failure must name the corrupt file: " + chain);
        assertEquals(0, cluster.flink.getArchivedExecutionGraph(job).get(10, TimeUnit.SECONDS)
                .getStatusTimestamp(JobStatus.RESTARTING), "the job must never have restarted");
        System.out.printf("MODEL LOAD: corrupt compressor.pt failed the job in %d s, 0 restarts, message: %s%n",
                seconds, chain.stream().filter(t -> t instanceof ModelLoadException).findFirst()
                        .map(Throwable::getMessage).orElse("?"));
    }

    private void assertStartFailsNaming(Path modelDir, String name) {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> StartupChecks.modelLoads(
                cluster.jobConfiguration(Map.of("cmt.model.dir", modelDir.toString()))));
        assertTrue(e.getMessage().contains(name), "message must name " + name + ": " + e.getMessage());
        System.out.printf("MODEL LOAD: %s -> %s%n", modelDir.getFileName(), e.getMessage());
    }

    private static List<Throwable> causes(Throwable t) {
        List<Throwable> out = new ArrayList<>();
        collect(t, out);
        return out;
    }

    private static void collect(Throwable t, List<Throwable> out) {
        if (t == null || out.contains(t)) {
            return;
        }
        out.add(t);
        collect(t.getCause(), out);
        for (Throwable s : t.getSuppressed()) {
            collect(s, out);
        }
    }

    private static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                if (Files.isRegularFile(f)) {
                    Files.copy(f, to.resolve(f.getFileName()));
                }
            }
        }
        return to;
    }
}
