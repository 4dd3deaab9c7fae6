package io.cmtstream.answer;

import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.ingest.QueryAdmission;
import io.cmtstream.memory.ListedOrderMerger;
import io.cmtstream.memory.MemoryHit;
import io.cmtstream.memory.MemoryShardFunction;
import io.cmtstream.memory.ShardHits;
import io.cmtstream.memory.TopKMerger;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Keyed by query: waits for the query itself and for the local top-k of every shard of its tenant, then merges
 * them into the global top-k (the first half of top-aggregation), or, for a query read in listed order, into its
 * listed memories in that order ({@link ListedOrderMerger}). State is cleared once the query is emitted, or,
 * for a query that never completes (a shard's result lost to a bug or a changed shard count), once the document
 * watermark is {@code retention} past its askedAt (or past the watermark when it arrived) <em>and</em> as long again
 * of wall-clock time has passed with nothing arriving for it since this operator (re)started: such a query is
 * counted ({@code queriesAbandoned}) and logged. The wall-clock half matters because the document watermark can
 * jump by more than the retention at once (a burst of documents dated much later), while the query's other parts
 * are still on their way through the job; dropping it then lost the answer.
 * Query ids are unique per tenant while pending and for the same retention (ingest/QueryIdGuard), so two queries
 * never meet here.
 */
public class MergeShardHits extends KeyedCoProcessFunction<String, EncodedQuery, ShardHits, RetrievedContext> {
    private static final Logger LOG = LoggerFactory.getLogger(MergeShardHits.class);

    private final int shards;
    private final long retentionMillis;
    private transient ValueState<EncodedQuery> query;
    private transient ListState<ShardHits> received;
    private transient ValueState<Long> expiresAt;
    /** Wall-clock time the last part of the query arrived. */
    private transient ValueState<Long> lastArrival;
    private transient long openedAt;
    private transient Counter abandoned;

    public MergeShardHits(int shards) {
        this(shards, QueryAdmission.DEFAULT_ID_RETENTION_MILLIS);
    }

    /** @param retentionMillis how long past askedAt (watermark time) an incomplete query is kept */
    public MergeShardHits(int shards, long retentionMillis) {
        this.shards = shards;
        this.retentionMillis = retentionMillis;
    }

    @Override
    public void open(OpenContext openContext) {
        query = getRuntimeContext().getState(
                new ValueStateDescriptor<>("query", TypeInformation.of(EncodedQuery.class)));
        received = getRuntimeContext().getListState(
                new ListStateDescriptor<>("shard-hits", TypeInformation.of(ShardHits.class)));
        expiresAt = getRuntimeContext().getState(new ValueStateDescriptor<>("expires-at", Types.LONG));
        lastArrival = getRuntimeContext().getState(new ValueStateDescriptor<>("last-arrival", Types.LONG));
        abandoned = getRuntimeContext().getMetricGroup().counter("queriesAbandoned");
        openedAt = Long.MIN_VALUE;
    }

    @Override
    public void processElement1(EncodedQuery q, Context ctx, Collector<RetrievedContext> out) throws Exception {
        query.update(q);
        arrived(ctx);
        expireAfter(q.askedAt, ctx);
        emitIfComplete(ctx, out);
    }

    @Override
    public void processElement2(ShardHits hits, Context ctx, Collector<RetrievedContext> out) throws Exception {
        received.add(hits);
        arrived(ctx);
        expireAfter(hits.askedAt, ctx);
        emitIfComplete(ctx, out);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<RetrievedContext> out) throws Exception {
        int shardsIn = 0;
        for (ShardHits ignored : received.get()) {
            shardsIn++;
        }
        if (shardsIn == 0 && query.value() == null) {
            expiresAt.clear();
            lastArrival.clear();
            return;
        }
        // Past the watermark's expiry, the query is dropped only after the same retention of wall-clock time with
        // nothing arriving, counted from this operator's start too (after a restore the missing parts are replayed).
        long now = ctx.timerService().currentProcessingTime();
        long quietSince = Math.max(lastArrival.value() == null ? now : lastArrival.value(), openedAt(now));
        if (now - quietSince < retentionMillis) {
            ctx.timerService().registerProcessingTimeTimer(quietSince + retentionMillis);
            return;
        }
        abandoned.inc();
        LOG.warn("query {} abandoned: {} of {} shard results and {} query after the watermark passed {}",
                ctx.getCurrentKey(), shardsIn, shards, query.value() == null ? "no" : "the", timestamp);
        clear();
    }

    private void arrived(Context ctx) throws Exception {
        long now = ctx.timerService().currentProcessingTime();
        openedAt(now);
        lastArrival.update(now);
    }

    /** Wall-clock time this operator instance first saw a timer or record (its start, near enough). */
    private long openedAt(long now) {
        if (openedAt == Long.MIN_VALUE) {
            openedAt = now;
        }
        return openedAt;
    }

    private void expireAfter(long askedAt, Context ctx) throws Exception {
        if (expiresAt.value() == null) {
            long at = QueryAdmission.forgetAt(askedAt, ctx.timerService().currentWatermark(), retentionMillis);
            expiresAt.update(at);
            ctx.timerService().registerEventTimeTimer(at);
        }
    }

    private void clear() {
        query.clear();
        received.clear();
        expiresAt.clear();
        lastArrival.clear();
    }

    private void emitIfComplete(Context ctx, Collector<RetrievedContext> out) throws Exception {
        EncodedQuery q = query.value();
        if (q == null) {
            return;
        }
        List<MemoryHit[]> perShard = new ArrayList<>(shards);
        int searched = 0;
        long slowest = 0;
        TreeSet<String> changed = new TreeSet<>();
        for (ShardHits h : received.get()) {
            perShard.add(h.hits);
            searched += h.searched;
            slowest = Math.max(slowest, h.matchNanos);
            if (h.changed != null) {
                changed.addAll(List.of(h.changed));
            }
        }
        if (perShard.size() < shards) {
            return;
        }
        RetrievedContext context = new RetrievedContext();
        context.query = q;
        List<MemoryHit> merged = q.readInListedOrder && q.restrictTo != null
                ? ListedOrderMerger.merge(perShard, q.restrictTo, q.topK)
                : TopKMerger.merge(perShard, q.topK);
        context.hits = merged.toArray(new MemoryHit[0]);
        context.searched = searched;
        context.matchMillis = slowest / 1_000_000;
        context.changed = changed.stream().limit(MemoryShardFunction.CHANGED_LIMIT).toArray(String[]::new);
        out.collect(context);
        Long at = expiresAt.value();
        if (at != null) {
            ctx.timerService().deleteEventTimeTimer(at);
        }
        clear();
    }

    /** Both inputs are keyed by this, so a query and its shard results meet. */
    public static String key(String tenant, String queryId) {
        return tenant + "/" + queryId;
    }
}
