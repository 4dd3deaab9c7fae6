package io.cmtstream.memory;

/**
 * What a question is matched by: its dense key and the sparse lexical half (weighted WordPiece ids, empty when the
 * model matches by dense keys only). A memory's match score is the dense dot product plus the sparse one.
 *
 * <p>Immutable by convention: the arrays are shared, never written.
 *
 * @param dense L2-normalised key
 * @param terms token ids, strictly increasing
 * @param weights one weight per term
 */
public record MatchKey(float[] dense, int[] terms, float[] weights) {
    private static final int[] NO_TERMS = new int[0];
    private static final float[] NO_WEIGHTS = new float[0];

    public MatchKey {
        terms = terms == null ? NO_TERMS : terms;
        weights = weights == null ? NO_WEIGHTS : weights;
        if (terms.length != weights.length) {
            throw new IllegalArgumentException(terms.length + " query terms but " + weights.length + " weights");
        }
    }

    /** A key without a lexical half. */
    public static MatchKey dense(float[] key) {
        return new MatchKey(key, NO_TERMS, NO_WEIGHTS);
    }

    boolean hasTerms() {
        return terms.length > 0;
    }
}
