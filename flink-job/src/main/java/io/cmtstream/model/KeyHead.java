package io.cmtstream.model;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.nio.file.Path;
import java.util.List;

/**
 * The trained compressor head ({@code compressor.pt}) as contract {@code cmt-model/4} uses it: the backbone's last
 * states and the token ids to an L2-normalised key. Its first output, the older contracts' memory tokens, is not
 * read: a memory is now the backbone's states after its memory layer ({@link MemoryStates}).
 *
 * <p>The word-embedding matrix ({@code embeddings.pt}) and the head's de-quantised weights are made once at load
 * and passed to every call. Thread-safe: calls share only those read-only tensors. Owns the head's model and those
 * tensors; {@link #close} frees them.
 */
final class KeyHead implements AutoCloseable {

    private final Model compressor;
    private final Path file;
    private final NDManager manager;
    private final NDArray embeddings;
    private final NDArray weights;
    private final int hidden;
    private final int keyWidth;
    private final long pad;

    private KeyHead(Model compressor, Path file, NDManager manager, NDArray embeddings, NDArray weights,
                    int hidden, int keyWidth, long pad) {
        this.compressor = compressor;
        this.file = file;
        this.manager = manager;
        this.embeddings = embeddings;
        this.weights = weights;
        this.hidden = hidden;
        this.keyWidth = keyWidth;
        this.pad = pad;
    }

    /**
     * Loads the compressor and the embeddings named in {@code config}; what it opens is added to {@code opened}.
     *
     * @throws ModelLoadException naming the file at fault
     */
    static KeyHead load(ModelConfig config, Device device, List<AutoCloseable> opened) {
        ModelConfig.ModelFiles files = config.files();
        Model compressor = TorchScripts.load("compressor", files.compressor(), device, opened);
        NDManager manager = compressor.getNDManager().newSubManager();
        opened.add(manager);
        NDArray embeddings = TorchScripts.embeddings(files.embeddings(), device, config.dims().vocab(),
                config.dims().hidden(), manager);
        NDArray weights = TorchScripts.headWeights(compressor, files.compressor(), manager);
        return new KeyHead(compressor, files.compressor(), manager, embeddings, weights, config.dims().hidden(),
                config.dims().key(), config.tokens().pad());
    }

    /** The device the head runs on. */
    Device device() {
        return compressor.getNDManager().getDevice();
    }

    /**
     * The keys of a batch, row-major {@code [B, key]}.
     *
     * @param last the backbone's last states, row-major {@code [B, maxLength, hidden]}
     */
    float[] keys(float[] last, Tokenized tokens) {
        int batch = tokens.batch();
        int length = tokens.maxLength();
        try (NDManager call = compressor.getNDManager().newSubManager()) {
            NDList outputs = TorchScripts.forward(compressor, file, call, new NDList(
                    call.create(last, new Shape(batch, length, hidden)),
                    call.create(tokens.paddedIds(pad), new Shape(batch, length)),
                    call.create(tokens.mask(), new Shape(batch, length)),
                    embeddings,
                    weights));
            if (outputs.size() != 2) {
                throw new IllegalStateException(file + " must return (memory, key), returned " + outputs.size()
                        + " tensors");
            }
            TorchScripts.expectShape(file, "key", outputs.get(1), batch, keyWidth);
            return outputs.get(1).toFloatArray();
        }
    }

    @Override
    public void close() {
        TorchScripts.closeAll(List.of(compressor, manager), null);
    }
}
