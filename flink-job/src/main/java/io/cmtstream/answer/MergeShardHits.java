package io.cmtstream.answer;

import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.memory.MemoryHit;
import io.cmtstream.memory.ShardHits;
import io.cmtstream.memory.TopKMerger;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

import java.util.ArrayList;
import java.util.List;

/**
 * Keyed by query: waits for the query itself and for the local top-k of every shard of its tenant, then merges
 * them into the global top-k (the first half of top-aggregation). State is cleared once the query is emitted.
 */
public class MergeShardHits extends KeyedCoProcessFunction<String, EncodedQuery, ShardHits, RetrievedContext> {
    private final int shards;
    private transient ValueState<EncodedQuery> query;
    private transient ListState<ShardHits> received;

    public MergeShardHits(int shards) {
        this.shards = shards;
    }

    @Override
    public void open(OpenContext openContext) {
        query = getRuntimeContext().getState(
                new ValueStateDescriptor<>("query", TypeInformation.of(EncodedQuery.class)));
        received = getRuntimeContext().getListState(
                new ListStateDescriptor<>("shard-hits", TypeInformation.of(ShardHits.class)));
    }

    @Override
    public void processElement1(EncodedQuery q, Context ctx, Collector<RetrievedContext> out) throws Exception {
        query.update(q);
        emitIfComplete(out);
    }

    @Override
    public void processElement2(ShardHits hits, Context ctx, Collector<RetrievedContext> out) throws Exception {
        received.add(hits);
        emitIfComplete(out);
    }

    private void emitIfComplete(Collector<RetrievedContext> out) throws Exception {
        EncodedQuery q = query.value();
        if (q == null) {
            return;
        }
        List<MemoryHit[]> perShard = new ArrayList<>(shards);
        int searched = 0;
        long slowest = 0;
        for (ShardHits h : received.get()) {
            perShard.add(h.hits);
            searched += h.searched;
            slowest = Math.max(slowest, h.matchNanos);
        }
        if (perShard.size() < shards) {
            return;
        }
        RetrievedContext context = new RetrievedContext();
        context.query = q;
        context.hits = TopKMerger.merge(perShard, q.topK).toArray(new MemoryHit[0]);
        context.searched = searched;
        context.matchMillis = slowest / 1_000_000;
        out.collect(context);
        query.clear();
        received.clear();
    }

    /** Both inputs are keyed by this, so a query and its shard results meet. */
    public static String key(String tenant, String queryId) {
        return tenant + "/" + queryId;
    }
}
