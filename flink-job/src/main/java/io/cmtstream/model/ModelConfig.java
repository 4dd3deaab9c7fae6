package io.cmtstream.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A model directory's model.json, parsed and checked against the contract (docs/MODEL-CONTRACT.md, format
 * {@value #FORMAT}) before anything heavy is loaded.
 *
 * <p>{@link #read} fails with a {@link ModelLoadException} naming the file and the key at fault, so a broken
 * deployment is diagnosed from the job's failure message; a model.json of another contract version fails naming
 * both versions. A model whose {@code files} is absent or empty is retrieval-only ({@link #files()} is null);
 * otherwise the three TorchScript files must be named and present, and so must the optional backbone script where
 * it is named. Unknown keys (e.g. {@code training}) are ignored: they document the model, the runtime does not need
 * them.
 *
 * <p>Immutable and thread-safe.
 *
 * @param dir the model directory, as it was given (messages show this form)
 * @param name model name
 * @param version version string reported with every answer
 * @param backbone the pretrained backbone
 * @param dims widths; for a retrieval-only model hidden and key are the backbone's, vocab 0
 * @param maxDocumentTokens longest document in tokens, [CLS] and [SEP] included
 * @param maxQueryTokens longest question in tokens, [CLS] and [SEP] included
 * @param maxAnswerTokens longest answer span the reader may choose, in tokens (0 for a retrieval-only model)
 * @param tokens special token ids
 * @param files the TorchScript files, or null for a retrieval-only model
 * @param defaultTopK the k the model was tuned with (optional {@code defaultTopK}), 0 when model.json has none
 * @param lexical the lexical half of self-matching (optional {@code lexical}), null when matching is dense only
 * @param matchWeight what a memory's match score adds, times this, to the score of each span read from it when k
 *     memories compete (optional {@code reader.matchWeight}, chosen on validation); 0 lets the spans alone compete
 * @param int8Method the reader's method that reads with int8 matrix products on a CPU (optional
 *     {@code reader.int8Method}), null when the reader has only the float {@code forward}
 */
public record ModelConfig(
        Path dir,
        String name,
        String version,
        Backbone backbone,
        Dims dims,
        int maxDocumentTokens,
        int maxQueryTokens,
        int maxAnswerTokens,
        SpecialTokens tokens,
        ModelFiles files,
        int defaultTopK,
        Lexical lexical,
        float matchWeight,
        String int8Method) {

    /** The contract version this runtime reads. */
    public static final String FORMAT = "cmt-model/4";

    /** The only lexical matching so far: BM25 over the backbone tokenizer's WordPiece ids. */
    public static final String LEXICAL_KIND = "bm25-wordpiece";

    /** The only backbone kind so far: a BERT encoder exported to ONNX. */
    public static final String BACKBONE_KIND = "onnx-bert";

    /** {@code memory.kind}: a memory is the backbone's token states after its memory layer. */
    public static final String MEMORY_KIND = "token-states";

    /** {@code memory.storage}: int8 states with one float scale per token ({@link MemoryStates}). */
    public static final String MEMORY_STORAGE = "int8-per-token";

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The pretrained backbone.
     *
     * @param kind {@value #BACKBONE_KIND}
     * @param maven the Maven coordinates the resources come from (documentation; may be null)
     * @param onnxResource classpath resource (or file in the model directory) of the ONNX encoder
     * @param tokenizerResource classpath resource (or file in the model directory) of the tokenizer.json
     * @param hidden width of the encoder's hidden states
     * @param memoryOutput the ONNX graph's tensor holding the states after layer {@code memoryLayer}, which the
     *     runtime declares as a second output (null for a retrieval-only model)
     * @param memoryLayer how many layers that tensor is after (documentation of the tensor; 0 when absent)
     */
    public record Backbone(String kind, String maven, String onnxResource, String tokenizerResource, int hidden,
                           String memoryOutput, int memoryLayer) {}

    /**
     * Widths.
     *
     * @param hidden width of the backbone's states, and so of memories and question states
     * @param key width of keys
     * @param vocab the tokenizer's vocabulary size
     */
    public record Dims(int hidden, int key, int vocab) {}

    /** Special token ids: padding, and the {@code [CLS]} and {@code [SEP]} every text starts and ends with. */
    public record SpecialTokens(int pad, int cls, int sep) {}

    /**
     * The TorchScript files, resolved against the model directory.
     *
     * @param embeddings the word-embedding matrix, de-quantised once at load and then an input of the compressor
     * @param compressor the backbone's last states + token ids -> key
     * @param reader question states + one memory's states -> start and end logits over their positions
     * @param backbone the backbone's graph without its weights, which it takes from the ONNX file (optional
     *     {@code files.backbone}; null when absent: the backbone then runs on ONNX Runtime only)
     */
    public record ModelFiles(Path embeddings, Path compressor, Path reader, Path backbone) {}

    /**
     * The lexical half of self-matching ({@link LexicalWeighting}): a memory's BM25 term weights dotted with the
     * question's {@code queryWeight} per term, added to the dense keys' dot product.
     *
     * @param idf the idf table, little-endian float32 per vocabulary id (0 = never matched)
     * @param k1 BM25 term-frequency saturation
     * @param b BM25 length normalisation, in [0, 1]
     * @param averageLength the document length (tokens) that b normalises against
     * @param queryWeight the weight of the lexical score against the dense keys' dot product
     */
    public record Lexical(Path idf, double k1, double b, double averageLength, float queryWeight) {}

    /** Whether the model has a compressor head and a reader. */
    public boolean hasReader() {
        return files != null;
    }

    /** The job-facing summary. */
    public ModelInfo info() {
        return new ModelInfo(name, version, dims.hidden(), dims.key(), hasReader(), maxDocumentTokens,
                maxQueryTokens);
    }

    /** The path of model.json in {@code dir}. */
    public static Path modelJson(Path dir) {
        return dir.resolve("model.json");
    }

    /**
     * Reads and checks {@code dir/model.json}, and checks that the files it names exist.
     *
     * @throws ModelLoadException naming the missing or unreadable file, or the offending key
     */
    public static ModelConfig read(Path dir) {
        Objects.requireNonNull(dir, "dir");
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException("model directory " + dir + " does not exist (absolute: "
                    + dir.toAbsolutePath() + ")");
        }
        Path json = modelJson(dir);
        if (!Files.isRegularFile(json)) {
            throw new ModelLoadException("model file " + json + " is missing");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json.toFile());
        } catch (JsonProcessingException e) {
            throw new ModelLoadException(json + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + json + ": " + e, e);
        }
        return parse(dir, json, root);
    }

    private static ModelConfig parse(Path dir, Path json, JsonNode root) {
        Keys keys = new Keys(json);
        if (root == null || !root.isObject()) {
            throw new ModelLoadException(json + " must hold a JSON object");
        }
        String format = keys.string(root, "format");
        if (!FORMAT.equals(format)) {
            throw new ModelLoadException(json + " is " + format + "; this runtime reads " + FORMAT
                    + " (docs/MODEL-CONTRACT.md)");
        }
        String name = keys.string(root, "name");
        String version = keys.string(root, "version");

        JsonNode filesNode = root.get("files");
        boolean retrievalOnly = filesNode == null || filesNode.isNull() || (filesNode.isObject()
                && filesNode.isEmpty());
        if (!retrievalOnly && !filesNode.isObject()) {
            throw new ModelLoadException(json + ": 'files' must be an object");
        }

        JsonNode b = keys.object(root, "backbone");
        String kind = keys.string(b, "backbone.kind");
        if (!BACKBONE_KIND.equals(kind)) {
            throw new ModelLoadException(json + ": 'backbone.kind' is '" + kind + "', this runtime runs '"
                    + BACKBONE_KIND + "'");
        }
        // A retrieval-only model reads the last layer alone; a reader needs the memory layer's states too.
        String memoryOutput = retrievalOnly ? keys.optionalString(b, "backbone.memoryOutput")
                : keys.string(b, "backbone.memoryOutput");
        int memoryLayer = b.hasNonNull("memoryLayer") || !retrievalOnly ? keys.positiveInt(b, "backbone.memoryLayer")
                : 0;
        Backbone backbone = new Backbone(kind, keys.optionalString(b, "backbone.maven"),
                keys.string(b, "backbone.onnxResource"), keys.string(b, "backbone.tokenizerResource"),
                keys.positiveInt(b, "backbone.hidden"), memoryOutput, memoryLayer);

        int maxDocumentTokens = keys.positiveInt(root, "maxDocumentTokens");
        int maxQueryTokens = keys.positiveInt(root, "maxQueryTokens");
        for (String key : new String[] {"maxDocumentTokens", "maxQueryTokens"}) {
            if (root.get(key).asInt() < 2) {
                throw new ModelLoadException(json + ": '" + key + "' must be at least 2 ([CLS] and [SEP])");
            }
        }
        JsonNode t = keys.object(root, "tokens");
        int pad = keys.nonNegativeInt(t, "tokens.pad");
        int defaultTopK = root.hasNonNull("defaultTopK") ? keys.positiveInt(root, "defaultTopK") : 0;
        Lexical lexical = root.hasNonNull("lexical") ? lexical(dir, json, keys, keys.object(root, "lexical")) : null;

        if (retrievalOnly) {
            Dims dims = new Dims(backbone.hidden(), backbone.hidden(), 0);
            return new ModelConfig(dir, name, version, backbone, dims, maxDocumentTokens, maxQueryTokens, 0,
                    new SpecialTokens(pad, -1, -1), null, defaultTopK, lexical, 0f, null);
        }

        JsonNode d = keys.object(root, "dims");
        Dims dims = new Dims(keys.positiveInt(d, "dims.hidden"), keys.positiveInt(d, "dims.key"),
                keys.positiveInt(d, "dims.vocab"));
        if (dims.hidden() != backbone.hidden()) {
            throw new ModelLoadException(json + ": 'dims.hidden' (" + dims.hidden() + ") must equal "
                    + "'backbone.hidden' (" + backbone.hidden() + "): memories are the backbone's states");
        }
        if (dims.vocab() > Pieces.STARTS_CHUNK) {
            throw new ModelLoadException(json + ": 'dims.vocab' (" + dims.vocab() + ") must be at most "
                    + Pieces.STARTS_CHUNK + ": a memory stores each token id in 15 bits");
        }
        int maxAnswerTokens = keys.positiveInt(root, "maxAnswerTokens");
        SpecialTokens tokens = new SpecialTokens(pad, keys.nonNegativeInt(t, "tokens.cls"),
                keys.nonNegativeInt(t, "tokens.sep"));
        for (String key : new String[] {"pad", "cls", "sep"}) {
            if (t.get(key).asInt() >= dims.vocab()) {
                throw new ModelLoadException(json + ": 'tokens." + key + "' (" + t.get(key).asInt()
                        + ") is outside the vocabulary of " + dims.vocab());
            }
        }
        JsonNode memory = keys.object(root, "memory");
        keys.expect(memory, "memory.kind", MEMORY_KIND);
        keys.expect(memory, "memory.storage", MEMORY_STORAGE);
        ModelFiles files = new ModelFiles(keys.file(dir, filesNode, "embeddings"),
                keys.file(dir, filesNode, "compressor"), keys.file(dir, filesNode, "reader"),
                filesNode.hasNonNull("backbone") ? keys.file(dir, filesNode, "backbone") : null);
        float matchWeight = 0f;
        String int8Method = null;
        if (root.hasNonNull("reader")) {
            JsonNode reader = keys.object(root, "reader");
            if (reader.hasNonNull("matchWeight")) {
                double weight = keys.number(reader, "reader.matchWeight");
                if (weight > 1e6) {
                    throw new ModelLoadException(json + ": 'reader.matchWeight' must be at most 1e6, was " + weight);
                }
                matchWeight = (float) weight;
            }
            if (reader.hasNonNull("int8Method")) {
                int8Method = keys.string(reader, "reader.int8Method");
                if (!int8Method.matches("[A-Za-z_][A-Za-z0-9_]{0,63}")) {
                    throw new ModelLoadException(json + ": 'reader.int8Method' must name a TorchScript method, was '"
                            + int8Method + "'");
                }
            }
        }
        return new ModelConfig(dir, name, version, backbone, dims, maxDocumentTokens, maxQueryTokens,
                maxAnswerTokens, tokens, files, defaultTopK, lexical, matchWeight, int8Method);
    }

    private static Lexical lexical(Path dir, Path json, Keys keys, JsonNode node) {
        String kind = keys.string(node, "lexical.kind");
        if (!LEXICAL_KIND.equals(kind)) {
            throw new ModelLoadException(json + ": 'lexical.kind' is '" + kind + "', this runtime matches '"
                    + LEXICAL_KIND + "'");
        }
        double b = keys.number(node, "lexical.b");
        if (b > 1) {
            throw new ModelLoadException(json + ": 'lexical.b' must be in [0, 1], was " + b);
        }
        double k1 = keys.number(node, "lexical.k1");
        double averageLength = keys.number(node, "lexical.averageLength");
        if (k1 == 0 || averageLength == 0) {
            throw new ModelLoadException(json + ": 'lexical.k1' and 'lexical.averageLength' must be positive");
        }
        return new Lexical(keys.file(dir, node, "lexical.idf"), k1, b, averageLength,
                (float) keys.number(node, "lexical.queryWeight"));
    }

    /** Typed look-ups that name model.json and the dotted key in every failure. */
    private record Keys(Path json) {

        JsonNode required(JsonNode parent, String dotted) {
            JsonNode node = parent.get(leaf(dotted));
            if (node == null || node.isNull()) {
                throw new ModelLoadException(json + ": key '" + dotted + "' is missing");
            }
            return node;
        }

        JsonNode object(JsonNode parent, String dotted) {
            JsonNode node = required(parent, dotted);
            if (!node.isObject()) {
                throw new ModelLoadException(json + ": '" + dotted + "' must be an object, was " + node);
            }
            return node;
        }

        String string(JsonNode parent, String dotted) {
            JsonNode node = required(parent, dotted);
            if (!node.isTextual() || node.asText().isBlank()) {
                throw new ModelLoadException(json + ": '" + dotted + "' must be a non-empty string, was " + node);
            }
            return node.asText();
        }

        String optionalString(JsonNode parent, String dotted) {
            JsonNode node = parent.get(leaf(dotted));
            return node == null || node.isNull() ? null : string(parent, dotted);
        }

        void expect(JsonNode parent, String dotted, String wanted) {
            String value = string(parent, dotted);
            if (!wanted.equals(value)) {
                throw new ModelLoadException(json + ": '" + dotted + "' is '" + value + "', this runtime reads '"
                        + wanted + "'");
            }
        }

        int positiveInt(JsonNode parent, String dotted) {
            int value = nonNegativeInt(parent, dotted);
            if (value == 0) {
                throw new ModelLoadException(json + ": '" + dotted + "' must be positive, was 0");
            }
            return value;
        }

        int nonNegativeInt(JsonNode parent, String dotted) {
            JsonNode node = required(parent, dotted);
            if (!node.isIntegralNumber() || !node.canConvertToInt() || node.asInt() < 0) {
                throw new ModelLoadException(json + ": '" + dotted + "' must be a non-negative integer, was "
                        + node);
            }
            return node.asInt();
        }

        double number(JsonNode parent, String dotted) {
            JsonNode node = required(parent, dotted);
            if (!node.isNumber() || !Double.isFinite(node.asDouble()) || node.asDouble() < 0) {
                throw new ModelLoadException(json + ": '" + dotted + "' must be a non-negative number, was " + node);
            }
            return node.asDouble();
        }

        /** A file named by {@code dotted} (a key of {@code files}, or a dotted key elsewhere), inside {@code dir}. */
        Path file(Path dir, JsonNode files, String dotted) {
            String key = dotted.contains(".") ? dotted : "files." + dotted;
            String name = string(files, key);
            Path root = dir.toAbsolutePath().normalize();
            Path path = root.resolve(name).normalize();
            if (Path.of(name).isAbsolute() || !path.startsWith(root) || path.equals(root)) {
                throw new ModelLoadException(json + ": '" + key + "' must name a file inside " + dir
                        + ", was '" + name + "'");
            }
            if (!Files.isRegularFile(path)) {
                throw new ModelLoadException("model file " + dir.resolve(name) + " is missing");
            }
            if (!Files.isReadable(path)) {
                throw new ModelLoadException("model file " + dir.resolve(name) + " is not readable");
            }
            return dir.resolve(name);
        }

        private static String leaf(String dotted) {
            return dotted.substring(dotted.lastIndexOf('.') + 1);
        }
    }
}
