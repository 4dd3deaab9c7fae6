package io.cmtstream.model;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The backbone on DJL's PyTorch engine, so that on a GPU the whole model runs there: the bundle's weight-free
 * TorchScript ({@code files.backbone}, docs/MODEL-CONTRACT.md "Backbone (TorchScript)") fed with the ONNX file's
 * own weights. The script names, in input order, the ONNX initializers it takes ({@code weight_names}) and their
 * shapes ({@code weight_shapes}); they are read from the ONNX file once ({@link OnnxInitializers}) and copied onto
 * the device once, where every call passes them as one list.
 *
 * <p>Thread-safe: calls share only the weights, read-only. Owns the script's model and the weights; {@link #close}
 * frees them.
 */
final class TorchBackbone implements Backbone {

    private static final Logger LOG = LoggerFactory.getLogger(TorchBackbone.class);

    private static final String WEIGHT_NAMES = "weight_names";
    private static final String WEIGHT_SHAPES = "weight_shapes";

    private final Model script;
    private final Path file;
    private final NDManager manager;
    private final PtNDArray[] weights;
    private final int hidden;
    private final long pad;
    private final int memoryLayer;

    private TorchBackbone(Model script, Path file, NDManager manager, PtNDArray[] weights, int hidden, long pad,
                          int memoryLayer) {
        this.script = script;
        this.file = file;
        this.manager = manager;
        this.weights = weights;
        this.hidden = hidden;
        this.pad = pad;
        this.memoryLayer = memoryLayer;
    }

    /**
     * Loads {@code files.backbone} of {@code config} onto {@code device} with the weights of the ONNX backbone it
     * names; what it opens is added to {@code opened}.
     *
     * @throws ModelLoadException naming the file at fault, or the weight the ONNX file lacks or has in another shape
     */
    static TorchBackbone load(ModelConfig config, Device device, List<AutoCloseable> opened) {
        long started = System.nanoTime();
        Path file = config.files().backbone();
        String onnxName = config.backbone().onnxResource();
        Model script = TorchScripts.load("backbone", file, device, opened);
        List<String> names;
        List<long[]> shapes;
        try {
            names = names(script);
            shapes = shapes(script);
        } catch (RuntimeException e) {
            throw new ModelLoadException("cannot load " + file + ": its " + WEIGHT_NAMES + " and " + WEIGHT_SHAPES
                    + " methods (docs/MODEL-CONTRACT.md) failed: " + TorchScripts.rootMessage(e), e);
        }
        if (names.size() != shapes.size()) {
            throw new ModelLoadException("cannot load " + file + ": " + names.size() + " weight names but "
                    + shapes.size() + " weight shapes");
        }
        Map<String, OnnxInitializers.Tensor> initializers;
        Path onnx;
        try {
            onnx = BackboneResources.file(config.dir(), onnxName);
            initializers = OnnxInitializers.read(onnx);
        } catch (IOException | IllegalArgumentException e) {
            throw new ModelLoadException("cannot read the weights of backbone " + onnxName + " for " + file + ": "
                    + e.getMessage(), e);
        }
        NDManager weightManager = script.getNDManager().newSubManager();
        opened.add(weightManager);
        PtNDArray[] weights = new PtNDArray[names.size()];
        long floats = 0;
        for (int i = 0; i < weights.length; i++) {
            OnnxInitializers.Tensor tensor = initializers.get(names.get(i));
            if (tensor == null || tensor.dataType() != OnnxInitializers.FLOAT) {
                throw new ModelLoadException(file + " takes the weight '" + names.get(i) + "', which " + onnx
                        + " does not have as float32" + (tensor == null ? "" : " (its type is " + tensor.dataType()
                        + ")"));
            }
            if (!Arrays.equals(tensor.dims(), shapes.get(i))) {
                throw new ModelLoadException(file + " takes the weight '" + names.get(i) + "' of shape "
                        + Arrays.toString(shapes.get(i)) + ", " + onnx + " has it as " + Arrays.toString(tensor.dims()));
            }
            weights[i] = (PtNDArray) weightManager.create(tensor.values(), new Shape(tensor.dims()));
            floats += weights[i].size();
        }
        LOG.info("Loaded backbone script {} on {} with {} weights ({} floats) of {} in {} ms", file, device,
                weights.length, floats, onnxName, (System.nanoTime() - started) / 1_000_000);
        return new TorchBackbone(script, file, weightManager, weights, config.backbone().hidden(),
                config.tokens().pad(), config.backbone().memoryLayer());
    }

    @Override
    public Device device() {
        return script.getNDManager().getDevice();
    }

    @Override
    public String engine() {
        return TorchScripts.ENGINE;
    }

    @Override
    public States run(Tokenized tokens) {
        int batch = tokens.batch();
        int length = tokens.maxLength();
        long[] mask = new long[batch * length];
        for (int b = 0; b < batch; b++) {
            Arrays.fill(mask, b * length, b * length + tokens.length(b), 1L);
        }
        Shape shape = new Shape(batch, length);
        try (NDManager call = script.getNDManager().newSubManager()) {
            List<IValue> inputs = new ArrayList<>(4);
            try {
                inputs.add(IValue.from((PtNDArray) call.create(tokens.paddedIds(pad), shape)));
                inputs.add(IValue.from((PtNDArray) call.create(mask, shape)));
                inputs.add(IValue.listFrom(weights));
                inputs.add(IValue.from((long) memoryLayer));
                NDArray last;
                NDArray memory;
                try (IValue result = IValueUtils.runMethod((PtSymbolBlock) script.getBlock(), "forward",
                        inputs.toArray(new IValue[0]))) {
                    IValue[] outputs = result.toIValueTuple();
                    try {
                        if (outputs.length != 2) {
                            throw new IllegalStateException(file + " must return (last, memory), returned "
                                    + outputs.length + " values");
                        }
                        last = outputs[0].toTensor((PtNDManager) call);
                        memory = outputs[1].toTensor((PtNDManager) call);
                    } finally {
                        TorchScripts.closeAll(Arrays.asList(outputs), null);
                    }
                } catch (IllegalStateException e) {
                    throw e;
                } catch (RuntimeException e) {
                    throw new IllegalStateException(file + " failed: " + TorchScripts.rootMessage(e), e);
                }
                TorchScripts.expectShape(file, "last", last, batch, length, hidden);
                TorchScripts.expectShape(file, "memory", memory, batch, length, hidden);
                return new States(last.toFloatArray(), memory.toFloatArray());
            } finally {
                TorchScripts.closeAll(inputs, null);
            }
        }
    }

    @Override
    public void close() {
        TorchScripts.closeAll(List.of(script, manager), null);
    }

    private static List<String> names(Model script) {
        try (IValue result = IValueUtils.runMethod((PtSymbolBlock) script.getBlock(), WEIGHT_NAMES)) {
            IValue[] items = result.toIValueArray();
            List<String> out = new ArrayList<>(items.length);
            for (IValue item : items) {
                try (item) {
                    out.add(item.toStringValue());
                }
            }
            return out;
        }
    }

    private static List<long[]> shapes(Model script) {
        try (IValue result = IValueUtils.runMethod((PtSymbolBlock) script.getBlock(), WEIGHT_SHAPES)) {
            IValue[] items = result.toIValueArray();
            List<long[]> out = new ArrayList<>(items.length);
            for (IValue item : items) {
                try (item) {
                    out.add(item.toLongArray());
                }
            }
            return out;
        }
    }
}
