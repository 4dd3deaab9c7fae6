package io.cmtstream.memory;

/**
 * A memory matched by a query: which document, how well, and its memory tokens for aggregation.
 * A Flink POJO.
 */
public class MemoryHit {
    public String docId;
    public float score;
    /** float16 bits, row-major [M * hidden]; shared with the bank's stored memory, never mutated. */
    public short[] tokens;

    public MemoryHit() {}

    public MemoryHit(String docId, float score, short[] tokens) {
        this.docId = docId;
        this.score = score;
        this.tokens = tokens;
    }
}
