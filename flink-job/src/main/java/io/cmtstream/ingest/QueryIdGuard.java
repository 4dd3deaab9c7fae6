package io.cmtstream.ingest;

import io.cmtstream.avro.Query;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Keyed by (tenant, query id): admits the first query with an id and refuses, as dead letters
 * {@link Rejection#DUPLICATE_QUERY_ID}, every other one while the first is pending and for {@code retention}
 * after (in document watermark time, see {@link QueryAdmission#forgetAt}); then the id is forgotten and may be
 * used again. Decided before fan-out, so a duplicate never reaches a shard or the merge.
 *
 * <p>The document watermark (before the compressor) comes through {@link TenantBacklog}, upstream. State: one timestamp per remembered id,
 * cleared by its own event-time timer.
 */
public class QueryIdGuard extends KeyedProcessFunction<String, Ingested<Query>, Ingested<Query>> {
    static final ValueStateDescriptor<Long> REMEMBERED_UNTIL =
            new ValueStateDescriptor<>("query-id-remembered-until", Types.LONG);

    private final long retentionMillis;
    private transient ValueState<Long> rememberedUntil;
    private transient Counter duplicates;

    public QueryIdGuard(long retentionMillis) {
        if (retentionMillis < 1) {
            throw new IllegalArgumentException("cmt.query.id-retention must be positive, not " + retentionMillis + " ms");
        }
        this.retentionMillis = retentionMillis;
    }

    @Override
    public void open(OpenContext openContext) {
        rememberedUntil = getRuntimeContext().getState(REMEMBERED_UNTIL);
        duplicates = getRuntimeContext().getMetricGroup().counter("queriesDuplicate");
    }

    @Override
    public void processElement(Ingested<Query> in, Context ctx, Collector<Ingested<Query>> out) throws Exception {
        if (!in.isValid()) {
            out.collect(in);
            return;
        }
        if (rememberedUntil.value() != null) {
            duplicates.inc();
            out.collect(in.refused(Rejection.DUPLICATE_QUERY_ID, "query id " + in.value.getId() + " of tenant "
                    + in.value.getTenant() + " is pending or was answered less than cmt.query.id-retention ago"));
            return;
        }
        long until = QueryAdmission.forgetAt(in.eventTime, ctx.timerService().currentWatermark(), retentionMillis);
        rememberedUntil.update(until);
        ctx.timerService().registerEventTimeTimer(until);
        out.collect(in);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Ingested<Query>> out) {
        rememberedUntil.clear();
    }
}
