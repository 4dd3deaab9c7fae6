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
 *
 * <p>Quiet means "a periodic check found no new document, and none came for the idle timeout since", measured on
 * the source's input activity clock, which Flink pauses while the source is backpressured. Measuring from the last
 * document instead would call a partition quiet while it is only blocked behind a slow compressor with documents
 * still unread, and the wall-clock watermark would then overtake them: a query would fire before documents
 * published before it (seen with 200 documents in a burst on a busy machine).
 */
public final class DocumentWatermarks<T> implements WatermarkGenerator<T> {
    private final long outOfOrdernessMillis;
    private final long idleTimeoutMillis;
    private final LongSupplier wallClock;
    private final LongSupplier activityClock;
    private long maxEventTime = Long.MIN_VALUE;
    private boolean sawEvent;
    private long quietSince;
    private long emitted = Long.MIN_VALUE;

    /** With the wall clock as activity clock (for tests; the job passes Flink's input activity clock). */
    public DocumentWatermarks(long outOfOrdernessMillis, long idleTimeoutMillis, LongSupplier wallClock) {
        this(outOfOrdernessMillis, idleTimeoutMillis, wallClock, wallClock);
    }

    /**
     * @param wallClock epoch millis, what a quiet partition's watermark follows
     * @param activityClock millis that do not advance while the source is backpressured (Flink's
     *                      {@code WatermarkGeneratorSupplier.Context#getInputActivityClock()}), to measure quiet
     */
    public DocumentWatermarks(long outOfOrdernessMillis, long idleTimeoutMillis, LongSupplier wallClock,
                              LongSupplier activityClock) {
        this.outOfOrdernessMillis = outOfOrdernessMillis;
        this.idleTimeoutMillis = idleTimeoutMillis;
        this.wallClock = wallClock;
        this.activityClock = activityClock;
        this.quietSince = activityClock.getAsLong();
    }

    @Override
    public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {
        if (eventTimestamp == Long.MIN_VALUE) {
            return; // dead letters carry no time
        }
        maxEventTime = Math.max(maxEventTime, eventTimestamp);
        sawEvent = true;
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        long watermark = maxEventTime == Long.MIN_VALUE ? Long.MIN_VALUE : maxEventTime - outOfOrdernessMillis - 1;
        long active = activityClock.getAsLong();
        if (sawEvent) {
            sawEvent = false;
            quietSince = active;
        }
        if (active - quietSince >= idleTimeoutMillis) {
            long now = wallClock.getAsLong();
            watermark = Math.max(watermark, now - idleTimeoutMillis);
        }
        if (watermark > emitted) {
            emitted = watermark;
            output.emitWatermark(new Watermark(watermark));
        }
    }
}
