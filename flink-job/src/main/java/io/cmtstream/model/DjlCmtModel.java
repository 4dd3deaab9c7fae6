package io.cmtstream.model;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The CMT model on DJL (contract {@value ModelConfig#FORMAT}, docs/MODEL-CONTRACT.md): the backbone's tokenizer
 * ({@link TextTokenizer}), the pretrained backbone ({@link Backbone}: through ONNX Runtime, or through PyTorch on
 * the model's backbone script, see {@link Backbone#load}), the trained key head ({@link KeyHead}) and span reader
 * ({@link SpanReader}) through PyTorch.
 *
 * <p>A text becomes {@code [CLS] tokens [SEP]} truncated to the model's maximum length; one backbone pass gives
 * the last layer's states, from which the key head makes the L2-normalised key, and the states after the memory
 * layer: a document keeps them as its memory (int8 per token, with its pieces as copy targets,
 * {@link MemoryStates}), a question keeps them as floats to be read with its memories. An answer is the best span
 * of the question's memories. A model without TorchScript files is retrieval-only: the key is the
 * L2-normalised {@code [CLS]} state and there is no memory and no reader.
 *
 * <p>Tensors never leave this package's classes: every call opens its own managers and closes them before
 * returning plain arrays. Thread-safe: concurrent calls share only the loaded weights and the tensors made from
 * them at load, which are read-only. The instance owns its parts; {@link #close} frees them and must not overlap a
 * call in flight ({@link ModelRuntime} guarantees that).
 */
public final class DjlCmtModel implements CmtModel {

    private static final Logger LOG = LoggerFactory.getLogger(DjlCmtModel.class);

    private static final String SELF_CHECK_TEXT = "What does the model remember?";
    /**
     * TorchScript's profiling graph executor re-specialises a graph for every new input shape it meets, and every
     * call here brings new ones (batch size, text lengths): left on (DJL's default) it adds recompilations to
     * calls long after warm-up. Off unless {@code -Dai.djl.pytorch.graph_optimizer=true}; the setting is per
     * thread, so every call sets it on the thread it runs on.
     */
    private static final boolean GRAPH_OPTIMIZER =
            Boolean.parseBoolean(System.getProperty("ai.djl.pytorch.graph_optimizer", "false"));
    /** Texts of a call are run in sub-batches whose padding is at most this share of their tokens. */
    private static final double MAX_PADDING_SHARE = 0.1;

    private final ModelConfig config;
    private final ModelInfo info;
    private final TextTokenizer tokenizer;
    private final Backbone backbone;
    /** The lexical half of keys; null when the model matches by dense keys only. */
    private final LexicalWeighting lexical;
    /** Null when retrieval-only, as is the reader. */
    private final KeyHead keyHead;
    private final SpanReader reader;
    private final AtomicBoolean closed = new AtomicBoolean();

    private DjlCmtModel(ModelConfig config, TextTokenizer tokenizer, Backbone backbone, KeyHead keyHead,
                        SpanReader reader) {
        this.config = config;
        this.info = config.info();
        this.tokenizer = tokenizer;
        this.backbone = backbone;
        this.keyHead = keyHead;
        this.reader = reader;
        // A retrieval-only model.json has no dims.vocab to check the table's length against.
        this.lexical = config.lexical() == null ? null
                : LexicalWeighting.load(config.lexical(), config.hasReader() ? config.dims().vocab() : 0);
    }

    /** As {@link #load(Path, String, String)} with the default backbone engine ({@code auto}). */
    public static DjlCmtModel load(Path dir, String device) {
        return load(dir, device, ModelSpec.DEFAULT_BACKBONE_ENGINE);
    }

    /**
     * Loads the model in {@code dir} and runs every part once on a sample text to check that it honours the
     * contract's shapes.
     *
     * @param device {@code auto}, {@code cpu} or {@code gpu} (see {@link ModelSpec#device()})
     * @param backboneEngine {@code auto}, {@code onnx} or {@code torch} (see {@link ModelSpec#backboneEngine()})
     * @throws ModelLoadException naming the missing or corrupt file, or the key of model.json at fault
     */
    public static DjlCmtModel load(Path dir, String device, String backboneEngine) {
        ModelSpec.checkDevice(device);
        ModelSpec.checkBackboneEngine(backboneEngine);
        return GpuProbing.quietUnlessGpu(device, () -> loadChecked(dir, device, backboneEngine));
    }

    private static DjlCmtModel loadChecked(Path dir, String device, String backboneEngine) {
        long started = System.nanoTime();
        ModelConfig config = ModelConfig.read(dir);
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            TextTokenizer tokenizer = TextTokenizer.load(config);
            opened.add(tokenizer);
            Device torchDevice = config.hasReader() ? TorchScripts.device(device) : null;
            Backbone backbone = Backbone.load(config, device, torchDevice, backboneEngine, opened);
            KeyHead keyHead = null;
            SpanReader reader = null;
            if (config.hasReader()) {
                keyHead = KeyHead.load(config, torchDevice, opened);
                reader = SpanReader.load(config, torchDevice, tokenizer.pieceText(), opened);
            }
            DjlCmtModel model = new DjlCmtModel(config, tokenizer, backbone, keyHead, reader);
            model.selfCheck();
            LOG.info("Loaded model {} version {} from {} ({}; backbone on {} {}, heads on {}) in {} ms",
                    config.name(), config.version(), dir, (config.hasReader() ? "with reader" : "retrieval-only")
                            + (config.lexical() != null ? ", dense + lexical matching" : ", dense matching"),
                    backbone.engine(), backbone.device(), keyHead == null ? "-" : keyHead.device(),
                    (System.nanoTime() - started) / 1_000_000);
            return model;
        } catch (RuntimeException | Error e) {
            TorchScripts.closeAll(opened, e);
            throw e;
        }
    }

    @Override
    public ModelInfo info() {
        return info;
    }

    /** The parsed model.json. */
    public ModelConfig config() {
        return config;
    }

    @Override
    public List<Encoding> encodeDocuments(List<String> texts) {
        onThisThread();
        return encode(texts, config.maxDocumentTokens(), true);
    }

    @Override
    public List<Encoding> encodeQueries(List<String> questions) {
        onThisThread();
        return encode(questions, config.maxQueryTokens(), false);
    }

    @Override
    public List<String> answer(List<AnswerRequest> requests) {
        if (reader == null) {
            throw new UnsupportedOperationException("model " + config.name() + " is retrieval-only: no reader");
        }
        for (int i = 0; i < requests.size(); i++) {
            AnswerRequest.validate(requests.get(i), info, "request " + i);
        }
        onThisThread();
        return reader.answer(requests);
    }

    /** Frees the weights and the tokenizer. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        TorchScripts.closeAll(Arrays.asList(tokenizer, backbone, keyHead, reader), null);
        LOG.info("Closed model {} version {}", config.name(), config.version());
    }

    /**
     * Applies {@link #GRAPH_OPTIMIZER} to the calling thread (a cheap native call; threads come and go). A
     * retrieval-only model never loads libtorch, so there is nothing to set.
     */
    private void onThisThread() {
        if (reader != null) {
            JniUtils.setGraphExecutorOptimize(GRAPH_OPTIMIZER);
        }
    }

    // ---- encoding (package-private parts for the parity tests) ----------------------------------------------

    Tokenized tokenize(List<String> texts, int maxTokens) {
        return tokenizer.tokenize(texts, maxTokens);
    }

    /** The DJL engine the backbone runs on. */
    String backboneEngine() {
        return backbone.engine();
    }

    Backbone.States backboneStates(Tokenized tokens) {
        return backbone.run(tokens);
    }

    /** The key head's keys, row-major {@code [B, key]}. */
    float[] keys(float[] last, Tokenized tokens) {
        return keyHead.keys(last, tokens);
    }

    /** The reader's logits at each row's memory positions. */
    List<SpanReader.Logits> readerLogits(List<SpanReader.Row> rows) {
        onThisThread();
        return reader.logits(rows);
    }

    private List<Encoding> encode(List<String> texts, int maxTokens, boolean documents) {
        if (texts.isEmpty()) {
            return List.of();
        }
        for (int i = 0; i < texts.size(); i++) {
            if (texts.get(i) == null) {
                throw new NullPointerException("text " + i + " is null");
            }
        }
        Tokenized all = tokenize(texts, maxTokens);
        int[] lengths = Arrays.stream(all.ids()).mapToInt(row -> row.length).toArray();
        Encoding[] out = new Encoding[texts.size()];
        for (int[] group : LengthBuckets.of(lengths, MAX_PADDING_SHARE)) {
            List<Encoding> encoded = encodeTokenized(all.select(group), documents);
            for (int i = 0; i < group.length; i++) {
                out[group[i]] = encoded.get(i);
            }
        }
        if (lexical != null) {
            for (int i = 0; i < out.length; i++) {
                long[] ids = all.ids()[i];
                out[i] = out[i].withTerms(documents ? lexical.document(ids) : lexical.query(ids));
            }
        }
        return Arrays.asList(out);
    }

    private List<Encoding> encodeTokenized(Tokenized tokens, boolean documents) {
        Backbone.States states = backbone.run(tokens);
        int batch = tokens.batch();
        int h = config.backbone().hidden();
        int rowLength = tokens.maxLength() * h;
        List<Encoding> out = new ArrayList<>(batch);
        if (keyHead == null) {
            for (int b = 0; b < batch; b++) {
                float[] cls = Arrays.copyOfRange(states.last(), b * rowLength, b * rowLength + h);
                out.add(new Encoding(l2Normalised(cls), new float[0], MemoryStates.NONE, tokens.tokenCounts()[b],
                        tokens.truncated()[b]));
            }
            return out;
        }
        float[] keys = keyHead.keys(states.last(), tokens);
        int keyWidth = info.keyDim();
        for (int b = 0; b < batch; b++) {
            float[] key = Arrays.copyOfRange(keys, b * keyWidth, (b + 1) * keyWidth);
            int length = tokens.length(b);
            // only the text's own tokens: padding rows are no part of a memory or a question
            Encoding e = documents
                    ? new Encoding(key, new float[0], MemoryStates.quantize(states.memory(), b * tokens.maxLength(),
                            length, h, tokens.pieces()[b]), tokens.tokenCounts()[b], tokens.truncated()[b])
                    : new Encoding(key, Arrays.copyOfRange(states.memory(), b * rowLength, b * rowLength + length * h),
                            MemoryStates.NONE, tokens.tokenCounts()[b], tokens.truncated()[b]);
            out.add(e);
        }
        return out;
    }

    /** Runs every part once so that a file breaking the contract fails the start, not the first record. */
    private void selfCheck() {
        try {
            Encoding question = encodeQueries(List.of(SELF_CHECK_TEXT)).get(0);
            if (reader != null) {
                Encoding document = encodeDocuments(List.of(SELF_CHECK_TEXT)).get(0);
                answer(List.of(new AnswerRequest(question.states(), List.of(document.memory()))));
            }
        } catch (RuntimeException e) {
            throw new ModelLoadException("model " + config.dir() + " fails its self-check: " + e.getMessage(), e);
        }
    }

    private static float[] l2Normalised(float[] v) {
        double sum = 0;
        for (float x : v) {
            sum += (double) x * x;
        }
        double norm = Math.sqrt(sum);
        if (norm > 0) {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (v[i] / norm);
            }
        }
        return v;
    }
}
