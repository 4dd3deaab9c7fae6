package io.cmtstream.model;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.training.ParameterStore;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Loading and calling the model's TorchScript files through DJL's PyTorch engine, with failures that name the
 * file: the one place that knows the contract's conventions for them (a head's {@code weights} method run once at
 * load, outputs checked for shape).
 *
 * <p>Stateless and thread-safe.
 */
final class TorchScripts {

    private static final Logger LOG = LoggerFactory.getLogger(TorchScripts.class);

    static final String ENGINE = "PyTorch";
    /** The heads' method that returns their de-quantised weights, run once at load. */
    private static final String HEAD_WEIGHTS = "weights";

    private TorchScripts() {}

    /** The device the heads run on: {@code auto} takes a GPU when the engine sees one. */
    static Device device(String device) {
        if ("cpu".equals(device) || ("auto".equals(device) && !GpuProbing.mayHaveGpu())) {
            return Device.cpu();
        }
        Engine torch;
        try {
            torch = Engine.getEngine(ENGINE);
        } catch (RuntimeException e) {
            throw new ModelLoadException("cannot start the PyTorch engine: " + rootMessage(e), e);
        }
        if (torch.getGpuCount() > 0) {
            return Device.gpu();
        }
        if ("gpu".equals(device)) {
            throw new ModelLoadException("device=gpu but the PyTorch engine " + torch.getVersion()
                    + " sees no GPU (is the CUDA native library, not pytorch-native-cpu, on the classpath?)");
        }
        return Device.cpu();
    }

    /** Loads {@code file}; the model is added to {@code opened} so that the caller closes it on any failure. */
    static Model load(String role, Path file, Device device, List<AutoCloseable> opened) {
        Model model;
        try {
            model = Model.newInstance(role, device, ENGINE);
        } catch (RuntimeException e) {
            throw new ModelLoadException("cannot start the PyTorch engine to load " + file + ": " + rootMessage(e),
                    e);
        }
        opened.add(model);
        try {
            // mapLocation: files exported on CPU load onto the GPU and vice versa.
            model.load(file, null, Map.of("mapLocation", "true"));
        } catch (IOException | MalformedModelException | RuntimeException e) {
            throw new ModelLoadException("cannot load " + file + ": " + rootMessage(e), e);
        }
        return model;
    }

    /** Runs the embeddings file once: its output, the de-quantised matrix {@code [vocab, hidden]}, lives in {@code into}. */
    static NDArray embeddings(Path file, Device device, long vocab, long hidden, NDManager into) {
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Model model = load("embeddings", file, device, opened);
            NDList outputs = forward(model, file, into, new NDList(into.zeros(new Shape(1))));
            NDArray matrix = outputs.get(0);
            expectShape(file, "embeddings", matrix, vocab, hidden);
            return matrix;
        } catch (IllegalStateException e) {
            throw new ModelLoadException("cannot load " + file + ": " + e.getMessage(), e);
        } finally {
            closeAll(opened, null);
        }
    }

    /**
     * Runs a head's traced {@code weights} method once: its output, the head's weight matrices de-quantised into
     * one flat float vector, lives in {@code into}.
     */
    static NDArray headWeights(Model head, Path file, NDManager into) {
        long started = System.nanoTime();
        NDArray like = into.zeros(new Shape(1));
        IValue input = IValue.from((PtNDArray) like);
        NDArray vector;
        try (IValue result = IValueUtils.runMethod((PtSymbolBlock) head.getBlock(), HEAD_WEIGHTS, input)) {
            if (!result.isTensor()) {
                throw new ModelLoadException("cannot load " + file + ": its " + HEAD_WEIGHTS
                        + " method must return one tensor");
            }
            vector = result.toTensor((PtNDManager) into);
        } catch (ModelLoadException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ModelLoadException("cannot load " + file + ": its " + HEAD_WEIGHTS + " method failed (a "
                    + ModelConfig.FORMAT + " head has one, see docs/MODEL-CONTRACT.md): " + rootMessage(e), e);
        } finally {
            input.close();
            like.close();
        }
        if (vector.getShape().dimension() != 1 || vector.getDataType() != DataType.FLOAT32) {
            Shape shape = vector.getShape();
            DataType type = vector.getDataType();
            vector.close();
            throw new ModelLoadException("cannot load " + file + ": its " + HEAD_WEIGHTS + " method returned "
                    + type + " " + shape + ", expected a float32 vector");
        }
        LOG.info("De-quantised {} weight floats ({} MiB) of {} once, in {} ms", vector.size(),
                String.format(Locale.ROOT, "%.1f", vector.size() * 4.0 / (1 << 20)), file,
                (System.nanoTime() - started) / 1_000_000);
        return vector;
    }

    /** Runs {@code model}'s forward; its outputs live in {@code manager}. */
    static NDList forward(Model model, Path file, NDManager manager, NDList inputs) {
        try {
            NDList outputs = model.getBlock().forward(new ParameterStore(manager, false), inputs, false);
            outputs.attach(manager);
            return outputs;
        } catch (RuntimeException e) {
            throw new IllegalStateException(file + " failed: " + rootMessage(e), e);
        }
    }

    /**
     * Runs {@code model}'s method {@code method} on {@code inputs}, tensors all; its outputs (one tensor, or each
     * tensor of a returned tuple) live in {@code manager}.
     */
    static NDList runMethod(Model model, Path file, String method, NDManager manager, NDList inputs) {
        IValue[] in = new IValue[inputs.size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = IValue.from((PtNDArray) inputs.get(i));
        }
        try (IValue result = IValueUtils.runMethod((PtSymbolBlock) model.getBlock(), method, in)) {
            NDList outputs = new NDList();
            if (result.isTuple()) {
                for (IValue part : result.toIValueTuple()) {
                    try (part) {
                        outputs.add(part.toTensor((PtNDManager) manager));
                    }
                }
            } else {
                outputs.add(result.toTensor((PtNDManager) manager));
            }
            return outputs;
        } catch (RuntimeException e) {
            throw new IllegalStateException(file + " method " + method + " failed: " + rootMessage(e), e);
        } finally {
            for (IValue value : in) {
                value.close();
            }
        }
    }

    static void expectShape(Object file, String output, NDArray array, long... expected) {
        Shape actual = array.getShape();
        if (!actual.equals(new Shape(expected))) {
            throw new IllegalStateException(file + " returned " + output + " of shape " + actual + ", expected "
                    + new Shape(expected));
        }
    }

    /** The message of the root cause; TorchScript's C++ traceback cut to its first lines, which say what is wrong. */
    static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        String[] lines = message.split("\n");
        return lines.length <= 3 ? message : String.join(" ", Arrays.copyOf(lines, 3)) + " ...";
    }

    /** Closes {@code resources} last first; failures are suppressed into {@code primary}, or logged. */
    static void closeAll(List<? extends AutoCloseable> resources, Throwable primary) {
        for (int i = resources.size() - 1; i >= 0; i--) {
            AutoCloseable resource = resources.get(i);
            if (resource == null) {
                continue;
            }
            try {
                resource.close();
            } catch (Exception e) {
                if (primary != null) {
                    primary.addSuppressed(e);
                } else {
                    LOG.warn("Closing {} failed", resource, e);
                }
            }
        }
    }
}
