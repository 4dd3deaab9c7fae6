package io.cmtstream.model;

import ai.djl.Device;

import java.util.List;

/**
 * The pretrained encoder under the trained heads: one pass over a batch of token ids gives the last layer's states
 * (what the key is computed from) and, for a model with a reader, the states after the memory layer (what memories
 * and questions are read by). Two engines run it: ONNX Runtime on the ONNX file ({@link BackboneSession}, the
 * default) and PyTorch on the bundle's weight-free TorchScript ({@link TorchBackbone}, so that the whole model runs
 * on a GPU); both read the same weights and give the same states to float rounding.
 *
 * <p>Implementations are thread-safe and own their native resources; {@link #close} frees them.
 */
interface Backbone extends AutoCloseable {

    /**
     * The states of one batch, each row-major {@code [B, L, hidden]} with rows padded to the batch's longest.
     *
     * @param last the last layer's states
     * @param memory the memory layer's states, or null when the model has none
     */
    record States(float[] last, float[] memory) {}

    /** Runs the backbone over {@code tokens}. */
    States run(Tokenized tokens);

    /** The device it runs on. */
    Device device();

    /** The DJL engine it runs on. */
    String engine();

    @Override
    void close();

    /**
     * Loads the backbone of {@code config} on the engine {@code engine} chooses: {@code onnx} ONNX Runtime (on
     * {@code device} as {@link BackboneSession} resolves it), {@code torch} PyTorch on {@code torchDevice}, the heads'
     * device; {@code auto} takes PyTorch where that is a GPU and the model has a backbone script, else ONNX Runtime,
     * so that on a CPU the default is the ONNX backbone. What it opens is added to {@code opened}.
     *
     * @param torchDevice the heads' device, or null for a retrieval-only model (which has no script)
     * @throws ModelLoadException if {@code torch} is asked of a model without {@code files.backbone}, or the backbone
     *     fails to load
     */
    static Backbone load(ModelConfig config, String device, Device torchDevice, String engine,
                         List<AutoCloseable> opened) {
        ModelSpec.checkBackboneEngine(engine);
        boolean script = config.hasReader() && config.files().backbone() != null;
        boolean torch = switch (engine) {
            case "torch" -> true;
            case "onnx" -> false;
            default -> script && torchDevice != null && torchDevice.isGpu();
        };
        if (torch && !script) {
            throw new ModelLoadException("backbone engine torch needs a backbone script, which "
                    + ModelConfig.modelJson(config.dir()) + " does not name (files.backbone, "
                    + "docs/MODEL-CONTRACT.md)");
        }
        if (torch) {
            return TorchBackbone.load(config, torchDevice, opened);
        }
        Backbone onnx = BackboneSession.load(config, device);
        opened.add(onnx);
        return onnx;
    }
}
