package io.cmtstream.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GpuProbingTest {

    @Test
    void djlsGpuProbesAreQuietWhileLoadingUnlessAGpuWasAsked() {
        List<Boolean> outside = warnEnabled();
        assertEquals(List.of(true, true), outside, "the test's logging lets both probes warn");
        assertEquals(List.of(false, false), GpuProbing.quietUnlessGpu("auto", GpuProbingTest::warnEnabled));
        assertEquals(List.of(false, false), GpuProbing.quietUnlessGpu("cpu", GpuProbingTest::warnEnabled));
        assertEquals(List.of(true, true), GpuProbing.quietUnlessGpu("gpu", GpuProbingTest::warnEnabled));
        // Restored afterwards, also when the load fails.
        try {
            GpuProbing.quietUnlessGpu("auto", () -> {
                throw new ModelLoadException("missing file");
            });
        } catch (ModelLoadException expected) {
            // the load's own failure
        }
        assertEquals(outside, warnEnabled());
    }

    @Test
    void onlyAnNvidiaDeviceFileMakesAHostWorthProbing(@TempDir Path dev) throws Exception {
        Files.createFile(dev.resolve("null"));
        assertFalse(GpuProbing.hasNvidiaDeviceFile(dev));
        Files.createFile(dev.resolve("nvidiactl"));
        assertTrue(GpuProbing.hasNvidiaDeviceFile(dev));
    }

    private static List<Boolean> warnEnabled() {
        return GpuProbing.PROBE_LOGGERS.stream().map(n -> LoggerFactory.getLogger(n).isWarnEnabled()).toList();
    }
}
