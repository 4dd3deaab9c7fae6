package io.cmtstream.model;

import java.io.Serializable;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * Which model a task manager loads and how its shared runtime batches: the part of the job configuration that
 * travels with the Flink operators to {@link ModelRuntime#acquire}.
 *
 * @param modelDir the model directory (see docs/MODEL-CONTRACT.md), a path on the task manager
 * @param maxBatchSize most requests per model call, at least 1 (default {@value #DEFAULT_MAX_BATCH_SIZE})
 * @param maxBatchDelayMillis longest a request waits for companions in its batch, at least 0 (default
 *     {@value #DEFAULT_MAX_BATCH_DELAY_MILLIS})
 * @param device {@code auto} (GPU where the engine has one, else CPU), {@code cpu}, or {@code gpu} (fail at start
 *     without one)
 */
public record ModelSpec(String modelDir, int maxBatchSize, long maxBatchDelayMillis, String device)
        implements Serializable {

    public static final int DEFAULT_MAX_BATCH_SIZE = 32;
    public static final long DEFAULT_MAX_BATCH_DELAY_MILLIS = 5;
    public static final String DEFAULT_DEVICE = "auto";

    private static final Set<String> DEVICES = Set.of("auto", "cpu", "gpu");

    public ModelSpec {
        Objects.requireNonNull(modelDir, "modelDir");
        if (modelDir.isBlank()) {
            throw new IllegalArgumentException("modelDir must not be blank");
        }
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, was " + maxBatchSize);
        }
        if (maxBatchDelayMillis < 0) {
            throw new IllegalArgumentException("maxBatchDelayMillis must be >= 0, was " + maxBatchDelayMillis);
        }
        checkDevice(device);
    }

    /** The model in {@code modelDir} with the default batching and device. */
    public static ModelSpec of(String modelDir) {
        return new ModelSpec(modelDir, DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_BATCH_DELAY_MILLIS, DEFAULT_DEVICE);
    }

    /** This spec with another {@link #maxBatchSize()}. */
    public ModelSpec withMaxBatchSize(int size) {
        return new ModelSpec(modelDir, size, maxBatchDelayMillis, device);
    }

    /** This spec with another {@link #maxBatchDelayMillis()}. */
    public ModelSpec withMaxBatchDelayMillis(long millis) {
        return new ModelSpec(modelDir, maxBatchSize, millis, device);
    }

    /** This spec with another {@link #device()}. */
    public ModelSpec withDevice(String newDevice) {
        return new ModelSpec(modelDir, maxBatchSize, maxBatchDelayMillis, newDevice);
    }

    static String checkDevice(String device) {
        Objects.requireNonNull(device, "device");
        if (!DEVICES.contains(device)) {
            throw new IllegalArgumentException("device must be one of auto, cpu, gpu; was '" + device + "'");
        }
        return device;
    }

    /** {@link #maxBatchDelayMillis} as a duration. */
    public Duration maxBatchDelay() {
        return Duration.ofMillis(maxBatchDelayMillis);
    }
}
