package io.cmtstream.model;

/**
 * A compressed text: its matching key and what the reader reads of it.
 *
 * @param key L2-normalised key vector (length {@link ModelInfo#keyDim()})
 * @param states a question's token states after the backbone's memory layer, float, row-major
 *     {@code [L, hidden]} ([CLS] .. [SEP]); empty for a document and for a retrieval-only model
 * @param memory a document's memory (its token states int8 and its pieces); {@link MemoryStates#NONE} for a
 *     question and for a retrieval-only model
 * @param tokenCount how many tokenizer tokens the text had before truncation, [CLS] and [SEP] not counted (for
 *     compression-ratio metrics)
 * @param truncated whether the text was cut to the model's maximum length
 * @param terms the sparse half of the key (lexical matching); {@link TermWeights#NONE} for a dense-only model
 */
public record Encoding(float[] key, float[] states, MemoryStates memory, int tokenCount, boolean truncated,
                       TermWeights terms) {

    /** A dense-only encoding. */
    public Encoding(float[] key, float[] states, MemoryStates memory, int tokenCount, boolean truncated) {
        this(key, states, memory, tokenCount, truncated, TermWeights.NONE);
    }

    public Encoding withTerms(TermWeights terms) {
        return new Encoding(key, states, memory, tokenCount, truncated, terms);
    }
}
