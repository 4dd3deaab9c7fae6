package io.cmtstream.eval;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The evaluation command on a small slice, end to end: embedded broker, MiniCluster with RocksDB, real model; every
 * answer is read from the answers topic.
 */
class StreamingEvaluationITCase {
    static final Path MODEL = Files.exists(Path.of("models/cmt-bge-small-squad/model.json"))
            ? Path.of("models/cmt-bge-small-squad") : Path.of("src/test/resources/models/retrieval-only");

    @Test
    void evaluatesASliceThroughTheJobAndWritesReportAndCharts() throws Exception {
        Path out = Files.createTempDirectory("cmt-eval");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        int exit = StreamingEvaluation.run(new String[] {
                "--articles", "Islamism", "--questions-per-article", "3", "--k", "2",
                "--out", out.toString(), "--timeout-seconds", "300",
                "--cmt.model.dir", MODEL.toString(), "--cmt.checkpoint.interval", "1 s"},
                new PrintStream(console, true, StandardCharsets.UTF_8));
        String printed = console.toString(StandardCharsets.UTF_8);

        assertEquals(0, exit, printed);
        String report = Files.readString(out.resolve("report.md"));
        assertTrue(report.contains("27 of 27 answers received"), report);
        for (String condition : StreamingEvaluation.CONDITIONS) {
            assertTrue(report.contains("| " + condition + " |"), "no row for " + condition + " in\n" + report);
        }
        assertTrue(report.contains("| CMT self-matching (in the job) |"), report);
        assertTrue(report.contains("**Latency**") && report.contains("**Ingestion**"), report);
        byte[] pngMagic = {(byte) 0x89, 'P', 'N', 'G'};
        for (String png : new String[] {"retention.png", "latency.png"}) {
            byte[] head = new byte[4];
            System.arraycopy(Files.readAllBytes(out.resolve(png)), 0, head, 0, 4);
            assertArrayEquals(pngMagic, head, png);
        }
    }
}
