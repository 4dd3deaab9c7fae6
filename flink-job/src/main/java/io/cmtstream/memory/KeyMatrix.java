package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The in-heap matrix of one shard's keys, one row per document, kept beside the bank's state so that matching is
 * a single pass over contiguous floats. State is the truth; this is a cache rebuilt from it after a restore.
 *
 * <p>Not thread-safe: one Flink subtask owns it.
 */
public final class KeyMatrix {
    /** Fixed by the first key put; 0 until then, so the bank need not know the model to be restored. */
    private int dim;
    private final Map<String, Integer> rowOf = new HashMap<>();
    private final List<String> ids = new ArrayList<>();
    private float[] rows;

    public KeyMatrix() {
        this.rows = new float[0];
    }

    public int dim() {
        return dim;
    }

    public int size() {
        return ids.size();
    }

    /** Adds or replaces the key of {@code docId}; returns true if it replaced one. */
    public boolean put(String docId, float[] key) {
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
            if ((row + 1) * dim > rows.length) {
                rows = Arrays.copyOf(rows, Math.max(rows.length * 2, (row + 16) * dim));
            }
            ids.add(docId);
            rowOf.put(docId, row);
        }
        System.arraycopy(key, 0, rows, row * dim, dim);
        return replaced;
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
            System.arraycopy(rows, last * dim, rows, row * dim, dim);
            ids.set(row, moved);
            rowOf.put(moved, row);
        }
        ids.remove(last);
        return true;
    }

    String idAt(int row) {
        return ids.get(row);
    }

    /**
     * Dot products of every query with every row, {@code scores[q][0..size)}, reading the matrix once for the whole
     * batch: past a few thousand rows the matrix no longer fits in cache and memory bandwidth is the cost.
     */
    void scoreAll(float[][] queries, float[][] scores) {
        int n = ids.size();
        for (int r = 0; r < n; r++) {
            int base = r * dim;
            for (int q = 0; q < queries.length; q++) {
                scores[q][r] = dot(rows, base, queries[q], dim);
            }
        }
    }

    /**
     * Eight independent partial sums: one running sum is a chain of dependent adds that the JIT may not reorder
     * (float addition is not associative), so it runs at add latency; eight chains overlap. Measured by the bench's
     * matching section: 1.4x faster than one sum at 100k and 1M keys, where reading the floats from memory is
     * then most of the cost.
     */
    static float dot(float[] rows, int base, float[] query, int dim) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
        int j = 0;
        for (; j + 8 <= dim; j += 8) {
            int b = base + j;
            s0 += rows[b] * query[j];
            s1 += rows[b + 1] * query[j + 1];
            s2 += rows[b + 2] * query[j + 2];
            s3 += rows[b + 3] * query[j + 3];
            s4 += rows[b + 4] * query[j + 4];
            s5 += rows[b + 5] * query[j + 5];
            s6 += rows[b + 6] * query[j + 6];
            s7 += rows[b + 7] * query[j + 7];
        }
        for (; j < dim; j++) {
            s0 += rows[base + j] * query[j];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    /** Dot product of {@code query} with every row, written into {@code scores[0..size)}. */
    void scoreAll(float[] query, float[] scores) {
        scoreAll(new float[][] {query}, new float[][] {scores});
    }
}
