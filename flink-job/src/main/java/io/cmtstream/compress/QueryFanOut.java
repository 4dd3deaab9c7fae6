package io.cmtstream.compress;

import io.cmtstream.memory.ShardQuery;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.util.Collector;

/**
 * Sends a query to every shard of its tenant, and only its tenant: the tenant is part of every shard key, which
 * is what keeps one tenant's memories out of another's answers.
 */
public class QueryFanOut implements FlatMapFunction<EncodedQuery, ShardQuery> {
    private final int shards;

    public QueryFanOut(int shards) {
        this.shards = shards;
    }

    @Override
    public void flatMap(EncodedQuery query, Collector<ShardQuery> out) {
        for (int shard = 0; shard < shards; shard++) {
            ShardQuery q = new ShardQuery();
            q.tenant = query.tenant;
            q.queryId = query.queryId;
            q.shard = shard;
            q.askedAt = query.askedAt;
            q.topK = query.topK;
            q.restrictTo = query.restrictTo;
            q.readInListedOrder = query.readInListedOrder;
            q.key = query.key;
            q.terms = query.terms;
            q.termWeights = query.termWeights;
            out.collect(q);
        }
    }
}
