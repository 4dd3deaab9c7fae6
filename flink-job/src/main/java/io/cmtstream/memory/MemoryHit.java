package io.cmtstream.memory;

/**
 * A memory matched by a query: which document, how well, and what the reader reads of it. A Flink POJO.
 *
 * <p>The arrays are shared with the bank's stored memory ({@link Memory}) and never mutated; they are null for a
 * memory written under an older contract, which the reader skips.
 */
public class MemoryHit {
    public String docId;
    /** Match score: dense plus lexical, what ranks memories and what the answer's evidence shows. */
    public float score;
    /** The dense keys' cosine alone. */
    public float keyScore;
    /** The memory's token states, int8, row-major [T * hidden]. */
    public byte[] states;
    /** One scale per token. */
    public float[] stateScales;
    /** One piece per token: WordPiece id | 0x8000 where the token starts a chunk of the text. */
    public short[] pieces;

    public MemoryHit() {}

    /** A hit of a dense-only match (score = key score) without states. */
    public MemoryHit(String docId, float score) {
        this(docId, score, score, null, null, null);
    }

    public MemoryHit(String docId, float score, float keyScore, byte[] states, float[] stateScales, short[] pieces) {
        this.docId = docId;
        this.score = score;
        this.keyScore = keyScore;
        this.states = states;
        this.stateScales = stateScales;
        this.pieces = pieces;
    }

    /** The hit of a stored memory. */
    static MemoryHit of(Memory memory, float score, float keyScore) {
        return new MemoryHit(memory.docId, score, keyScore, memory.states, memory.stateScales, memory.pieces);
    }
}
