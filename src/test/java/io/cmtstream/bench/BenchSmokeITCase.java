package io.cmtstream.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Keeps the benchmark command working: the whole run at toy sizes (figures from it mean nothing). */
class BenchSmokeITCase {
    @Test
    void benchmarkCommandRunsEverySectionAtToySizes() throws Exception {
        Path out = Files.createTempDirectory("cmt-bench");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        assertTrue(BenchMain.run(new String[] {"--model", "src/test/resources/models/retrieval-only",
                "--texts", "4", "--batches", "1,2", "--ingest-docs", "4", "--passthrough-records", "200",
                "--sizes", "60", "--queries", "3", "--match-sizes", "500", "--out", out.toString()},
                new PrintStream(console, true, StandardCharsets.UTF_8)));
        String report = Files.readString(out.resolve("report.md"));
        for (String section : new String[] {"## Model alone", "## Ingest through the job", "framework efficiency",
                "passthrough", "## Query latency against bank size", "| 60 | 3 |", "## Matching alone", "| 500 | 2 |"}) {
            assertTrue(report.contains(section), "report lacks '" + section + "':\n" + report);
        }
        assertTrue(Files.size(out.resolve("latency-vs-bank-size.png")) > 1000);
    }
}
