package io.cmtstream.compress;

/**
 * A question after the compressor: its key (for self-matching) and its own memory tokens (for aggregation).
 * A Flink POJO.
 */
public class EncodedQuery {
    public String tenant;
    public String queryId;
    public String question;
    public long askedAt;
    public int topK;
    public float[] key;
    public float[] tokens;
    public long encodeMillis;

    public EncodedQuery() {}
}
