package io.cmtstream.model;

/**
 * A compressed text: its matching key and its memory tokens.
 *
 * @param key L2-normalised key vector (length {@link ModelInfo#keyDim()})
 * @param memoryTokens the M memory tokens, row-major {@code [M * hidden]}; empty for a retrieval-only model
 * @param tokenCount how many tokenizer tokens the text had before truncation, [CLS] and [SEP] not counted (for
 *     compression-ratio metrics)
 * @param truncated whether the text was cut to the model's maximum length
 * @param terms the sparse half of the key (lexical matching); {@link TermWeights#NONE} for a dense-only model
 */
public record Encoding(float[] key, float[] memoryTokens, int tokenCount, boolean truncated, TermWeights terms) {

    /** A dense-only encoding. */
    public Encoding(float[] key, float[] memoryTokens, int tokenCount, boolean truncated) {
        this(key, memoryTokens, tokenCount, truncated, TermWeights.NONE);
    }

    public Encoding withTerms(TermWeights terms) {
        return new Encoding(key, memoryTokens, tokenCount, truncated, terms);
    }
}
