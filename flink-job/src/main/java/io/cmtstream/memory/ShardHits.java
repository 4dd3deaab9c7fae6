package io.cmtstream.memory;

/** One shard's local top-k for a query. A Flink POJO. */
public class ShardHits {
    public String tenant;
    public String queryId;
    public int shard;
    /** How many memories the shard searched. */
    public int searched;
    public long matchNanos;
    public MemoryHit[] hits;

    public ShardHits() {}
}
