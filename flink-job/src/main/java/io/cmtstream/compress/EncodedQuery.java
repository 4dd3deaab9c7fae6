package io.cmtstream.compress;

/**
 * A question after the compressor: its key (for self-matching) and its token states (for reading).
 * A Flink POJO.
 */
public class EncodedQuery {
    public String tenant;
    public String queryId;
    public String question;
    public long askedAt;
    public int topK;
    /** Document ids matching is restricted to; null means all, empty means closed book. */
    public String[] restrictTo;
    /**
     * Whether the reader gets the restrictTo memories in the order listed, with match scores that never rise down
     * the list (Query.readOrder LISTED); always false without restrictTo.
     */
    public boolean readInListedOrder;
    public float[] key;
    /** The key's lexical half: the question's WordPiece ids, strictly increasing, with the model's query weight. */
    public int[] terms;
    public float[] termWeights;
    /** The question's token states after the backbone's memory layer, row-major [L * hidden], float. */
    public float[] states;
    public long encodeMillis;

    public EncodedQuery() {}
}
