package io.cmtstream.ingest;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkGeneratorSupplier;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 *
 * <p>A source subtask has one generator per partition that has delivered a record, plus one for the reader as a
 * whole (Flink's main output), and the subtask emits the highest watermark any of them reaches. The reader's
 * generator sees no records (Kafka's reader emits through the per-partition outputs), so by its own count it would
 * be quiet for good one idle timeout after the start, and its wall-clock watermark would overtake every document
 * still waiting behind backpressure (seen with a 1,500-document burst: the query published after it fired once
 * the first 800 were compressed). A generator that has not seen a record of its own therefore counts as quiet only
 * when the whole reader is: its generators share an event counter through {@link #supplier}. That generator is
 * also what moves a subtask whose partitions are empty, or that has none.
 */
public final class DocumentWatermarks<T> implements WatermarkGenerator<T> {
    private static final Logger LOG = LoggerFactory.getLogger(DocumentWatermarks.class);

    private final long outOfOrdernessMillis;
    private final long idleTimeoutMillis;
    private final LongSupplier wallClock;
    private final LongSupplier activityClock;
    private final ReaderActivity reader;
    private long maxEventTime = Long.MIN_VALUE;
    private boolean sawEvent;
    private long readerEventsSeen;
    private long quietSince;
    private boolean quiet;
    private long emitted = Long.MIN_VALUE;

    /** With the wall clock as activity clock and a reader of its own (for tests). */
    public DocumentWatermarks(long outOfOrdernessMillis, long idleTimeoutMillis, LongSupplier wallClock) {
        this(outOfOrdernessMillis, idleTimeoutMillis, wallClock, wallClock, new ReaderActivity());
    }

    /**
     * @param wallClock epoch millis, what a quiet partition's watermark follows
     * @param activityClock millis that do not advance while the source is backpressured (Flink's
     *                      {@code WatermarkGeneratorSupplier.Context#getInputActivityClock()}), to measure quiet
     * @param reader what every generator of the same source subtask has seen
     */
    DocumentWatermarks(long outOfOrdernessMillis, long idleTimeoutMillis, LongSupplier wallClock,
                       LongSupplier activityClock, ReaderActivity reader) {
        this.outOfOrdernessMillis = outOfOrdernessMillis;
        this.idleTimeoutMillis = idleTimeoutMillis;
        this.wallClock = wallClock;
        this.activityClock = activityClock;
        this.reader = reader;
        this.readerEventsSeen = reader.events;
        this.quietSince = activityClock.getAsLong();
    }

    /**
     * The supplier for a documents source. Flink deserialises a source's watermark strategy once per subtask, so
     * the generators one supplier instance makes are those of one subtask, and they share one {@link
     * ReaderActivity}. (Were an instance ever shared by several subtasks, a generator would only see more events
     * and call the reader quiet later: slower, not wrong.)
     */
    public static <T> WatermarkGeneratorSupplier<T> supplier(long outOfOrdernessMillis, long idleTimeoutMillis) {
        return new Supplier<>(outOfOrdernessMillis, idleTimeoutMillis);
    }

    @Override
    public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {
        if (eventTimestamp == Long.MIN_VALUE) {
            return; // dead letters carry no time
        }
        maxEventTime = Math.max(maxEventTime, eventTimestamp);
        sawEvent = true;
        reader.events++;
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        // Saturating: a document dated near Long.MIN_VALUE must not wrap the watermark round to the far future.
        long watermark = maxEventTime == Long.MIN_VALUE ? Long.MIN_VALUE
                : RecordChecks.saturatedAdd(maxEventTime, -outOfOrdernessMillis - 1);
        long active = activityClock.getAsLong();
        boolean ownRecords = maxEventTime != Long.MIN_VALUE;
        if (sawEvent || (!ownRecords && reader.events != readerEventsSeen)) {
            quietSince = active;
            quiet = false;
        }
        sawEvent = false;
        readerEventsSeen = reader.events;
        if (active - quietSince >= idleTimeoutMillis) {
            long now = wallClock.getAsLong();
            if (!quiet) {
                quiet = true;
                LOG.debug("documents {} quiet for {} ms while not backpressured; watermark follows the wall clock",
                        ownRecords ? "partition" : "reader", active - quietSince);
            }
            watermark = Math.max(watermark, now - idleTimeoutMillis);
        }
        if (watermark > emitted) {
            emitted = watermark;
            output.emitWatermark(new Watermark(watermark));
        }
    }

    ReaderActivity reader() {
        return reader;
    }

    /** Records that the generators of one source subtask have seen (one thread: the subtask's). */
    static final class ReaderActivity {
        long events;
    }

    private static final class Supplier<T> implements WatermarkGeneratorSupplier<T> {
        private static final long serialVersionUID = 1L;
        private final long outOfOrdernessMillis;
        private final long idleTimeoutMillis;
        private transient ReaderActivity reader;

        Supplier(long outOfOrdernessMillis, long idleTimeoutMillis) {
            this.outOfOrdernessMillis = outOfOrdernessMillis;
            this.idleTimeoutMillis = idleTimeoutMillis;
        }

        @Override
        public WatermarkGenerator<T> createWatermarkGenerator(Context context) {
            if (reader == null) {
                reader = new ReaderActivity();
            }
            return new DocumentWatermarks<>(outOfOrdernessMillis, idleTimeoutMillis, System::currentTimeMillis,
                    context.getInputActivityClock()::relativeTimeMillis, reader);
        }
    }
}
