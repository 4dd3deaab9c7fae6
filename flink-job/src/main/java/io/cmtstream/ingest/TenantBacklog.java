package io.cmtstream.ingest;

import io.cmtstream.avro.Query;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Keyed by tenant: caps the tenant's queries that wait for the document watermark at {@code maxPending}; one more
 * becomes a dead letter {@link Rejection#OVERLOADED}. Every query of a tenant goes to every shard of the tenant,
 * so this is also the cap on each of its shards' pending queries, decided before fan-out. The watermark here is
 * the documents' before the compressor, which leads the shards' by the documents being compressed: a shard may hold
 * more than the cap by the queries asked within those documents' publication times (docs/RELIABILITY.md).
 *
 * <p>Input 1: the queries (dead letters pass through). Input 2 carries only the document watermark (the validated
 * documents filtered to nothing); its records, if any, are ignored. State: the number pending and, per askedAt, how
 * many; one event-time timer per distinct askedAt releases them, so a timer's work is what it releases.
 */
public class TenantBacklog<W> extends KeyedCoProcessFunction<String, Ingested<Query>, W, Ingested<Query>> {
    static final ValueStateDescriptor<Integer> PENDING = new ValueStateDescriptor<>("pending-queries", Types.INT);
    static final MapStateDescriptor<Long, Integer> PENDING_AT =
            new MapStateDescriptor<>("pending-by-asked-at", Types.LONG, Types.INT);

    private final int maxPending;
    private transient ValueState<Integer> pending;
    private transient MapState<Long, Integer> pendingAt;
    private transient Counter overloaded;

    public TenantBacklog(int maxPending) {
        if (maxPending < 1) {
            throw new IllegalArgumentException("cmt.query.max-pending must be at least 1, not " + maxPending);
        }
        this.maxPending = maxPending;
    }

    @Override
    public void open(OpenContext openContext) {
        pending = getRuntimeContext().getState(PENDING);
        pendingAt = getRuntimeContext().getMapState(PENDING_AT);
        overloaded = getRuntimeContext().getMetricGroup().counter("queriesOverloaded");
    }

    @Override
    public void processElement1(Ingested<Query> in, Context ctx, Collector<Ingested<Query>> out) throws Exception {
        if (!in.isValid() || !QueryAdmission.waits(in.eventTime, ctx.timerService().currentWatermark())) {
            out.collect(in);
            return;
        }
        Integer current = pending.value();
        int waiting = current == null ? 0 : current;
        if (!QueryAdmission.hasRoom(waiting, maxPending)) {
            overloaded.inc();
            out.collect(in.refused(Rejection.OVERLOADED, "tenant " + ctx.getCurrentKey() + " has " + waiting
                    + " queries waiting for the document watermark, the most cmt.query.max-pending allows"));
            return;
        }
        pending.update(waiting + 1);
        Integer atTime = pendingAt.get(in.eventTime);
        pendingAt.put(in.eventTime, atTime == null ? 1 : atTime + 1);
        ctx.timerService().registerEventTimeTimer(in.eventTime);
        out.collect(in);
    }

    @Override
    public void processElement2(W watermarkOnly, Context ctx, Collector<Ingested<Query>> out) {}

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Ingested<Query>> out) throws Exception {
        Integer released = pendingAt.get(timestamp);
        if (released == null) {
            return;
        }
        pendingAt.remove(timestamp);
        Integer current = pending.value();
        int left = (current == null ? 0 : current) - released;
        if (left > 0) {
            pending.update(left);
        } else {
            pending.clear();
        }
    }
}
