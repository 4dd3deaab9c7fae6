package io.cmtstream.answer;

import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.memory.MemoryHit;

/** A query with its global top-k memories, ready for aggregation and reading. A Flink POJO. */
public class RetrievedContext {
    public EncodedQuery query;
    /**
     * Best first, or in the listed order with scores that never rise ({@link EncodedQuery#readInListedOrder}).
     * Empty when the tenant has no memories.
     */
    public MemoryHit[] hits;
    /** Memories searched over all shards. */
    public int searched;
    /** Slowest shard's matching time. */
    public long matchMillis;
    /** Documents with a version current at askedAt that the bank no longer had when matched (at most 10, sorted). */
    public String[] changed;

    public RetrievedContext() {}
}
