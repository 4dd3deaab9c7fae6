package io.cmtstream.ingest;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;

/**
 * Watermarks of the query stream: always "far future". A shard's watermark is the minimum of its inputs, so this
 * makes it the document watermark alone, which is what a query waits for (it must see every document published
 * before it was asked) — and a quiet query stream can never hold queries back.
 *
 * <p>Long.MAX_VALUE itself means end of input to Flink, so one less is used.
 */
public final class QueriesHoldNoTime<T> implements WatermarkGenerator<T> {
    static final long FAR_FUTURE = Long.MAX_VALUE - 1;

    @Override
    public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {}

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        output.emitWatermark(new Watermark(FAR_FUTURE));
    }
}
