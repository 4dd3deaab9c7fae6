package io.cmtstream.model;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The pretrained backbone (a BERT encoder exported to ONNX) on DJL's ONNX Runtime engine, the default
 * {@link Backbone}: one pass gives the last layer's states and, for a model with a reader, the states after the
 * memory layer, both from the same run.
 *
 * <p>ONNX Runtime returns only a graph's declared outputs, so the memory layer's tensor is declared as a second
 * output in a copy of the file at load ({@link OnnxGraphOutputs}, {@link BackboneResources#fileWithOutput}).
 *
 * <p>Thread-safe (ONNX Runtime sessions are). Owns its ONNX Runtime model; {@link #close} frees it.
 */
final class BackboneSession implements Backbone {

    private static final Logger LOG = LoggerFactory.getLogger(BackboneSession.class);

    private static final String ENGINE = "OnnxRuntime";
    private static final String LAST_LAYER = "last_hidden_state";
    private static final String[] INPUTS = {"input_ids", "attention_mask", "token_type_ids"};

    private final Model model;
    private final String name;
    private final List<String> inputs;
    private final int hidden;
    private final long pad;
    /** The memory layer's tensor, or null when only the last layer is wanted (retrieval-only). */
    private final String memoryOutput;

    private BackboneSession(Model model, String name, List<String> inputs, int hidden, long pad,
                            String memoryOutput) {
        this.model = model;
        this.name = name;
        this.inputs = inputs;
        this.hidden = hidden;
        this.pad = pad;
        this.memoryOutput = memoryOutput;
    }

    /**
     * Loads the backbone named in {@code config}.
     *
     * @param device {@code auto}, {@code cpu} or {@code gpu}
     * @throws ModelLoadException naming the resource, or the tensor the graph lacks
     */
    static BackboneSession load(ModelConfig config, String device) {
        ModelConfig.Backbone backbone = config.backbone();
        String name = backbone.onnxResource();
        String memoryOutput = config.hasReader() ? backbone.memoryOutput() : null;
        Path json = ModelConfig.modelJson(config.dir());
        Path onnx;
        try {
            onnx = memoryOutput == null ? BackboneResources.file(config.dir(), name)
                    : BackboneResources.fileWithOutput(config.dir(), name, memoryOutput);
        } catch (IOException e) {
            throw new ModelLoadException("cannot load the backbone named in " + json + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException("cannot load backbone " + name + " with the memory layer output named in "
                    + json + " (backbone.memoryOutput): " + e.getMessage(), e);
        }
        Model model = Model.newInstance("backbone", device(device), ENGINE);
        try {
            model.load(onnx);
            return new BackboneSession(model, name, inputs(model, name), backbone.hidden(), config.tokens().pad(),
                    memoryOutput);
        } catch (IOException | MalformedModelException | RuntimeException e) {
            model.close();
            if (e instanceof ModelLoadException m) {
                throw m;
            }
            throw new ModelLoadException("cannot load backbone " + name + " (" + onnx + "): "
                    + TorchScripts.rootMessage(e), e);
        }
    }

    /** The device ONNX Runtime runs on. */
    @Override
    public Device device() {
        return model.getNDManager().getDevice();
    }

    @Override
    public String engine() {
        return ENGINE;
    }

    @Override
    public States run(Tokenized tokens) {
        int batch = tokens.batch();
        int length = tokens.maxLength();
        long[] ids = tokens.paddedIds(pad);
        long[] mask = new long[batch * length];
        for (int b = 0; b < batch; b++) {
            Arrays.fill(mask, b * length, b * length + tokens.length(b), 1L);
        }
        Shape shape = new Shape(batch, length);
        try (NDManager manager = model.getNDManager().newSubManager()) {
            NDList in = new NDList();
            for (String input : inputs) {
                long[] values = switch (input) {
                    case "input_ids" -> ids;
                    case "attention_mask" -> mask;
                    default -> new long[batch * length];
                };
                NDArray array = manager.create(values, shape);
                array.setName(input);
                in.add(array);
            }
            NDList outputs;
            try {
                outputs = model.getBlock().forward(new ParameterStore(manager, false), in, false);
                outputs.attach(manager);
            } catch (RuntimeException e) {
                throw new IllegalStateException(name + " failed: " + TorchScripts.rootMessage(e), e);
            }
            NDArray last = outputs.get(LAST_LAYER);
            if (last == null) {
                last = outputs.get(0);
            }
            TorchScripts.expectShape(name, LAST_LAYER, last, batch, length, hidden);
            float[] memory = null;
            if (memoryOutput != null) {
                NDArray states = outputs.get(memoryOutput);
                if (states == null) {
                    throw new IllegalStateException(name + " did not return " + memoryOutput);
                }
                TorchScripts.expectShape(name, memoryOutput, states, batch, length, hidden);
                memory = states.toFloatArray();
            }
            return new States(last.toFloatArray(), memory);
        }
    }

    @Override
    public void close() {
        model.close();
    }

    private static List<String> inputs(Model model, String name) {
        PairList<String, Shape> described = model.getBlock().describeInput();
        List<String> names = described.keys();
        List<String> ordered = new ArrayList<>();
        for (String input : names) {
            if (!Arrays.asList(INPUTS).contains(input)) {
                throw new ModelLoadException("backbone " + name + " has an input '" + input
                        + "' the contract does not know (expected some of " + Arrays.toString(INPUTS) + ")");
            }
            ordered.add(input);
        }
        if (!ordered.contains("input_ids") || !ordered.contains("attention_mask")) {
            throw new ModelLoadException("backbone " + name + " must take input_ids and attention_mask, takes "
                    + names);
        }
        return List.copyOf(ordered);
    }

    private static Device device(String device) {
        if ("cpu".equals(device) || ("auto".equals(device) && !GpuProbing.mayHaveGpu())) {
            return Device.cpu();
        }
        Engine ort = Engine.getEngine(ENGINE);
        boolean gpu = ort.getGpuCount() > 0 && ort.hasCapability(StandardCapabilities.CUDA);
        if (!gpu && "gpu".equals(device)) {
            LOG.warn("device=gpu but ONNX Runtime has no CUDA provider (the onnxruntime_gpu artifact replaces "
                    + "onnxruntime for that); the backbone runs on the CPU");
        }
        return gpu ? Device.gpu() : Device.cpu();
    }
}
