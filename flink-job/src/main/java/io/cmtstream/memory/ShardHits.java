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

    public ShardHits() {}
}
