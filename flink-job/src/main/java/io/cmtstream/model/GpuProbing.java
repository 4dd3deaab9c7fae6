package io.cmtstream.model;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.config.Configurator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * DJL's GPU probing, quiet where no GPU was asked for. Loading DJL's engines and native libraries (the tokenizer's,
 * PyTorch's) asks the CUDA runtime for the GPU count, and asking ONNX Runtime's CPU build for a GPU tries its CUDA
 * provider: on a machine without a usable GPU each logs a warning ({@code CudaUtils: Failed to detect GPU count},
 * {@code OrtEngine: CUDA is not supported}) that tells a CPU user nothing. With device {@code auto} or {@code cpu}
 * those two loggers are held at ERROR while the model loads, and {@code auto} takes the CPU without probing where
 * the host has no NVIDIA device file; with {@code gpu} everything is logged, since there the warnings say why no
 * GPU was found. The logger levels are log4j2's (Flink's logging); under another SLF4J binding nothing is
 * silenced.
 *
 * <p>Thread-safety: {@link #quietUnlessGpu} changes JVM-wide logger levels for its duration; the model runtime
 * loads one model at a time.
 */
final class GpuProbing {
    private static final Logger LOG = LoggerFactory.getLogger(GpuProbing.class);

    /** The loggers of DJL's GPU probes. */
    static final List<String> PROBE_LOGGERS = List.of("ai.djl.util.cuda.CudaUtils", "ai.djl.onnxruntime.engine.OrtEngine");

    private static final Path DEV = Path.of("/dev");

    private GpuProbing() {}

    /**
     * Whether a GPU may be used here: on Linux, only where an NVIDIA device file ({@code /dev/nvidia0},
     * {@code /dev/nvidiactl}, ...) exists, as the NVIDIA container toolkit and device plugin provide them; other
     * systems are always probed.
     */
    static boolean mayHaveGpu() {
        return !System.getProperty("os.name", "").startsWith("Linux") || hasNvidiaDeviceFile(DEV);
    }

    static boolean hasNvidiaDeviceFile(Path dev) {
        try (Stream<Path> files = Files.list(dev)) {
            return files.anyMatch(f -> f.getFileName().toString().startsWith("nvidia"));
        } catch (IOException e) {
            return true;
        }
    }

    /** Runs {@code load} with DJL's probe loggers at ERROR unless {@code device} is {@code gpu}. */
    static <T> T quietUnlessGpu(String device, Supplier<T> load) {
        if ("gpu".equals(device)) {
            return load.get();
        }
        Map<String, Level> before;
        try {
            before = new LinkedHashMap<>();
            for (String name : PROBE_LOGGERS) {
                before.put(name, LogManager.getLogger(name).getLevel());
                Configurator.setLevel(name, Level.ERROR);
            }
        } catch (LinkageError | RuntimeException e) {
            // Not log4j2 underneath: the probes log as they do.
            LOG.debug("cannot quiet DJL's GPU probes: {}", e.toString());
            return load.get();
        }
        try {
            return load.get();
        } finally {
            before.forEach(Configurator::setLevel);
        }
    }
}
