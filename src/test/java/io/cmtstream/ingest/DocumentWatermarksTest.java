package io.cmtstream.ingest;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkGeneratorSupplier;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.util.clock.RelativeClock;
import org.apache.flink.util.clock.SystemClock;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DocumentWatermarksTest {
    private final AtomicLong clock = new AtomicLong(1_000_000);
    private final List<Long> emitted = new ArrayList<>();
    private final WatermarkOutput output = new RecordingOutput(emitted);
    private final DocumentWatermarks<Object> watermarks = new DocumentWatermarks<>(200, 1000, clock::get);

    @Test
    void activePartitionTrailsItsNewestDocumentByTheOutOfOrderness() {
        watermarks.onEvent("d", 5_000, output);
        watermarks.onPeriodicEmit(output);
        assertEquals(List.of(4_799L), emitted);
    }

    @Test
    void documentDatedNearTheStartOfTimeDoesNotWrapTheWatermarkToTheFarFuture() {
        watermarks.onEvent("d", Long.MIN_VALUE + 1, output);
        watermarks.onPeriodicEmit(output);
        assertTrue(emitted.stream().allMatch(w -> w < 0), "watermarks " + emitted);
        watermarks.onEvent("d", 5_000, output);
        watermarks.onPeriodicEmit(output);
        assertEquals(4_799L, emitted.get(emitted.size() - 1));
    }

    @Test
    void quietPartitionAdvancesWithTheWallClockSoQueriesAreNotHeldForever() {
        watermarks.onEvent("d", 5_000, output);
        watermarks.onPeriodicEmit(output);
        clock.addAndGet(1_500);
        watermarks.onPeriodicEmit(output);
        assertEquals(List.of(4_799L, 1_000_500L), emitted);
    }

    @Test
    void partitionBlockedBehindASlowOperatorIsNotQuiet() {
        // A document went out, then the source was blocked for longer than the idle timeout (the compressor was
        // busy): documents may still be unread, so the wall clock must not overtake them.
        watermarks.onEvent("d", 5_000, output);
        clock.addAndGet(1_500);
        watermarks.onPeriodicEmit(output);
        assertEquals(List.of(4_799L), emitted);
        clock.addAndGet(1_000);
        watermarks.onPeriodicEmit(output);
        assertEquals(List.of(4_799L, 1_001_500L), emitted);
    }

    @Test
    void timeTheSourceSpendsBackpressuredDoesNotCountAsQuiet() {
        AtomicLong activity = new AtomicLong(0);
        DocumentWatermarks<Object> paused = new DocumentWatermarks<>(200, 1000, clock::get, activity::get,
                new DocumentWatermarks.ReaderActivity());
        paused.onEvent("d", 5_000, output);
        paused.onPeriodicEmit(output);
        clock.addAndGet(5_000); // backpressured: the activity clock stands still
        paused.onPeriodicEmit(output);
        assertEquals(List.of(4_799L), emitted);
    }

    @Test
    void theReadersOwnGeneratorWaitsWhileAPartitionOfItsSubtaskDeliversRecords() {
        // Flink gives the reader as a whole a generator too; it sees no records (they go through the partitions'
        // outputs) and must not call the subtask quiet while a partition is still delivering.
        DocumentWatermarks.ReaderActivity reader = new DocumentWatermarks.ReaderActivity();
        DocumentWatermarks<Object> partition = new DocumentWatermarks<>(200, 1000, clock::get, clock::get, reader);
        List<Long> readerEmitted = new ArrayList<>();
        WatermarkOutput readerOutput = new RecordingOutput(readerEmitted);
        DocumentWatermarks<Object> whole = new DocumentWatermarks<>(200, 1000, clock::get, clock::get, reader);
        for (int i = 0; i < 30; i++) {
            partition.onEvent("d" + i, 5_000 + i, output);
            partition.onPeriodicEmit(output);
            whole.onPeriodicEmit(readerOutput);
            clock.addAndGet(100);
        }
        assertEquals(List.of(), readerEmitted, "3 s of records: the reader is not quiet");
        clock.addAndGet(1_000);
        partition.onPeriodicEmit(output);
        whole.onPeriodicEmit(readerOutput);
        assertEquals(List.of(clock.get() - 1_000), readerEmitted, "quiet for the idle timeout: the wall clock");
    }

    @Test
    void aReaderWithNoRecordsAtAllFollowsTheWallClockSoAnEmptyPartitionHoldsNoQuery() {
        DocumentWatermarks<Object> whole = new DocumentWatermarks<>(200, 1000, clock::get);
        whole.onPeriodicEmit(output);
        clock.addAndGet(1_000);
        whole.onPeriodicEmit(output);
        assertEquals(List.of(clock.get() - 1_000), emitted);
    }

    @Test
    void generatorsOfOneSupplierShareTheirReader() {
        WatermarkGeneratorSupplier<Object> supplier = DocumentWatermarks.supplier(200, 1000);
        WatermarkGeneratorSupplier.Context context = new WatermarkGeneratorSupplier.Context() {
            @Override
            public MetricGroup getMetricGroup() {
                return new UnregisteredMetricsGroup();
            }

            @Override
            public RelativeClock getInputActivityClock() {
                return SystemClock.getInstance();
            }
        };
        WatermarkGenerator<Object> whole = supplier.createWatermarkGenerator(context);
        WatermarkGenerator<Object> partition = supplier.createWatermarkGenerator(context);
        assertSame(((DocumentWatermarks<Object>) whole).reader(), ((DocumentWatermarks<Object>) partition).reader());
    }

    @Test
    void neverGoesBackAndIgnoresDeadLetters() {
        clock.addAndGet(2_000);
        watermarks.onPeriodicEmit(output);
        watermarks.onEvent("late", 10, output);
        watermarks.onEvent("dead letter", Long.MIN_VALUE, output);
        watermarks.onPeriodicEmit(output);
        assertEquals(1, emitted.size());
        assertTrue(emitted.get(0) > 10);
    }

    private record RecordingOutput(List<Long> emitted) implements WatermarkOutput {
        @Override
        public void emitWatermark(Watermark watermark) {
            emitted.add(watermark.getTimestamp());
        }

        @Override
        public void markIdle() {}

        @Override
        public void markActive() {}
    }
}
