package io.cmtstream.memory;

/**
 * One document's memory as the bank stores it: its matching key and what the reader reads, the document's token
 * states after the backbone's memory layer (int8, one float scale per token) and its pieces (WordPiece id, with
 * bit 15 set where the token starts a whitespace-separated chunk), which answers are copied from
 * (docs/MODEL-CONTRACT.md, {@code cmt-model/4}).
 *
 * <p>A Flink POJO (state schema evolution applies: fields may be added with defaults). State written under an
 * older contract has no states (null): such a memory is matched but not read. Instances handed to the bank are
 * owned by it afterwards; callers must not mutate them.
 */
public class Memory {
    public String docId;
    /** Event time the document was published at (epoch millis). */
    public long publishedAt;
    /** L2-normalised key, float32. */
    public float[] key;
    /** Token states, row-major [T * hidden], int8. Empty for a retrieval-only model; null in older state. */
    public byte[] states;
    /** One scale per token: a state is its int8 value times its token's scale. */
    public float[] stateScales;
    /** One piece per token: WordPiece id | 0x8000 where the token starts a chunk of the text. */
    public short[] pieces;
    /** Length of the raw text in UTF-8 bytes, for the compression ratio. */
    public int textBytes;
    public String title;
    public String source;
    /**
     * The key's lexical half: WordPiece ids, strictly increasing, and their BM25 weights. Null (state written before
     * lexical matching, or a dense-only model) means none.
     */
    public int[] terms;
    public float[] termWeights;
    /**
     * publishedAt of the document's first version since it was last created, kept across upserts (so the bank
     * knows from when the document existed); {@link Long#MIN_VALUE} in state written before it was kept.
     */
    public long firstPublishedAt = Long.MIN_VALUE;

    public Memory() {}

    public Memory(String docId, long publishedAt, float[] key, byte[] states, float[] stateScales, short[] pieces,
                  int textBytes, String title, String source) {
        this.docId = docId;
        this.publishedAt = publishedAt;
        this.key = key;
        this.states = states;
        this.stateScales = stateScales;
        this.pieces = pieces;
        this.textBytes = textBytes;
        this.title = title;
        this.source = source;
    }

    /** Since when the document has existed in the bank, as far as the bank knows. */
    public long existsSince() {
        return firstPublishedAt == Long.MIN_VALUE ? publishedAt : firstPublishedAt;
    }

    /** Sets the key's lexical half; returns this. */
    public Memory withTerms(int[] terms, float[] termWeights) {
        this.terms = terms;
        this.termWeights = termWeights;
        return this;
    }

    /**
     * Bytes of vector payload this memory occupies (key, lexical half, token states with their scales, pieces):
     * what the compression ratio uses.
     */
    public int vectorBytes() {
        int lexical = terms == null ? 0 : terms.length * (Integer.BYTES + Float.BYTES);
        int read = (states == null ? 0 : states.length) + (stateScales == null ? 0 : stateScales.length * Float.BYTES)
                + (pieces == null ? 0 : pieces.length * Short.BYTES);
        return key.length * Float.BYTES + lexical + read;
    }
}
