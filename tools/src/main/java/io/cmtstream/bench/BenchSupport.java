package io.cmtstream.bench;

import io.cmtstream.app.EmbeddedCluster;
import io.cmtstream.memory.KeyMatrix;
import io.cmtstream.memory.Memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

/** What the job bench measures with besides the job: checkpoints on disk, a quiet machine, heap, directory sizes. */
final class BenchSupport {
    private BenchSupport() {}

    /**
     * Waits until a checkpoint of the job completes that was written after {@code sinceMillis} (its {@code _metadata}
     * file appears last), at most {@code limit}; returns the milliseconds waited.
     */
    static long awaitCheckpoint(EmbeddedCluster cluster, long sinceMillis, Duration limit) throws Exception {
        Path dir = Path.of(java.net.URI.create(cluster.configuration().getString("execution.checkpointing.dir", "")));
        long started = System.currentTimeMillis();
        while (System.currentTimeMillis() - started < limit.toMillis()) {
            if (Files.isDirectory(dir)) {
                try (Stream<Path> files = Files.walk(dir)) {
                    if (files.anyMatch(f -> f.getFileName().toString().equals("_metadata")
                            && f.toFile().lastModified() >= sinceMillis)) {
                        return System.currentTimeMillis() - started;
                    }
                } catch (java.nio.file.NoSuchFileException e) {
                    // Flink deletes subsumed checkpoints while we walk: look again at the next poll.
                } catch (java.io.UncheckedIOException e) {
                    if (!(e.getCause() instanceof java.nio.file.NoSuchFileException)) {
                        throw e;
                    }
                }
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("no checkpoint completed within " + limit + " in " + dir);
    }

    /**
     * Waits until this process has used under 20% of the machine's CPU for 3 seconds in a row (RocksDB compaction
     * and the load's garbage collection run in it), at most {@code limit}; returns the milliseconds waited.
     */
    static long awaitQuiet(Duration limit) throws InterruptedException {
        com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        // The JIT compiles the job's paths for minutes after they first run; on 2 cores its threads take a
        // fifth of a core from whatever is measured, which a long-running job does not pay.
        java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        long started = System.currentTimeMillis();
        int quietSeconds = 0;
        os.getProcessCpuLoad();
        long compiled = jit.getTotalCompilationTime();
        while (quietSeconds < 3 && System.currentTimeMillis() - started < limit.toMillis()) {
            Thread.sleep(1000);
            long nowCompiled = jit.getTotalCompilationTime();
            boolean quiet = os.getProcessCpuLoad() < 0.2 && nowCompiled - compiled < 50;
            compiled = nowCompiled;
            quietSeconds = quiet ? quietSeconds + 1 : 0;
        }
        return System.currentTimeMillis() - started;
    }

    /**
     * Heap the key matrix (int8 rows and the lexical index) takes per memory, measured by filling one in this JVM
     * with at least 200k rows: at small sizes the matrix is lost in the noise of the job's own garbage, which is
     * what made earlier figures read 0.
     */
    static double heapBytesPerMemory(List<Memory> base, int size) throws InterruptedException {
        int rows = Math.max(size, 200_000);
        long before = usedHeapAfterGc();
        KeyMatrix matrix = new KeyMatrix();
        for (int i = 0; i < rows; i++) {
            Memory m = base.get(i % base.size());
            matrix.put("rep-" + i, m.key, m.terms, m.termWeights);
        }
        long after = usedHeapAfterGc();
        if (matrix.size() != rows) {
            throw new IllegalStateException("matrix lost rows");
        }
        return Math.max(0, after - before) / (double) rows;
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        java.lang.management.MemoryMXBean memory = java.lang.management.ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    static long directorySize(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
