package io.cmtstream.deploy;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The job jar a cluster runs (built in the package phase, so checked in integration-test): it holds what a Linux
 * x86-64 task manager loads and nothing a task manager never loads (other platforms' natives, debug symbols).
 */
class JobJarITCase {
    private static List<String> entries;
    private static long bytes;

    @BeforeAll
    static void readTheJar() throws IOException {
        Path jar;
        try (Stream<Path> files = Files.list(Path.of("target"))) {
            jar = files.filter(p -> p.getFileName().toString().matches("cmt-stream-.*-job\\.jar")).findFirst().orElse(null);
        }
        Assumptions.assumeTrue(jar != null, "no target/cmt-stream-*-job.jar: it is built by `mvn -B verify` (package phase)");
        bytes = Files.size(jar);
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            entries = zip.stream().map(ZipEntry::getName).toList();
        }
    }

    @Test
    void theJarHoldsTheLinuxX8664NativesTheJobLoads() {
        for (String wanted : List.of(
                "ai/onnxruntime/native/linux-x64/libonnxruntime.so",
                "native/lib/linux-x86_64/cpu/libtokenizers.so",
                "jnilib/linux-x86_64/cpu/libdjl_torch.so",
                "jnilib/linux-x86_64/cu128/libdjl_torch.so",
                "pytorch/cpu/linux-x86_64/libtorch_cpu.so",
                "linux/amd64/libzstd-jni-1.5.6-10.so",
                "io/cmtstream/app/ClusterMain.class")) {
            assertTrue(entries.contains(wanted), "missing from the job jar: " + wanted);
        }
    }

    @Test
    void theJarLeavesOutOtherPlatformsAndDebugSymbols() {
        List<String> foreign = entries.stream()
                .filter(e -> !e.startsWith("org/jline/")) // the terminal library's natives: small, left as they are
                .filter(e -> e.endsWith(".pdb") || e.contains(".dSYM/") || e.endsWith(".dylib") || e.endsWith(".dll")
                        || e.contains("linux-aarch64/") || e.contains("/osx-") || e.contains("/win-")
                        || e.contains("/win32-") || e.contains("/darwin"))
                .toList();
        assertEquals(List.of(), foreign);
    }

    @Test
    void theJarLeavesOutTheToolsAndWhatOnlyTheyNeed() {
        // tools/: the embedded default, the evaluation, the bench, with Lucene, XChart, progressbar and the broker.
        List<String> tools = entries.stream()
                .filter(e -> e.startsWith("io/cmtstream/eval/") || e.startsWith("io/cmtstream/squad/")
                        || e.startsWith("io/cmtstream/bench/") || e.startsWith("io/cmtstream/app/Embedded")
                        || e.startsWith("io/cmtstream/app/StreamingDemo") || e.startsWith("org/apache/lucene/")
                        || e.startsWith("org/knowm/xchart/") || e.startsWith("me/tongfei/")
                        || e.startsWith("org/springframework/") || e.startsWith("kafka/server/"))
                .toList();
        assertEquals(List.of(), tools);
    }

    @Test
    void theClientJarHoldsTheClientAndTheSchemasOnly() throws IOException {
        Path client;
        try (Stream<Path> files = Files.list(Path.of("target"))) {
            client = files.filter(p -> p.getFileName().toString().matches("cmt-stream-.*-client\\.jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("no target/cmt-stream-*-client.jar beside the job jar"));
        }
        List<String> classes;
        try (ZipFile zip = new ZipFile(client.toFile())) {
            classes = zip.stream().map(ZipEntry::getName).filter(e -> e.endsWith(".class")).toList();
        }
        assertTrue(classes.contains("io/cmtstream/client/CmtClient.class"), "CmtClient in the client jar");
        assertTrue(classes.contains("io/cmtstream/avro/Answer.class"), "the schema classes in the client jar");
        assertEquals(List.of(), classes.stream()
                .filter(e -> !e.startsWith("io/cmtstream/client/") && !e.startsWith("io/cmtstream/avro/")).toList());
    }

    @Test
    void theJarStaysUnderThreeHundredMegabytes() {
        // 392 MB before the platform filter; libtorch_cpu and the bundled encoder are most of what is left.
        assertTrue(bytes < 300L * 1024 * 1024, "job jar is " + bytes / (1024 * 1024) + " MiB");
    }
}
