package io.cmtstream.memory;

/**
 * A memory matched by a query: which document, how well, and its memory tokens for aggregation.
 * A Flink POJO.
 */
public class MemoryHit {
    public String docId;
    /** Match score: dense plus lexical, what ranks memories and what the answer's evidence shows. */
    public float score;
    /** The dense keys' cosine alone: the score the aggregator was trained to read. */
    public float keyScore;
    /** float16 bits, row-major [M * hidden]; shared with the bank's stored memory, never mutated. */
    public short[] tokens;
    /**
     * The memory's term ids (its lexical half), what a model whose answers come from the memories' terms may
     * write; null when the memory has none. Shared with the bank's stored memory, never mutated.
     */
    public int[] terms;

    public MemoryHit() {}

    /** A hit of a dense-only match (score = key score). */
    public MemoryHit(String docId, float score, short[] tokens) {
        this(docId, score, score, tokens);
    }

    public MemoryHit(String docId, float score, float keyScore, short[] tokens) {
        this(docId, score, keyScore, tokens, null);
    }

    public MemoryHit(String docId, float score, float keyScore, short[] tokens, int[] terms) {
        this.docId = docId;
        this.score = score;
        this.keyScore = keyScore;
        this.tokens = tokens;
        this.terms = terms;
    }
}
