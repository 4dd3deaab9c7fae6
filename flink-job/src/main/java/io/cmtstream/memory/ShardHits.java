package io.cmtstream.memory;

/** One shard's local top-k for a query. A Flink POJO. */
public class ShardHits {
    public String tenant;
    public String queryId;
    public int shard;
    /** The query's askedAt, so the merge can expire what it holds for a query that never completes. */
    public long askedAt;
    /** How many memories the shard searched. */
    public int searched;
    public long matchNanos;
    public MemoryHit[] hits;
    /**
     * Documents of this shard with a version current at askedAt that the bank no longer has (replaced or deleted
     * since; at most {@link MemoryShardFunction#CHANGED_LIMIT}, sorted); null or empty: none.
     */
    public String[] changed;

    public ShardHits() {}
}
