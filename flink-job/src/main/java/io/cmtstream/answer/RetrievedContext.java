package io.cmtstream.answer;

import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.memory.MemoryHit;

/** A query with its global top-k memories, ready for aggregation and reading. A Flink POJO. */
public class RetrievedContext {
    public EncodedQuery query;
    /** Best first. Empty when the tenant has no memories. */
    public MemoryHit[] hits;
    /** Memories searched over all shards. */
    public int searched;
    /** Slowest shard's matching time. */
    public long matchMillis;

    public RetrievedContext() {}
}
