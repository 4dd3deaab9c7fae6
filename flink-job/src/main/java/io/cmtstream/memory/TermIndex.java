package io.cmtstream.memory;

import java.util.Arrays;

/**
 * The sparse (lexical) half of a shard's matching index: an inverted index from WordPiece term ids to the rows that
 * hold them, so that a query's lexical score against every row costs only the postings of the query's own terms.
 * Rows are the row numbers of the shard's {@link KeyMatrix} and follow its renumbering: a removed row is taken by the
 * last row.
 *
 * <p>Each row is a sparse vector (strictly increasing term ids, one weight each); a row's score for a query is the dot
 * product of the two sparse vectors. State is the truth; this is a cache rebuilt from it after a restore, so its
 * layout can change without a state migration.
 *
 * <p>Costs: {@link #addScores} is the sum of the query terms' posting lengths. {@link #put} and {@link #remove} are
 * O(terms of the affected rows), never O(posting length), because documents are deleted and updated while postings
 * of common terms span most of a shard: each row keeps, per term, the position of its entry in that term's posting,
 * so an entry is removed by moving the posting's last entry into its place, and a renumbered row rewrites its entries
 * in place. Postings are primitive arrays indexed by term id, without boxing on the query path.
 *
 * <p>Not thread-safe: one Flink subtask owns it.
 */
final class TermIndex {
    private static final int[] NO_TERMS = new int[0];
    private static final float[] NO_WEIGHTS = new float[0];
    /** The largest array the JVM reliably allocates. */
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    /** The rows holding one term, in no order (removal swaps), with the term's weight in each. */
    private static final class Posting {
        int[] rows = new int[4];
        float[] weights = new float[4];
        int size;
    }

    /** Indexed by term id; null for a term no row has held. Grows to the largest term seen. */
    private Posting[] postings = new Posting[0];
    /** Per row, its terms, sorted: how a moved entry finds its back-pointer with a binary search. */
    private int[][] rowTerms = new int[0][];
    /** Per row and term (parallel to rowTerms), the position of the row's entry in that term's posting. */
    private int[][] rowPositions = new int[0][];
    private int rows;
    private long entries;

    TermIndex() {
    }

    /** Sets the terms of {@code row}: row == rows() appends a new row; row < rows() replaces that row's terms. */
    void put(int row, int[] terms, float[] weights) {
        if (row < 0 || row > rows) {
            throw new IllegalArgumentException("row " + row + " is outside 0.." + rows + " (rows: " + rows + ")");
        }
        // State written before terms existed has none; such a row is present but matches nothing lexically.
        if (terms == null) {
            terms = NO_TERMS;
        }
        if (weights == null) {
            weights = NO_WEIGHTS;
        }
        validate(row, terms, weights);
        // Validated before any change, so a bad row leaves the index as it was.
        if (row == rows) {
            if (row == rowTerms.length) {
                int capacity = Math.max(16, rowTerms.length * 2);
                rowTerms = Arrays.copyOf(rowTerms, capacity);
                rowPositions = Arrays.copyOf(rowPositions, capacity);
            }
            rows++;
        } else {
            removeEntries(row);
        }
        int[] own = terms.clone(); // the caller's array may be reused; the back-pointer search relies on this copy
        int[] positions = new int[own.length];
        for (int i = 0; i < own.length; i++) {
            positions[i] = append(own[i], row, weights[i]);
        }
        rowTerms[row] = own;
        rowPositions[row] = positions;
        entries += own.length;
    }

    /** Removes {@code row}: the last row (rows()-1) takes its number, as KeyMatrix.remove does. */
    void remove(int row) {
        if (row < 0 || row >= rows) {
            throw new IllegalArgumentException("row " + row + " is outside 0.." + (rows - 1) + " (rows: " + rows + ")");
        }
        removeEntries(row);
        int last = rows - 1;
        if (row != last) {
            int[] terms = rowTerms[last];
            int[] positions = rowPositions[last];
            for (int i = 0; i < terms.length; i++) {
                postings[terms[i]].rows[positions[i]] = row;
            }
            rowTerms[row] = terms;
            rowPositions[row] = positions;
        }
        rowTerms[last] = null;
        rowPositions[last] = null;
        rows = last;
    }

    int rows() {
        return rows;
    }

