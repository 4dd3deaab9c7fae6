package io.cmtstream.ingest;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;

import java.util.function.LongSupplier;

/**
 * Event time of the document stream, per Kafka partition: the highest publishedAt seen minus the allowed
 * out-of-orderness, and, once a partition has been quiet for the idle timeout, the wall clock minus that timeout.
 *
 * <p>Why not Flink's own idleness: an idle input is left out of the watermark, and when it wakes up the operator's
 * watermark cannot go back, so queries would fire before documents that were published earlier but arrive later.
 * Advancing a quiet partition with the wall clock keeps it in the watermark while bounding how long a query waits
 * (publishers are expected to stamp publishedAt with their clock, as the job's own tools do).
 */
public final class DocumentWatermarks<T> implements WatermarkGenerator<T> {
    private final long outOfOrdernessMillis;
    private final long idleTimeoutMillis;
    private final LongSupplier wallClock;
    private long maxEventTime = Long.MIN_VALUE;
    private long lastEventWallTime;
    private long emitted = Long.MIN_VALUE;

    public DocumentWatermarks(long outOfOrdernessMillis, long idleTimeoutMillis, LongSupplier wallClock) {
        this.outOfOrdernessMillis = outOfOrdernessMillis;
        this.idleTimeoutMillis = idleTimeoutMillis;
        this.wallClock = wallClock;
        this.lastEventWallTime = wallClock.getAsLong();
    }

    @Override
    public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {
        if (eventTimestamp == Long.MIN_VALUE) {
            return; // dead letters carry no time
        }
        maxEventTime = Math.max(maxEventTime, eventTimestamp);
        lastEventWallTime = wallClock.getAsLong();
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        long watermark = maxEventTime == Long.MIN_VALUE ? Long.MIN_VALUE : maxEventTime - outOfOrdernessMillis - 1;
        long now = wallClock.getAsLong();
        if (now - lastEventWallTime >= idleTimeoutMillis) {
            watermark = Math.max(watermark, now - idleTimeoutMillis);
        }
        if (watermark > emitted) {
            emitted = watermark;
            output.emitWatermark(new Watermark(watermark));
        }
    }
}
