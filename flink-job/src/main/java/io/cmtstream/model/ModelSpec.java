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
 * @param backboneEngine what runs the backbone: {@code onnx} (ONNX Runtime on the ONNX file), {@code torch} (PyTorch
 *     on the model's {@code files.backbone} script, on the heads' device), or {@code auto} (default: torch where the
 *     heads run on a GPU and the model has the script, else onnx); see {@link Backbone#load}
 */
public record ModelSpec(String modelDir, int maxBatchSize, long maxBatchDelayMillis, String device,
                        String backboneEngine) implements Serializable {

    public static final int DEFAULT_MAX_BATCH_SIZE = 32;
    public static final long DEFAULT_MAX_BATCH_DELAY_MILLIS = 5;
    public static final String DEFAULT_DEVICE = "auto";
    public static final String DEFAULT_BACKBONE_ENGINE = "auto";

    private static final Set<String> DEVICES = Set.of("auto", "cpu", "gpu");
    private static final Set<String> BACKBONE_ENGINES = Set.of("auto", "onnx", "torch");

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
        checkBackboneEngine(backboneEngine);
    }

    /** A spec with the default backbone engine. */
    public ModelSpec(String modelDir, int maxBatchSize, long maxBatchDelayMillis, String device) {
        this(modelDir, maxBatchSize, maxBatchDelayMillis, device, DEFAULT_BACKBONE_ENGINE);
    }

    /** The model in {@code modelDir} with the default batching and device. */
    public static ModelSpec of(String modelDir) {
        return new ModelSpec(modelDir, DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_BATCH_DELAY_MILLIS, DEFAULT_DEVICE,
                DEFAULT_BACKBONE_ENGINE);
    }

    /** This spec with another {@link #maxBatchSize()}. */
    public ModelSpec withMaxBatchSize(int size) {
        return new ModelSpec(modelDir, size, maxBatchDelayMillis, device, backboneEngine);
    }

    /** This spec with another {@link #maxBatchDelayMillis()}. */
    public ModelSpec withMaxBatchDelayMillis(long millis) {
        return new ModelSpec(modelDir, maxBatchSize, millis, device, backboneEngine);
    }

    /** This spec with another {@link #device()}. */
    public ModelSpec withDevice(String newDevice) {
        return new ModelSpec(modelDir, maxBatchSize, maxBatchDelayMillis, newDevice, backboneEngine);
    }

    /** This spec with another {@link #backboneEngine()}. */
    public ModelSpec withBackboneEngine(String engine) {
        return new ModelSpec(modelDir, maxBatchSize, maxBatchDelayMillis, device, engine);
    }

    static String checkBackboneEngine(String engine) {
        Objects.requireNonNull(engine, "backboneEngine");
        if (!BACKBONE_ENGINES.contains(engine)) {
            throw new IllegalArgumentException("backbone engine must be one of auto, onnx, torch; was '" + engine
                    + "'");
        }
        return engine;
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
