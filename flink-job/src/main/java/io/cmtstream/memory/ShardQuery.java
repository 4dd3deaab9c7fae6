package io.cmtstream.memory;

import io.cmtstream.compress.EncodedQuery;
/** One shard's copy of a query: just what local matching needs. A Flink POJO. */
public class ShardQuery {
    public String tenant;
    public String queryId;
    public int shard;
    public long askedAt;
    public int topK;
    /** See {@link io.cmtstream.compress.EncodedQuery#restrictTo}. */
    public String[] restrictTo;
    /** See {@link io.cmtstream.compress.EncodedQuery#readInListedOrder}. */
    public boolean readInListedOrder;
    public float[] key;
    /** The key's lexical half (see {@link io.cmtstream.compress.EncodedQuery#terms}); null means none. */
    public int[] terms;
    public float[] termWeights;

    /** What the shard matches by. */
    public MatchKey matchKey() {
        return new MatchKey(key, terms, termWeights);
    }

    public ShardQuery() {}
}
