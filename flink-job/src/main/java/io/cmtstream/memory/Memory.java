package io.cmtstream.memory;

/**
 * One document's memory as the bank stores it: its matching key and its M memory tokens in float16.
 *
 * <p>A Flink POJO (state schema evolution applies: fields may be added with defaults). Instances handed to the bank
 * are owned by it afterwards; callers must not mutate them.
 */
public class Memory {
    public String docId;
    /** Event time the document was published at (epoch millis). */
    public long publishedAt;
    /** L2-normalised key, float32. */
    public float[] key;
    /** Memory tokens, row-major [M * hidden], IEEE float16 bits. Empty for a retrieval-only model. */
    public short[] tokens;
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

    public Memory() {}

    public Memory(String docId, long publishedAt, float[] key, short[] tokens, int textBytes, String title,
                  String source) {
        this.docId = docId;
        this.publishedAt = publishedAt;
        this.key = key;
        this.tokens = tokens;
        this.textBytes = textBytes;
        this.title = title;
        this.source = source;
    }

    /** Sets the key's lexical half; returns this. */
    public Memory withTerms(int[] terms, float[] termWeights) {
        this.terms = terms;
        this.termWeights = termWeights;
        return this;
    }

    /** Bytes of vector payload this memory occupies (key, lexical half, tokens): what the compression ratio uses. */
    public int vectorBytes() {
        int lexical = terms == null ? 0 : terms.length * (Integer.BYTES + Float.BYTES);
        return key.length * Float.BYTES + lexical + tokens.length * Short.BYTES;
    }
}
