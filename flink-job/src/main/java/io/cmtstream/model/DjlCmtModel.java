package io.cmtstream.model;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
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
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The CMT model on DJL: the pretrained backbone through ONNX Runtime, the trained compressor head, aggregator and
 * reader (TorchScript) through PyTorch, the backbone's tokenizer through Hugging Face tokenizers.
 *
 * <p>Follows docs/MODEL-CONTRACT.md: texts become {@code [CLS] tokens [SEP]} truncated to the model's maximum
 * length and padded to the longest in the batch; the backbone's hidden states go through the compressor head to
 * memory tokens and an L2-normalised key; an answer is the aggregator's soft prompt decoded greedily by the reader,
 * all requests of a call in one batch, one position per step through the reader's key/value cache.
 *
 * <p>Nothing is de-quantised per call (contract {@value ModelConfig#FORMAT}): at load, the embeddings file's
 * output, the word-embedding matrix that the compressor and the reader both take as an input, and each head's
 * traced {@code weights} method's output, all its weight matrices de-quantised from int8 into one flat float
 * vector, are made once; every call of a head passes its vector as the last input (the heads only slice it).
 * A model without TorchScript files is retrieval-only: the key is the L2-normalised {@code [CLS]} state and there
 * are no memory tokens and no reader.
 *
 * <p>Tensors never leave this class: every call opens its own {@link NDManager}s and closes them before returning
 * plain arrays, and copies float arrays between the two engines. Thread-safe: concurrent calls share only the
 * loaded weights and the tensors made from them at load ({@link Weights}), which are read-only. The instance owns
 * its models, those tensors and its tokenizer; {@link #close} frees them and must not overlap a call in flight
 * ({@link ModelRuntime} guarantees that).
 */
public final class DjlCmtModel implements CmtModel {

    private static final Logger LOG = LoggerFactory.getLogger(DjlCmtModel.class);

    private static final String ONNX_ENGINE = "OnnxRuntime";
    private static final String TORCH_ENGINE = "PyTorch";
    private static final String[] BACKBONE_INPUTS = {"input_ids", "attention_mask", "token_type_ids"};
    private static final String SELF_CHECK_TEXT = "What does the model remember?";
    private static final String READER_STEP = "step";
    private static final String READER_FORWARD_AMONG = "forward_among";
    private static final String READER_STEP_AMONG = "step_among";
    /**
     * TorchScript's profiling graph executor re-specialises a graph for every new input shape it meets, and every
     * call here brings new ones (batch size, text length, answer position, cache length): left on (DJL's default)
     * it adds recompilations to calls long after warm-up. Off unless {@code -Dai.djl.pytorch.graph_optimizer=true};
     * the setting is per thread, so every call sets it on the thread it runs on.
     */
    private static final boolean GRAPH_OPTIMIZER =
            Boolean.parseBoolean(System.getProperty("ai.djl.pytorch.graph_optimizer", "false"));
    /** The heads' method that returns their de-quantised weights, run once at load. */
    private static final String HEAD_WEIGHTS = "weights";
    /** Texts of a call are run in sub-batches whose padding is at most this share of their tokens. */
    private static final double MAX_PADDING_SHARE = 0.1;

    private final ModelConfig config;
    private final ModelInfo info;
    private final HuggingFaceTokenizer tokenizer;
    /** The lexical half of keys; null when the model matches by dense keys only. */
    private final LexicalWeighting lexical;
    /** The ids answers may use when they come from the read memories' terms; null when answers use every id. */
    private final AnswerVocabulary answerVocabulary;
    private final Model backbone;
    private final String backboneName;
    private final List<String> backboneInputs;
    private final Model compressor;
    private final Model aggregator;
    private final Model reader;
    /** Made once at load, shared read-only by every call; null when retrieval-only. */
    private final Weights weights;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * The tensors made once at load, in one long-lived manager.
     *
     * @param manager owns the arrays below (a sub-manager of the reader's)
     * @param embeddings the de-quantised word embeddings {@code [vocab, hidden]}, an input of the compressor and
     *     the reader
     * @param compressor the compressor's de-quantised weights (its {@code weights} method's flat vector), its
     *     last input
     * @param aggregator the aggregator's, likewise
     * @param reader the reader's, the last input of {@code forward} and {@code step}
     */
    private record Weights(NDManager manager, NDArray embeddings, NDArray compressor, NDArray aggregator,
                           NDArray reader) {}

    private DjlCmtModel(ModelConfig config, HuggingFaceTokenizer tokenizer, Model backbone, List<String> inputs,
                        Model compressor, Model aggregator, Model reader, Weights weights) {
        this.config = config;
        this.info = config.info();
        this.tokenizer = tokenizer;
        this.backbone = backbone;
        this.backboneName = config.backbone().onnxResource();
        this.backboneInputs = inputs;
        this.compressor = compressor;
        this.aggregator = aggregator;
        this.reader = reader;
        this.weights = weights;
        // A retrieval-only model.json has no dims.vocab to check the table's length against.
        this.lexical = config.lexical() == null ? null
                : LexicalWeighting.load(config.lexical(), config.hasReader() ? config.dims().vocab() : 0);
        this.answerVocabulary = lexical != null && config.hasReader() && config.lexical().answersFromMemoryTerms()
                ? AnswerVocabulary.of(lexical, config.dims().vocab()) : null;
    }

    /**
     * Loads the model in {@code dir} and runs every part once on a sample question to check that it honours the
     * contract's shapes.
     *
     * @param device {@code auto}, {@code cpu} or {@code gpu} (see {@link ModelSpec#device()})
     * @throws ModelLoadException naming the missing or corrupt file, or the key of model.json at fault
     */
    public static DjlCmtModel load(Path dir, String device) {
        ModelSpec.checkDevice(device);
        long started = System.nanoTime();
        ModelConfig config = ModelConfig.read(dir);
        Path json = ModelConfig.modelJson(dir);
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            HuggingFaceTokenizer tokenizer = loadTokenizer(config, json);
            opened.add(tokenizer);

            String onnxName = config.backbone().onnxResource();
            Device ortDevice = ortDevice(device);
            Path onnx;
            try {
                onnx = BackboneResources.file(dir, onnxName);
            } catch (IOException e) {
                throw new ModelLoadException("cannot load the backbone named in " + json + ": " + e.getMessage(), e);
            }
            Model backbone = Model.newInstance("backbone", ortDevice, ONNX_ENGINE);
            opened.add(backbone);
            List<String> inputs = loadBackbone(backbone, onnx, onnxName);

            Model compressor = null;
            Model aggregator = null;
            Model reader = null;
            Weights weights = null;
            if (config.hasReader()) {
                Device torchDevice = torchDevice(device);
                ModelConfig.ModelFiles files = config.files();
                compressor = loadTorchScript("compressor", files.compressor(), torchDevice, opened);
                aggregator = loadTorchScript("aggregator", files.aggregator(), torchDevice, opened);
                reader = loadTorchScript("reader", files.reader(), torchDevice, opened);
                NDManager manager = reader.getNDManager().newSubManager();
                opened.add(manager);
                weights = new Weights(manager,
                        loadEmbeddings(config, files.embeddings(), torchDevice, manager),
                        headWeights(compressor, files.compressor(), manager),
                        headWeights(aggregator, files.aggregator(), manager),
                        headWeights(reader, files.reader(), manager));
            }
            DjlCmtModel model = new DjlCmtModel(config, tokenizer, backbone, inputs, compressor, aggregator, reader,
                    weights);
            model.selfCheck();
            LOG.info("Loaded model {} version {} from {} ({}; backbone on {}, heads on {}) in {} ms",
                    config.name(), config.version(), dir, (config.hasReader() ? "with reader" : "retrieval-only")
                            + (config.lexical() != null ? ", dense + lexical matching" : ", dense matching")
                            + (model.answerVocabulary != null ? ", answers from " + model.answerVocabulary : ""),
                    ortDevice, compressor == null ? "-" : compressor.getNDManager().getDevice(),
                    (System.nanoTime() - started) / 1_000_000);
            return model;
        } catch (RuntimeException | Error e) {
            closeAll(opened, e);
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

    /** The ids answers may use ({@code lexical.answerVocabulary}); null when answers may use every id. */
    AnswerVocabulary answerVocabulary() {
        return answerVocabulary;
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
        if (!config.hasReader()) {
            throw new UnsupportedOperationException("model " + config.name() + " is retrieval-only: no reader");
        }
        if (requests.isEmpty()) {
            return List.of();
        }
        for (int i = 0; i < requests.size(); i++) {
            validate(requests.get(i), info, "request " + i);
        }
        onThisThread();
        float[] prompt = aggregate(requests);
        long[][] ids;
        if (answerVocabulary == null) {
            ids = generate(prompt, null, requests.size());
        } else {
            // scoring only the allowed ids saves most of a step; a batch with an unrestricted row scores them all
            long[][] among = config.readerScoresAmong() ? answerVocabulary.candidates(requests) : null;
            ids = among != null ? generateAmong(prompt, among)
                    : generate(prompt, answerVocabulary.masks(requests), requests.size());
        }
        List<String> answers = new ArrayList<>(ids.length);
        for (long[] answer : ids) {
            answers.add(AnswerText.cleanUp(tokenizer.decode(answer, true)));
        }
        return answers;
    }

    /**
     * Applies {@link #GRAPH_OPTIMIZER} to the calling thread (a cheap native call; threads come and go). A
     * retrieval-only model never loads libtorch, so there is nothing to set.
     */
    private void onThisThread() {
        if (weights != null) {
            JniUtils.setGraphExecutorOptimize(GRAPH_OPTIMIZER);
        }
    }

    /** Frees the weights and the tokenizer. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        List<AutoCloseable> all = new ArrayList<>();
        all.add(tokenizer);
        all.add(backbone);
        all.add(weights == null ? null : weights.manager());
        all.add(compressor);
        all.add(aggregator);
        all.add(reader);
        closeAll(all, null);
        LOG.info("Closed model {} version {}", config.name(), config.version());
    }

    /**
     * Checks a request's sizes against the model so that a malformed one fails alone, before batching.
     *
     * @throws IllegalArgumentException naming {@code what} and the size at fault
     */
    static void validate(AnswerRequest request, ModelInfo info, String what) {
        int width = info.memoryTokens() * info.hiddenDim();
        Objects.requireNonNull(request, what);
        if (request.questionTokens() == null || request.questionTokens().length != width) {
            throw new IllegalArgumentException(what + ": questionTokens must have " + width + " values (M="
                    + info.memoryTokens() + " x hidden=" + info.hiddenDim() + "), had "
                    + (request.questionTokens() == null ? "none" : request.questionTokens().length));
        }
        List<float[]> memories = request.memories() == null ? List.of() : request.memories();
        int scores = request.scores() == null ? 0 : request.scores().length;
        if (scores != memories.size()) {
            throw new IllegalArgumentException(what + ": " + memories.size() + " memories but " + scores
                    + " scores");
        }
        for (int j = 0; j < memories.size(); j++) {
            float[] memory = memories.get(j);
            if (memory == null || memory.length != width) {
                throw new IllegalArgumentException(what + ": memory " + j + " must have " + width + " values, had "
                        + (memory == null ? "none" : memory.length));
            }
        }
        if (request.memoryTerms() != null && request.memoryTerms().size() != memories.size()) {
            throw new IllegalArgumentException(what + ": " + memories.size() + " memories but "
                    + request.memoryTerms().size() + " term lists");
        }
    }

    // ---- encoding -------------------------------------------------------------------------------------------

    /** Token ids of a batch, padded to its longest text, with what was lost to truncation. */
    record Tokenized(long[][] ids, int maxLength, int[] tokenCounts, boolean[] truncated) {

        int batch() {
            return ids.length;
        }

        /** Every row's ids, row-major {@code [B, maxLength]}, {@code pad} past each row's end. */
        long[] paddedIds(long pad) {
            long[] flat = new long[batch() * maxLength];
            Arrays.fill(flat, pad);
            for (int b = 0; b < batch(); b++) {
                System.arraycopy(ids[b], 0, flat, b * maxLength, ids[b].length);
            }
            return flat;
        }

        /** The rows at {@code rows}, padded to their own longest. */
        Tokenized select(int[] rows) {
            long[][] someIds = new long[rows.length][];
            int[] counts = new int[rows.length];
            boolean[] cut = new boolean[rows.length];
            int longest = 0;
            for (int i = 0; i < rows.length; i++) {
                someIds[i] = ids[rows[i]];
                counts[i] = tokenCounts[rows[i]];
                cut[i] = truncated[rows[i]];
                longest = Math.max(longest, someIds[i].length);
            }
            return new Tokenized(someIds, longest, counts, cut);
        }
    }

    Tokenized tokenize(List<String> texts, int maxTokens) {
        ai.djl.huggingface.tokenizers.Encoding[] encodings = tokenizer.batchEncode(texts);
        long[][] ids = new long[texts.size()][];
        int[] counts = new int[texts.size()];
        boolean[] truncated = new boolean[texts.size()];
        int longest = 0;
        for (int i = 0; i < encodings.length; i++) {
            long[] full = encodings[i].getIds();
            long specials = Arrays.stream(encodings[i].getSpecialTokenMask()).filter(m -> m != 0).count();
            counts[i] = (int) (full.length - specials);
            if (full.length > maxTokens) {
                // Same as Hugging Face truncation of one sequence: drop text tokens from the end, keep [SEP].
                ids[i] = Arrays.copyOf(full, maxTokens);
                ids[i][maxTokens - 1] = full[full.length - 1];
                truncated[i] = true;
            } else {
                ids[i] = full;
            }
            longest = Math.max(longest, ids[i].length);
        }
        return new Tokenized(ids, longest, counts, truncated);
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
            List<Encoding> encoded = encodeTokenized(all.select(group));
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

    private List<Encoding> encodeTokenized(Tokenized tokens) {
        float[] hidden = backboneStates(tokens);
        int batch = tokens.batch();
        List<Encoding> out = new ArrayList<>(batch);
        if (!config.hasReader()) {
            int h = config.backbone().hidden();
            int rowLength = tokens.maxLength() * h;
            for (int b = 0; b < batch; b++) {
                float[] cls = Arrays.copyOfRange(hidden, b * rowLength, b * rowLength + h);
                out.add(new Encoding(l2Normalised(cls), new float[0], tokens.tokenCounts()[b],
                        tokens.truncated()[b]));
            }
            return out;
        }
        Compressed compressed = compress(hidden, tokens);
        int memoryWidth = info.memoryTokens() * info.hiddenDim();
        int keyWidth = info.keyDim();
        for (int b = 0; b < batch; b++) {
            out.add(new Encoding(
                    Arrays.copyOfRange(compressed.keys(), b * keyWidth, (b + 1) * keyWidth),
                    Arrays.copyOfRange(compressed.memory(), b * memoryWidth, (b + 1) * memoryWidth),
                    tokens.tokenCounts()[b], tokens.truncated()[b]));
        }
        return out;
    }

    /** The backbone's last hidden states, row-major {@code [B, maxLength, hidden]}. */
    float[] backboneStates(Tokenized tokens) {
        int batch = tokens.batch();
        int length = tokens.maxLength();
        long[] ids = tokens.paddedIds(config.tokens().pad());
        long[] mask = new long[batch * length];
        for (int b = 0; b < batch; b++) {
            Arrays.fill(mask, b * length, b * length + tokens.ids()[b].length, 1L);
        }
        Shape shape = new Shape(batch, length);
        try (NDManager manager = backbone.getNDManager().newSubManager()) {
            NDList inputs = new NDList();
            for (String name : backboneInputs) {
                long[] values = switch (name) {
                    case "input_ids" -> ids;
                    case "attention_mask" -> mask;
                    default -> new long[batch * length];
                };
                NDArray array = manager.create(values, shape);
                array.setName(name);
                inputs.add(array);
            }
            NDList outputs = forward(backbone, backboneName, manager, inputs);
            NDArray states = outputs.get("last_hidden_state");
            if (states == null) {
                states = outputs.get(0);
            }
            expectShape(backboneName, "last_hidden_state", states, batch, length, config.backbone().hidden());
            return states.toFloatArray();
        }
    }

    /** Memory tokens {@code [B, M, hidden]} and keys {@code [B, key]}, row-major. */
    record Compressed(float[] memory, float[] keys) {}

    Compressed compress(float[] hidden, Tokenized tokens) {
        int batch = tokens.batch();
        int length = tokens.maxLength();
        long[] ids = tokens.paddedIds(config.tokens().pad());
        float[] mask = new float[batch * length];
        for (int b = 0; b < batch; b++) {
            Arrays.fill(mask, b * length, b * length + tokens.ids()[b].length, 1f);
        }
        String file = fileName(config.files().compressor());
        try (NDManager manager = compressor.getNDManager().newSubManager()) {
            NDList outputs = forward(compressor, file, manager, new NDList(
                    manager.create(hidden, new Shape(batch, length, config.backbone().hidden())),
                    manager.create(ids, new Shape(batch, length)),
                    manager.create(mask, new Shape(batch, length)),
                    weights.embeddings(),
                    weights.compressor()));
            if (outputs.size() != 2) {
                throw new IllegalStateException(file + " must return (memory, key), returned " + outputs.size()
                        + " tensors");
            }
            expectShape(file, "memory", outputs.get(0), batch, info.memoryTokens(), info.hiddenDim());
            expectShape(file, "key", outputs.get(1), batch, info.keyDim());
            return new Compressed(outputs.get(0).toFloatArray(), outputs.get(1).toFloatArray());
        }
    }

    // ---- answering ------------------------------------------------------------------------------------------

    /** The aggregator's soft prompts, row-major {@code [B, P, hidden]}; fewer memories than the most are padding. */
    float[] aggregate(List<AnswerRequest> requests) {
        int batch = requests.size();
        int m = info.memoryTokens();
        int h = info.hiddenDim();
        int width = m * h;
        int k = 1;
        for (AnswerRequest r : requests) {
            k = Math.max(k, r.memories() == null ? 0 : r.memories().size());
        }
        float[] query = new float[batch * width];
        float[] memories = new float[batch * k * width];
        float[] scores = new float[batch * k];
        float[] present = new float[batch * k];
        for (int b = 0; b < batch; b++) {
            AnswerRequest r = requests.get(b);
            System.arraycopy(r.questionTokens(), 0, query, b * width, width);
            List<float[]> found = r.memories() == null ? List.of() : r.memories();
            for (int j = 0; j < found.size(); j++) {
                System.arraycopy(found.get(j), 0, memories, (b * k + j) * width, width);
                scores[b * k + j] = r.scores()[j];
                present[b * k + j] = 1f;
            }
        }
        String file = fileName(config.files().aggregator());
        try (NDManager manager = aggregator.getNDManager().newSubManager()) {
            NDList outputs = forward(aggregator, file, manager, new NDList(
                    manager.create(query, new Shape(batch, m, h)),
                    manager.create(memories, new Shape(batch, k, m, h)),
                    manager.create(scores, new Shape(batch, k)),
                    manager.create(present, new Shape(batch, k)),
                    weights.aggregator()));
            NDArray prompt = outputs.get(0);
            expectShape(file, "prompt", prompt, batch, config.dims().softPrompt(), h);
            return prompt.toFloatArray();
        }
    }

    /** The reader's logits {@code [B, vocab]} for the token after each answer prefix (all the same length). */
    float[] readerLogits(float[] prompt, long[][] answers) {
        try (NDManager manager = reader.getNDManager().newSubManager()) {
            NDList outputs = readerPrefill(manager, promptArray(manager, prompt, answers.length), answers);
            return outputs.get(0).toFloatArray();
        }
    }

    /**
     * Greedy decoding of the whole batch: the reader's {@code forward} reads the prompt and {@code [bos]} and
     * returns the first logits with its key/value cache; each further token goes through {@code step}, which
     * extends the cache by one position, until every row has said {@code eos} (or {@code pad}) or
     * {@code maxAnswerTokens} are out. Rows that finished early keep running (their tokens are discarded) so the
     * batch stays one tensor.
     *
     * @param masks added to every step's logits, row-major {@code [batch, vocab]} ({@link AnswerVocabulary}), or
     *     null for none
     * @return each row's answer ids, without {@code bos} and the token that ended it
     */
    long[][] generate(float[] prompt, float[] masks, int batch) {
        return generate(prompt, masks, null, batch);
    }

    /**
     * Greedy decoding that scores only the ids of each row of {@code among} ({@code [batch][C]}, see
     * {@link AnswerVocabulary#candidates}) through the reader's {@code forward_among} and {@code step_among}.
     */
    long[][] generateAmong(float[] prompt, long[][] among) {
        return generate(prompt, null, among, among.length);
    }

    private long[][] generate(float[] prompt, float[] masks, long[][] among, int batch) {
        int eos = config.tokens().eos();
        int pad = config.tokens().pad();
        int maxTokens = config.maxAnswerTokens();
        long[][] sequences = new long[batch][maxTokens];
        int[] lengths = new int[batch];
        boolean[] done = new boolean[batch];
        long[][] start = new long[batch][];
        for (int b = 0; b < batch; b++) {
            start[b] = new long[] {config.tokens().bos()};
        }
        try (NDManager manager = reader.getNDManager().newSubManager()) {
            NDArray promptArray = promptArray(manager, prompt, batch);
            NDArray amongArray = among == null ? null : manager.create(flatten(among),
                    new Shape(batch, among[0].length));
            NDList state = amongArray == null ? readerPrefill(manager, promptArray, start)
                    : readerPrefillAmong(manager, promptArray, start, amongArray);
            NDArray maskArray = masks == null ? null : manager.create(masks, new Shape(batch, config.dims().vocab()));
            int finished = 0;
            for (int step = 1; ; step++) {
                long[] next;
                if (maskArray != null) {
                    try (NDArray masked = state.get(0).add(maskArray)) {
                        next = masked.argMax(1).toLongArray();
                    }
                } else {
                    next = state.get(0).argMax(1).toLongArray();
                }
                if (among != null) {
                    for (int b = 0; b < batch; b++) {
                        next[b] = among[b][(int) next[b]];
                    }
                }
                for (int b = 0; b < batch; b++) {
                    if (done[b]) {
                        next[b] = pad;
                        continue;
                    }
                    // A generated pad ends the answer too, as in the trainer's decoding (training/common.py).
                    if (next[b] == eos || next[b] == pad) {
                        done[b] = true;
                        finished++;
                    } else {
                        sequences[b][lengths[b]++] = next[b];
                    }
                }
                if (finished == batch || step == maxTokens) {
                    break;
                }
                NDList previous = state;
                state = readerStep(manager, promptArray, next, step, previous.get(1), amongArray);
                previous.close();
            }
        }
        long[][] answers = new long[batch][];
        for (int b = 0; b < batch; b++) {
            answers[b] = Arrays.copyOf(sequences[b], lengths[b]);
        }
        return answers;
    }

    private NDArray promptArray(NDManager manager, float[] prompt, int batch) {
        return manager.create(prompt, new Shape(batch, config.dims().softPrompt(), info.hiddenDim()));
    }

    /** The reader's {@code forward}: (logits [B, vocab], cache) after the prompt and the given prefixes. */
    private NDList readerPrefill(NDManager manager, NDArray prompt, long[][] answers) {
        int batch = answers.length;
        int length = answers[0].length;
        String file = fileName(config.files().reader());
        NDList outputs = forward(reader, file, manager,
                new NDList(prompt, manager.create(flatten(answers), new Shape(batch, length)), weights.embeddings(),
                        weights.reader()));
        if (outputs.size() != 2) {
            throw new IllegalStateException(file + " must return (logits, cache), returned " + outputs.size()
                    + " tensors");
        }
        expectShape(file, "logits", outputs.get(0), batch, config.dims().vocab());
        return outputs;
    }

    /** The reader's {@code forward_among}: {@link #readerPrefill} scoring only the ids of {@code among}. */
    private NDList readerPrefillAmong(NDManager manager, NDArray prompt, long[][] answers, NDArray among) {
        NDArray tokens = manager.create(flatten(answers), new Shape(answers.length, answers[0].length));
        try {
            return readerMethod(manager, READER_FORWARD_AMONG, among, prompt, tokens, among);
        } finally {
            tokens.close();
        }
    }

    /**
     * The reader's {@code step} (or {@code step_among} when {@code among} is given): one token per row at answer
     * position {@code position}, after {@code cache}.
     */
    private NDList readerStep(NDManager manager, NDArray prompt, long[] tokens, int position, NDArray cache,
                              NDArray among) {
        NDArray token = manager.create(tokens, new Shape(tokens.length, 1));
        NDArray at = manager.create(new long[] {position}, new Shape(1));
        try {
            return among == null ? readerMethod(manager, READER_STEP, null, prompt, token, at, cache)
                    : readerMethod(manager, READER_STEP_AMONG, among, prompt, token, at, cache, among);
        } finally {
            token.close();
            at.close();
        }
    }

    /**
     * Runs a method of the reader with {@code inputs} followed by the embeddings and the reader's weights; checks
     * that its logits score {@code among}'s ids (or the whole vocabulary when null) for every row.
     */
    private NDList readerMethod(NDManager manager, String method, NDArray among, NDArray... inputs) {
        String file = fileName(config.files().reader());
        IValue[] values = new IValue[inputs.length + 2];
        for (int i = 0; i < inputs.length; i++) {
            values[i] = IValue.from((PtNDArray) inputs[i]);
        }
        values[inputs.length] = IValue.from((PtNDArray) weights.embeddings());
        values[inputs.length + 1] = IValue.from((PtNDArray) weights.reader());
        try (IValue result = IValueUtils.runMethod((PtSymbolBlock) reader.getBlock(), method, values)) {
            NDList outputs = result.toNDList((PtNDManager) manager);
            long rows = inputs[0].getShape().get(0);
            expectShape(file, "logits", outputs.get(0), rows, among == null ? config.dims().vocab()
                    : among.getShape().get(1));
            return outputs;
        } catch (RuntimeException e) {
            throw new IllegalStateException(file + " " + method + " failed: " + rootMessage(e), e);
        } finally {
            for (IValue value : values) {
                value.close();
            }
        }
    }

    private static long[] flatten(long[][] rows) {
        int width = rows[0].length;
        long[] flat = new long[rows.length * width];
        for (int r = 0; r < rows.length; r++) {
            System.arraycopy(rows[r], 0, flat, r * width, width);
        }
        return flat;
    }

    /** Runs the embeddings file once: its output, the de-quantised matrix, lives in {@code into}. */
    private static NDArray loadEmbeddings(ModelConfig config, Path file, Device device, NDManager into) {
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Model model = loadTorchScript("embeddings", file, device, opened);
            NDList outputs = forward(model, fileName(file), into, new NDList(into.zeros(new Shape(1))));
            NDArray matrix = outputs.get(0);
            expectShape(fileName(file), "embeddings", matrix, config.dims().vocab(), config.dims().hidden());
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
    private static NDArray headWeights(Model head, Path file, NDManager into) {
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
                String.format(Locale.ROOT, "%.1f", vector.size() * 4.0 / (1 << 20)), fileName(file),
                (System.nanoTime() - started) / 1_000_000);
        return vector;
    }

    // ---- loading --------------------------------------------------------------------------------------------

    private static HuggingFaceTokenizer loadTokenizer(ModelConfig config, Path json) {
        String name = config.backbone().tokenizerResource();
        // Truncation and padding are done here, not by the tokenizer: the untruncated length is a metric.
        Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false",
                "padding", "false");
        try (InputStream in = BackboneResources.open(config.dir(), name)) {
            return HuggingFaceTokenizer.newInstance(in, options);
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("cannot load tokenizer " + name + " named in " + json + ": "
                    + e.getMessage(), e);
        }
    }

    private static List<String> loadBackbone(Model backbone, Path onnx, String name) {
        try {
            backbone.load(onnx);
        } catch (IOException | MalformedModelException | RuntimeException e) {
            throw new ModelLoadException("cannot load backbone " + name + " (" + onnx + "): " + rootMessage(e), e);
        }
        PairList<String, Shape> described = backbone.getBlock().describeInput();
        List<String> names = described.keys();
        List<String> ordered = new ArrayList<>();
        for (String input : names) {
            if (!Arrays.asList(BACKBONE_INPUTS).contains(input)) {
                throw new ModelLoadException("backbone " + name + " has an input '" + input
                        + "' the contract does not know (expected some of " + Arrays.toString(BACKBONE_INPUTS)
                        + ")");
            }
            ordered.add(input);
        }
        if (!ordered.contains("input_ids") || !ordered.contains("attention_mask")) {
            throw new ModelLoadException("backbone " + name + " must take input_ids and attention_mask, takes "
                    + names);
        }
        return List.copyOf(ordered);
    }

    private static Model loadTorchScript(String role, Path file, Device device, List<AutoCloseable> opened) {
        Model model;
        try {
            model = Model.newInstance(role, device, TORCH_ENGINE);
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

    /** Runs every part once so that a file breaking the contract fails the start, not the first record. */
    private void selfCheck() {
        try {
            List<Encoding> encodings = encodeQueries(List.of(SELF_CHECK_TEXT));
            if (config.hasReader()) {
                float[] prompt = aggregate(List.of(new AnswerRequest(encodings.get(0).memoryTokens(),
                        List.of(encodings.get(0).memoryTokens()), new float[] {1f})));
                long[][] start = {{config.tokens().bos()}};
                readerLogits(prompt, start);
                if (config.readerScoresAmong()) {
                    // decoding that may only say [bos] runs every step: the methods exist and honour their shapes
                    generate(prompt, null, new long[][] {{config.tokens().bos()}}, 1);
                }
            }
        } catch (RuntimeException e) {
            throw new ModelLoadException("model " + config.dir() + " fails its self-check: " + e.getMessage(), e);
        }
    }

    private static Device ortDevice(String device) {
        if ("cpu".equals(device)) {
            return Device.cpu();
        }
        Engine ort = Engine.getEngine(ONNX_ENGINE);
        boolean gpu = ort.getGpuCount() > 0 && ort.hasCapability(StandardCapabilities.CUDA);
        if (!gpu && "gpu".equals(device)) {
            LOG.warn("device=gpu but ONNX Runtime has no CUDA provider (the onnxruntime_gpu artifact replaces "
                    + "onnxruntime for that); the backbone runs on the CPU");
        }
        return gpu ? Device.gpu() : Device.cpu();
    }

    private static Device torchDevice(String device) {
        if ("cpu".equals(device)) {
            return Device.cpu();
        }
        Engine torch;
        try {
            torch = Engine.getEngine(TORCH_ENGINE);
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

    // ---- helpers --------------------------------------------------------------------------------------------

    private static NDList forward(Model model, String file, NDManager manager, NDList inputs) {
        try {
            NDList outputs = model.getBlock().forward(new ParameterStore(manager, false), inputs, false);
            outputs.attach(manager);
            return outputs;
        } catch (RuntimeException e) {
            throw new IllegalStateException(file + " failed: " + rootMessage(e), e);
        }
    }

    private static void expectShape(String file, String output, NDArray array, long... expected) {
        Shape actual = array.getShape();
        if (!actual.equals(new Shape(expected))) {
            throw new IllegalStateException(file + " returned " + output + " of shape " + actual + ", expected "
                    + new Shape(expected));
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

    private static String fileName(Path file) {
        return file.toString();
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        // TorchScript errors carry a long C++ traceback; the first lines say what is wrong.
        String[] lines = message.split("\n");
        return lines.length <= 3 ? message : String.join(" ", Arrays.copyOf(lines, 3)) + " ...";
    }

    private static void closeAll(List<AutoCloseable> resources, Throwable primary) {
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