    /** Adds each row's dot product with the query to {@code scores[row]} (scores has length >= rows()). Only reads the index. */
    void addScores(int[] queryTerms, float[] queryWeights, float[] scores) {
        if (queryTerms == null || queryWeights == null) {
            return;
        }
        if (queryTerms.length != queryWeights.length) {
            throw new IllegalArgumentException("query has " + queryTerms.length + " terms but "
                    + queryWeights.length + " weights");
        }
        Posting[] postings = this.postings;
        for (int q = 0; q < queryTerms.length; q++) {
            int term = queryTerms[q];
            if (term < 0 || term >= postings.length) {
                continue;
            }
            Posting posting = postings[term];
            if (posting == null) {
                continue;
            }
            float queryWeight = queryWeights[q];
            int[] postingRows = posting.rows;
            float[] postingWeights = posting.weights;
            for (int i = 0, n = posting.size; i < n; i++) {
                scores[postingRows[i]] += queryWeight * postingWeights[i];
            }
        }
    }

    /**
     * Dot product of two sparse vectors (both sorted by term): what a row would score, for paths that score a few
     * memories read from state. Sums in query-term order in float, as {@link #addScores} does, so that the two agree
     * exactly on a zeroed score.
     */
    static float dot(int[] queryTerms, float[] queryWeights, int[] terms, float[] weights) {
        if (queryTerms == null || queryWeights == null || terms == null || weights == null) {
            return 0f;
        }
        if (queryTerms.length != queryWeights.length || terms.length != weights.length) {
            throw new IllegalArgumentException("terms and weights differ in length: query " + queryTerms.length
                    + "/" + queryWeights.length + ", row " + terms.length + "/" + weights.length);
        }
        int qn = queryTerms.length;
        int n = terms.length;
        float sum = 0f;
        int q = 0;
        int i = 0;
        while (q < qn && i < n) {
            int a = queryTerms[q];
            int b = terms[i];
            if (a == b) {
                sum += queryWeights[q] * weights[i];
                q++;
                i++;
            } else if (a < b) {
                q++;
            } else {
                i++;
            }
        }
        return sum;
    }

    /** Entries held (sum of rows' term counts), for memory gauges and benchmarks. */
    long entries() {
        return entries;
    }

    private static void validate(int row, int[] terms, float[] weights) {
        if (terms.length != weights.length) {
            throw new IllegalArgumentException("row " + row + " has " + terms.length + " terms but "
                    + weights.length + " weights");
        }
        int previous = -1;
        for (int i = 0; i < terms.length; i++) {
            int term = terms[i];
            if (term < 0) {
                throw new IllegalArgumentException("row " + row + " has negative term " + term + " at " + i);
            }
            if (term <= previous) {
                throw new IllegalArgumentException("row " + row + " terms are not strictly increasing: " + term
                        + " at " + i + " follows " + previous);
            }
            previous = term;
        }
    }

    /** Appends {@code row}'s entry to the posting of {@code term}; returns its position there. */
    private int append(int term, int row, float weight) {
        if (term >= postings.length) {
            // Doubling keeps a growing vocabulary amortised; term + 1 covers a sparse jump to a large id.
            int capacity = (int) Math.min(MAX_ARRAY, Math.max(term + 1L, postings.length * 2L));
            postings = Arrays.copyOf(postings, Math.max(capacity, 64));
        }
        Posting posting = postings[term];
        if (posting == null) {
            posting = new Posting();
            postings[term] = posting;
        }
        int position = posting.size;
        if (position == posting.rows.length) {
            int capacity = position * 2;
            posting.rows = Arrays.copyOf(posting.rows, capacity);
            posting.weights = Arrays.copyOf(posting.weights, capacity);
        }
        posting.rows[position] = row;
        posting.weights[position] = weight;
        posting.size = position + 1;
        return position;
    }

    /** Takes {@code row}'s entries out of their postings; the row keeps its number and stale term arrays. */
    private void removeEntries(int row) {
        int[] terms = rowTerms[row];
        int[] positions = rowPositions[row];
        for (int i = 0; i < terms.length; i++) {
            Posting posting = postings[terms[i]];
            int position = positions[i];
            int last = posting.size - 1;
            if (position != last) {
                int movedRow = posting.rows[last];
                posting.rows[position] = movedRow;
                posting.weights[position] = posting.weights[last];
                // A row holds a term once, so the moved entry is another row's and its back-pointer must follow.
                int k = Arrays.binarySearch(rowTerms[movedRow], terms[i]);
                rowPositions[movedRow][k] = position;
            }
            posting.size = last;
        }
        entries -= terms.length;
    }
}
