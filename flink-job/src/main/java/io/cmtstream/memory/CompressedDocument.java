package io.cmtstream.memory;

/**
 * A document after the compressor: the memory to store, or a delete. A Flink POJO.
 */
public class CompressedDocument {
    public String tenant;
    public String docId;
    public boolean delete;
    public long publishedAt;
    /** Null for a delete. */
    public Memory memory;
    /** Tokens of the text before truncation to the model's maximum. */
    public int tokenCount;
    public boolean truncated;

    public CompressedDocument() {}

    public static CompressedDocument upsert(String tenant, Memory memory, int tokenCount, boolean truncated) {
        CompressedDocument d = new CompressedDocument();
        d.tenant = tenant;
        d.docId = memory.docId;
        d.publishedAt = memory.publishedAt;
        d.memory = memory;
        d.tokenCount = tokenCount;
        d.truncated = truncated;
        return d;
    }

    public static CompressedDocument delete(String tenant, String docId, long publishedAt) {
        CompressedDocument d = new CompressedDocument();
        d.tenant = tenant;
        d.docId = docId;
        d.delete = true;
        d.publishedAt = publishedAt;
        return d;
    }
}
