package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The in-heap matrix of one shard's keys, one row per document, kept beside the bank's state so that matching is
 * a single pass over contiguous memory. State is the truth (float keys); this is a cache rebuilt from it after a
 * restore, so its encoding can change without a state migration. The keys' lexical halves live in a
 * {@link TermIndex} whose rows follow this matrix's.
 *
 * <p>Rows are int8 with one float scale per row: past a few thousand rows matching is bound by reading the matrix
 * from memory, and int8 is a quarter of float's bytes. Keys are L2-normalised, so the rounding error of a score is
 * about 0.3% of a row's largest component; the evaluation's recall is measured through this matrix.
 *
 * <p>Not thread-safe: one Flink subtask owns it.
 */
public final class KeyMatrix {
    private final KeyKernel kernel;
    /** Fixed by the first key put; 0 until then, so the bank need not know the model to be restored. */
    private int dim;
    private final Map<String, Integer> rowOf = new HashMap<>();
    private final List<String> ids = new ArrayList<>();
    private byte[] codes = new byte[0];
    private float[] scales = new float[0];
    /** Each row's publishedAt, so a query can be matched as of its askedAt. */
    private long[] published = new long[0];
    private final TermIndex terms = new TermIndex();

    public KeyMatrix() {
        this(KeyKernels.best());
    }

    KeyMatrix(KeyKernel kernel) {
        this.kernel = kernel;
    }

    /** A matrix on the portable kernel whatever this JVM offers: for comparisons in benchmarks. */
    public static KeyMatrix scalar() {
        return new KeyMatrix(new ScalarKeyKernel());
    }

    public int dim() {
        return dim;
    }

    public int size() {
        return ids.size();
    }

    /** The kernel this matrix scores with, for logs and benchmark reports. */
    public String kernelName() {
        return kernel.name();
    }

    /** Adds or replaces the dense-only key of {@code docId}; returns true if it replaced one. */
    public boolean put(String docId, float[] key) {
        return put(docId, key, null, null);
    }

    /**
     * Adds or replaces the key of {@code docId} with its lexical half ({@code termIds} strictly increasing, null for
     * none); returns true if it replaced one.
     */
    public boolean put(String docId, float[] key, int[] termIds, float[] termWeights) {
        return put(docId, key, termIds, termWeights, Long.MIN_VALUE);
    }

    /**
     * {@link #put(String, float[], int[], float[])} for a memory published at {@code publishedAt} (epoch millis),
     * which queries matched as of an earlier time skip.
     */
    public boolean put(String docId, float[] key, int[] termIds, float[] termWeights, long publishedAt) {
        if (dim == 0) {
            dim = key.length;
        }
        if (key.length != dim) {
            throw new IllegalArgumentException("key of " + docId + " has " + key.length + " dims, expected " + dim);
        }
        Integer row = rowOf.get(docId);
        boolean replaced = row != null;
        if (row == null) {
            row = ids.size();
            if (row == scales.length) {
                int capacity = Math.max(scales.length * 2, row + 16);
                scales = Arrays.copyOf(scales, capacity);
                published = Arrays.copyOf(published, capacity);
                codes = Arrays.copyOf(codes, capacity * dim);
            }
        }
        // The term index validates first, so a bad lexical half leaves the matrix as it was.
        terms.put(row, termIds, termWeights);
        if (!replaced) {
            ids.add(docId);
            rowOf.put(docId, row);
        }
        scales[row] = quantize(key, codes, row * dim);
        published[row] = publishedAt;
        return replaced;
    }

    public boolean contains(String docId) {
        return rowOf.containsKey(docId);
    }

    /** Removes {@code docId}; the last row moves into its place so the matrix stays dense. */
    public boolean remove(String docId) {
        Integer row = rowOf.remove(docId);
        if (row == null) {
            return false;
        }
        int last = ids.size() - 1;
        if (row != last) {
            String moved = ids.get(last);
            System.arraycopy(codes, last * dim, codes, row * dim, dim);
            scales[row] = scales[last];
            published[row] = published[last];
            ids.set(row, moved);
            rowOf.put(moved, row);
        }
        ids.remove(last);
        terms.remove(row);
        return true;
    }

    String idAt(int row) {
        return ids.get(row);
    }

    long publishedAt(int row) {
        return published[row];
    }

    /** Scores of every query against every row, {@code scores[q][0..size)}, reading the matrix once for the batch. */
    void scoreAll(float[][] queries, float[][] scores) {
        kernel.scoreAll(codes, scales, ids.size(), dim, queries, scores);
    }

    /** Adds every row's lexical score for the query to {@code scores[0..size)}. Only reads the index. */
    void addLexicalScores(MatchKey query, float[] scores) {
        terms.addScores(query.terms(), query.weights(), scores);
    }

    /** Entries of the lexical index (terms over all rows), for memory gauges and benchmarks. */
    public long lexicalEntries() {
        return terms.entries();
    }

    /** Match score (dense + lexical) of every row against one query, written into {@code scores[0..size)}. */
    public void scoreAll(MatchKey query, float[] scores) {
        scoreAll(query.dense(), scores);
        addLexicalScores(query, scores);
    }

    /** Score of every row against one query, written into {@code scores[0..size)}. Only reads the matrix. */
    public void scoreAll(float[] query, float[] scores) {
        scoreAll(new float[][] {query}, new float[][] {scores});
    }

    /**
     * The score {@code key} would get as a row of a matrix (same encoding, same kernel): for paths that score a few
     * keys read from state, so that they agree with matching.
     */
    static float score(float[] query, float[] key) {
        byte[] row = new byte[key.length];
        float[] scale = {quantize(key, row, 0)};
        float[][] out = new float[1][1];
        KeyKernels.best().scoreAll(row, scale, 1, key.length, new float[][] {query}, out);
        return out[0][0];
    }

    /**
     * Writes {@code key} as int8 codes at {@code offset} and returns the scale that maps them back: code * scale
     * approximates the key, with the largest component at +-127.
     */
    static float quantize(float[] key, byte[] into, int offset) {
        float scale = symmetricScale(key, 127);
        if (scale == 0f) {
            Arrays.fill(into, offset, offset + key.length, (byte) 0);
            return 0f;
        }
        // A non-finite component (a broken model's output) must not fail the shard: NaN rounds to 0, infinities clamp.
        for (int j = 0; j < key.length; j++) {
            into[offset + j] = (byte) Math.max(-127, Math.min(127, Math.round(key[j] / scale)));
        }
        return scale;
    }

    /**
     * The scale that puts the largest finite component of {@code values} at {@code +-limit}, or 0 when there is none
     * (all zero or non-finite): what integer codes are multiplied by to get the values back.
     */
    static float symmetricScale(float[] values, int limit) {
        float max = 0f;
        for (float v : values) {
            if (Float.isFinite(v)) {
                max = Math.max(max, Math.abs(v));
            }
        }
        return max / limit;
    }
}
