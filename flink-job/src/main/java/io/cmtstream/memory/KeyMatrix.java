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
                float[] query = queries[q];
                float s = 0f;
                for (int j = 0; j < dim; j++) {
                    s += rows[base + j] * query[j];
                }
                scores[q][r] = s;
            }
        }
    }

    /** Dot product of {@code query} with every row, written into {@code scores[0..size)}. */
    void scoreAll(float[] query, float[] scores) {
        scoreAll(new float[][] {query}, new float[][] {scores});
    }
}
