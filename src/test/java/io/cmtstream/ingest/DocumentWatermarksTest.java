package io.cmtstream.ingest;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DocumentWatermarksTest {
    private final AtomicLong clock = new AtomicLong(1_000_000);
    private final List<Long> emitted = new ArrayList<>();
    private final WatermarkOutput output = new WatermarkOutput() {
        @Override
        public void emitWatermark(Watermark watermark) {
            emitted.add(watermark.getTimestamp());
        }

        @Override
        public void markIdle() {}

        @Override
        public void markActive() {}
    };
    private final DocumentWatermarks<Object> watermarks = new DocumentWatermarks<>(200, 1000, clock::get);

    @Test
    void activePartitionTrailsItsNewestDocumentByTheOutOfOrderness() {
        watermarks.onEvent("d", 5_000, output);
        watermarks.onPeriodicEmit(output);
        assertEquals(List.of(4_799L), emitted);
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
        DocumentWatermarks<Object> paused = new DocumentWatermarks<>(200, 1000, clock::get, activity::get);
        paused.onEvent("d", 5_000, output);
        paused.onPeriodicEmit(output);
        clock.addAndGet(5_000); // backpressured: the activity clock stands still
        paused.onPeriodicEmit(output);
        assertEquals(List.of(4_799L), emitted);
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
}
