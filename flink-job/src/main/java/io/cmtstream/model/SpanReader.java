package io.cmtstream.model;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The late-interaction span reader ({@code reader.pt}, contract {@code cmt-model/4}): the backbone's upper layers,
 * tuned, read a question's states followed by one memory's states and score every position as the answer's start
 * and end; the answer is the best span over all the question's memories ({@link SpanChooser}), copied from that
 * memory's pieces ({@link PieceText}).
 *
 * <p>Every (question, memory) pair of a call is one row of a batch; rows go to the reader in groups of similar
 * length ({@link LengthBuckets}) of at most {@value #MAX_BATCH_TOKENS} padded positions, which bounds the
 * attention's memory, each group padded to its longest question and longest memory. Int8 reads go one row per
 * call, so that a row's answer does not depend on what else was read with it. A question without memories
 * (closed book) gets an empty answer without a model call.
 *
 * <p>On a CPU, a reader that has an int8 method (model.json {@code reader.int8Method}) is called through it: int8
 * matrix products, half the read time of float ones inside the job on a 2-core CPU (docs/BENCHMARKS.md, run I).
 * Elsewhere, and for a reader without one, {@code forward} runs on the de-quantised weights ({@code weights},
 * once at load): a GPU has no kernels for PyTorch's int8 matrix products.
 *
 * <p>Thread-safe: calls share only the reader's de-quantised weights, made once at load and read-only. Owns the
 * reader's model and that tensor; {@link #close} frees them.
 */
final class SpanReader implements AutoCloseable {

    /** Most padded positions (rows x (question + memory length)) per reader call. */
    static final int MAX_BATCH_TOKENS = 8192;
    /** Rows of a call are grouped so that padding is at most this share of their positions. */
    private static final double MAX_PADDING_SHARE = 0.1;

    private final Model reader;
    private final Path file;
    private final NDManager manager;
    /** The de-quantised weights {@code forward} takes, or null when reads go through {@link #int8Method}. */
    private final NDArray weights;
    /** The reader's int8 method, or null when reads go through {@code forward}. */
    private final String int8Method;
    private final int hidden;
    private final int maxAnswerTokens;
    private final float matchWeight;
    private final PieceText pieceText;

    /**
     * One question read with one memory.
     *
     * @param question the question's states {@code [Lq, hidden]}
     * @param memory the memory's de-quantised states {@code [T, hidden]}
     */
    record Row(float[] question, float[] memory) {}

    /**
     * A row's logits at its memory's positions.
     *
     * @param start start logits, one per memory position
     * @param end end logits, one per memory position
     */
    record Logits(float[] start, float[] end) {}

    private SpanReader(Model reader, Path file, NDManager manager, NDArray weights, String int8Method, int hidden,
                       int maxAnswerTokens, float matchWeight, PieceText pieceText) {
        this.reader = reader;
        this.file = file;
        this.manager = manager;
        this.weights = weights;
        this.int8Method = int8Method;
        this.hidden = hidden;
        this.maxAnswerTokens = maxAnswerTokens;
        this.matchWeight = matchWeight;
        this.pieceText = pieceText;
    }

    /**
     * Loads the reader named in {@code config}; what it opens is added to {@code opened}.
     *
     * @throws ModelLoadException naming the file at fault
     */
    static SpanReader load(ModelConfig config, Device device, PieceText pieceText, List<AutoCloseable> opened) {
        return load(config, device, pieceText, opened, true);
    }

    /**
     * As {@link #load(ModelConfig, Device, PieceText, List)}; with {@code int8Reads} false the float path even on
     * a CPU (what a GPU runs: the parity test checks it there).
     */
    static SpanReader load(ModelConfig config, Device device, PieceText pieceText, List<AutoCloseable> opened,
                           boolean int8Reads) {
        Path file = config.files().reader();
        Model reader = TorchScripts.load("reader", file, device, opened);
        NDManager manager = reader.getNDManager().newSubManager();
        opened.add(manager);
        if (int8Reads && config.int8Method() != null && !device.isGpu()) {
            return new SpanReader(reader, file, manager, null, config.int8Method(), config.dims().hidden(),
                    config.maxAnswerTokens(), config.matchWeight(), pieceText);
        }
        NDArray weights = TorchScripts.headWeights(reader, file, manager);
        return new SpanReader(reader, file, manager, weights, null, config.dims().hidden(), config.maxAnswerTokens(),
                config.matchWeight(), pieceText);
    }

    /** Each request's answer: the best span of its memories as text; empty for a request without memories. */
    List<String> answer(List<AnswerRequest> requests) {
        List<Row> rows = new ArrayList<>();
        for (AnswerRequest request : requests) {
            for (MemoryStates memory : memories(request)) {
                rows.add(new Row(request.questionStates(), memory.dequantize()));
            }
        }
        List<Logits> logits = logits(rows);
        List<String> answers = new ArrayList<>(requests.size());
        int row = 0;
        for (AnswerRequest request : requests) {
            List<MemoryStates> memories = memories(request);
            List<float[]> starts = new ArrayList<>(memories.size());
            List<float[]> ends = new ArrayList<>(memories.size());
            float[] priors = new float[memories.size()];
            for (int j = 0; j < memories.size(); j++, row++) {
                starts.add(logits.get(row).start());
                ends.add(logits.get(row).end());
                priors[j] = matchWeight * request.matchScore(j);
            }
            SpanChooser.Span span = SpanChooser.best(starts, ends, maxAnswerTokens, priors);
            answers.add(span == null ? ""
                    : pieceText.text(memories.get(span.memory()).pieces(), span.start(), span.end()));
        }
        return answers;
    }

    /** The reader's start and end logits at each row's memory positions, in order. */
    List<Logits> logits(List<Row> rows) {
        Logits[] out = new Logits[rows.size()];
        if (int8Method != null) {
            // one row per call: activations are quantised per call, so batch mates would move each other's logits
            for (int i = 0; i < out.length; i++) {
                out[i] = call(new int[] {i}, rows).get(0);
            }
            return Arrays.asList(out);
        }
        int[] lengths = new int[rows.size()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = (rows.get(i).question().length + rows.get(i).memory().length) / hidden;
        }
        for (int[] group : LengthBuckets.of(lengths, MAX_PADDING_SHARE)) {
            // a group is ordered by length: cut it where its padded positions would pass the bound
            int from = 0;
            while (from < group.length) {
                int to = from + 1;
                while (to < group.length && (long) (to - from + 1) * lengths[group[to]] <= MAX_BATCH_TOKENS) {
                    to++;
                }
                int[] call = Arrays.copyOfRange(group, from, to);
                List<Logits> result = call(call, rows);
                for (int i = 0; i < call.length; i++) {
                    out[call[i]] = result.get(i);
                }
                from = to;
            }
        }
        return Arrays.asList(out);
    }

    /** One reader call over {@code rows[which]}, padded to their longest question and longest memory. */
    private List<Logits> call(int[] which, List<Row> rows) {
        int batch = which.length;
        int questionLength = 0;
        int memoryLength = 0;
        for (int r : which) {
            questionLength = Math.max(questionLength, rows.get(r).question().length / hidden);
            memoryLength = Math.max(memoryLength, rows.get(r).memory().length / hidden);
        }
        float[] q = new float[batch * questionLength * hidden];
        float[] qMask = new float[batch * questionLength];
        float[] m = new float[batch * memoryLength * hidden];
        float[] mMask = new float[batch * memoryLength];
        for (int b = 0; b < batch; b++) {
            Row row = rows.get(which[b]);
            System.arraycopy(row.question(), 0, q, b * questionLength * hidden, row.question().length);
            Arrays.fill(qMask, b * questionLength, b * questionLength + row.question().length / hidden, 1f);
            System.arraycopy(row.memory(), 0, m, b * memoryLength * hidden, row.memory().length);
            Arrays.fill(mMask, b * memoryLength, b * memoryLength + row.memory().length / hidden, 1f);
        }
        int width = questionLength + memoryLength;
        float[] start;
        float[] end;
        try (NDManager call = reader.getNDManager().newSubManager()) {
            NDList inputs = new NDList(
                    call.create(q, new Shape(batch, questionLength, hidden)),
                    call.create(qMask, new Shape(batch, questionLength)),
                    call.create(m, new Shape(batch, memoryLength, hidden)),
                    call.create(mMask, new Shape(batch, memoryLength)));
            NDList outputs = int8Method != null
                    ? TorchScripts.runMethod(reader, file, int8Method, call, inputs)
                    : TorchScripts.forward(reader, file, call, inputs.addAll(new NDList(weights)));
            if (outputs.size() != 2) {
                throw new IllegalStateException(file + " must return (start, end), returned " + outputs.size()
                        + " tensors");
            }
            TorchScripts.expectShape(file, "start", outputs.get(0), batch, width);
            TorchScripts.expectShape(file, "end", outputs.get(1), batch, width);
            start = outputs.get(0).toFloatArray();
            end = outputs.get(1).toFloatArray();
        }
        List<Logits> out = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            // memory position p of row b is at questionLength + p, whatever the row's own question length
            int from = b * width + questionLength;
            int tokens = rows.get(which[b]).memory().length / hidden;
            out.add(new Logits(Arrays.copyOfRange(start, from, from + tokens),
                    Arrays.copyOfRange(end, from, from + tokens)));
        }
        return out;
    }

    private static List<MemoryStates> memories(AnswerRequest request) {
        return request.memories() == null ? List.of() : request.memories();
    }

    @Override
    public void close() {
        TorchScripts.closeAll(List.of(reader, manager), null);
    }
}
