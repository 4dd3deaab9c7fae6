package io.cmtstream.ingest;

import io.cmtstream.avro.DeadLetter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

import java.util.EnumMap;
import java.util.Map;

/**
 * Passes valid records on and sends rejected ones to the dead-letter side output, counting them per reason
 * (metric group {@code deadLetters}, one counter per {@link Rejection} code).
 */
public class SplitDeadLetters<T> extends ProcessFunction<Ingested<T>, T> {
    public static final OutputTag<DeadLetter> DEAD_LETTERS = new OutputTag<>("dead-letters") {};

    private transient Map<Rejection, Counter> perReason;

    @Override
    public void open(OpenContext openContext) {
        MetricGroup group = getRuntimeContext().getMetricGroup().addGroup("deadLetters");
        perReason = new EnumMap<>(Rejection.class);
        for (Rejection r : Rejection.values()) {
            perReason.put(r, group.counter(r.name()));
        }
    }

    @Override
    public void processElement(Ingested<T> in, Context ctx, Collector<T> out) {
        if (in.isValid()) {
            out.collect(in.value);
            return;
        }
        ctx.output(DEAD_LETTERS, in.deadLetter);
        perReason.get(Rejection.of(in.deadLetter.getReason())).inc();
    }
}
