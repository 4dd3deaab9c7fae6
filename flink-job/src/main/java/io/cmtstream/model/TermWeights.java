package io.cmtstream.model;

import java.util.Arrays;

/**
 * The sparse half of a key: weights over WordPiece ids, matched by dot product beside the dense key (lexical
 * matching, docs/MODEL-CONTRACT.md). A document's are its BM25 term weights, a question's the model's query weight
 * per distinct term, so the dot product is the weighted BM25 score of the pair.
 *
 * <p>Immutable by convention (the arrays are not copied; nobody writes them after construction).
 *
 * @param terms token ids, strictly increasing
 * @param weights one weight per term
 */
public record TermWeights(int[] terms, float[] weights) {
    /** No terms: a model without lexical matching. */
    public static final TermWeights NONE = new TermWeights(new int[0], new float[0]);

    public TermWeights {
        if (terms.length != weights.length) {
            throw new IllegalArgumentException(terms.length + " terms but " + weights.length + " weights");
        }
        for (int i = 1; i < terms.length; i++) {
            if (terms[i] <= terms[i - 1]) {
                throw new IllegalArgumentException("terms must be strictly increasing: " + terms[i - 1] + ", "
                        + terms[i]);
            }
        }
    }

    public int size() {
        return terms.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TermWeights t && Arrays.equals(terms, t.terms) && Arrays.equals(weights, t.weights);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(terms) + Arrays.hashCode(weights);
    }

    @Override
    public String toString() {
        return "TermWeights" + Arrays.toString(terms) + Arrays.toString(weights);
    }
}
