package io.cmtstream.model;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DynamicBatcherTest {

    /** A fake model: doubles each input and records the size of every batch it was called with. */
    private static final class Doubler implements Function<List<Integer>, List<Integer>> {
        final List<Integer> batchSizes = new CopyOnWriteArrayList<>();

        @Override
        public List<Integer> apply(List<Integer> inputs) {
            batchSizes.add(inputs.size());
            List<Integer> out = new ArrayList<>();
            for (int i : inputs) {
                out.add(2 * i);
            }
            return out;
        }
    }

    @Test
    void batchesConcurrentCallersIntoOneModelCall() throws Exception {
        Doubler model = new Doubler();
        int callers = 8;
        try (DynamicBatcher<Integer, Integer> batcher =
                     new DynamicBatcher<>("test", callers, Duration.ofSeconds(10), model)) {
            ExecutorService pool = Executors.newFixedThreadPool(callers);
            CountDownLatch go = new CountDownLatch(1);
            List<CompletableFuture<CompletableFuture<Integer>>> submitted = new ArrayList<>();
            for (int i = 0; i < callers; i++) {
                int input = i;
                submitted.add(CompletableFuture.supplyAsync(() -> {
                    await(go);
                    return batcher.submit(input);
                }, pool));
            }
            long started = System.nanoTime();
            go.countDown();
            for (int i = 0; i < callers; i++) {
                assertEquals(2 * i, submitted.get(i).get(5, TimeUnit.SECONDS).get(5, TimeUnit.SECONDS));
            }
            // A full batch goes at once: it does not sit out the ten-second delay.
            assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5));
            assertEquals(List.of(callers), model.batchSizes);
            pool.shutdownNow();
        }
    }

    @Test
    void countsTheTimeSpentInTheBatchFunctionNotTheTimeSpentWaiting() throws Exception {
        Function<List<Integer>, List<Integer>> slow = inputs -> {
            sleep(50);
            return inputs;
        };
        try (DynamicBatcher<Integer, Integer> batcher =
                     new DynamicBatcher<>("test", 1, Duration.ZERO, slow)) {
            batcher.submit(1).get(5, TimeUnit.SECONDS);
            sleep(300); // idle: not busy
            batcher.submit(2).get(5, TimeUnit.SECONDS);
            long busyMillis = TimeUnit.NANOSECONDS.toMillis(batcher.busyNanos());
            assertTrue(busyMillis >= 100 && busyMillis < 300, "busy " + busyMillis + " ms");
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    void loneRequestGoesAfterTheMaxDelay() throws Exception {
        Doubler model = new Doubler();
        try (DynamicBatcher<Integer, Integer> batcher =
                     new DynamicBatcher<>("test", 32, Duration.ofMillis(100), model)) {
            long started = System.nanoTime();
            assertEquals(42, batcher.submit(21).get(5, TimeUnit.SECONDS));
            long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(waitedMillis >= 90, "waited only " + waitedMillis + " ms");
            assertTrue(waitedMillis < 3000, "waited " + waitedMillis + " ms");
            assertEquals(List.of(1), model.batchSizes);
        }
    }

    @Test
    void neverExceedsMaxBatchSizeAndKeepsEachResultWithItsRequest() throws Exception {
        Doubler model = new Doubler();
        try (DynamicBatcher<Integer, Integer> batcher =
                     new DynamicBatcher<>("test", 8, Duration.ofMillis(20), model)) {
            List<CompletableFuture<Integer>> futures = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                futures.add(batcher.submit(i));
            }
            for (int i = 0; i < 100; i++) {
                assertEquals(2 * i, futures.get(i).get(5, TimeUnit.SECONDS));
            }
            assertTrue(model.batchSizes.stream().allMatch(size -> size <= 8), model.batchSizes.toString());
            assertEquals(100, model.batchSizes.stream().mapToInt(Integer::intValue).sum());
            assertEquals(100, batcher.itemCount());
            assertEquals(model.batchSizes.size(), batcher.batchCount());
        }
    }

    @Test
    void requestsThatQueuedDuringABatchGoOutTogetherWithoutWaitingAgain() throws Exception {
        CountDownLatch firstBatchRunning = new CountDownLatch(1);
        CountDownLatch releaseFirstBatch = new CountDownLatch(1);
        List<Integer> batchSizes = new CopyOnWriteArrayList<>();
        Function<List<Integer>, List<Integer>> slowModel = inputs -> {
            batchSizes.add(inputs.size());
            if (batchSizes.size() == 1) {
                firstBatchRunning.countDown();
                await(releaseFirstBatch);
            }
            return inputs;
        };
        Duration delay = Duration.ofSeconds(1);
        try (DynamicBatcher<Integer, Integer> batcher = new DynamicBatcher<>("test", 32, delay, slowModel)) {
            CompletableFuture<Integer> first = batcher.submit(0);
            assertTrue(firstBatchRunning.await(15, TimeUnit.SECONDS));
            List<CompletableFuture<Integer>> later = new ArrayList<>();
            for (int i = 1; i <= 5; i++) {
                later.add(batcher.submit(i));
            }
            // Let their own deadline pass while the model is still busy with the first batch.
            Thread.sleep(delay.toMillis() + 500);
            long released = System.nanoTime();
            releaseFirstBatch.countDown();
            assertEquals(0, first.get(5, TimeUnit.SECONDS));
            for (int i = 0; i < 5; i++) {
                assertEquals(i + 1, later.get(i).get(5, TimeUnit.SECONDS));
            }
            long afterRelease = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released);
            assertTrue(afterRelease < delay.toMillis() * 7 / 10, "second batch waited " + afterRelease + " ms");
            assertEquals(List.of(1, 5), batchSizes);
        }
    }

    @Test
    void badRequestFailsAloneAndItsBatchmatesSucceed() throws Exception {
        List<Integer> batchSizes = new CopyOnWriteArrayList<>();
        Function<List<String>, List<String>> model = inputs -> {
            batchSizes.add(inputs.size());
            if (inputs.contains("bad")) {
                throw new IllegalArgumentException("cannot encode 'bad'");
            }
            return inputs.stream().map(String::toUpperCase).toList();
        };
        try (DynamicBatcher<String, String> batcher =
                     new DynamicBatcher<>("test", 3, Duration.ofSeconds(10), model)) {
            CompletableFuture<String> a = batcher.submit("a");
            CompletableFuture<String> bad = batcher.submit("bad");
            CompletableFuture<String> c = batcher.submit("c");
            assertEquals("A", a.get(5, TimeUnit.SECONDS));
            assertEquals("C", c.get(5, TimeUnit.SECONDS));
            ExecutionException failure = assertThrows(ExecutionException.class, () -> bad.get(5, TimeUnit.SECONDS));
            assertInstanceOf(IllegalArgumentException.class, failure.getCause());
            assertEquals("cannot encode 'bad'", failure.getCause().getMessage());
            assertEquals(List.of(3, 1, 1, 1), batchSizes);
        }
    }

    @Test
    void modelFailureFailsTheFutureWithItsCause() {
        IllegalStateException down = new IllegalStateException("model down");
        Function<List<Integer>, List<Integer>> broken = inputs -> {
            throw down;
        };
        try (DynamicBatcher<Integer, Integer> batcher =
                     new DynamicBatcher<>("test", 4, Duration.ZERO, broken)) {
            ExecutionException failure = assertThrows(ExecutionException.class,
                    () -> batcher.submit(1).get(5, TimeUnit.SECONDS));
            assertEquals(down, failure.getCause());
        }
    }

    @Test
    void wrongNumberOfResultsFailsTheBatch() {
        try (DynamicBatcher<Integer, Integer> batcher =
                     new DynamicBatcher<>("test", 4, Duration.ZERO, inputs -> List.of())) {
            ExecutionException failure = assertThrows(ExecutionException.class,
                    () -> batcher.submit(1).get(5, TimeUnit.SECONDS));
            assertInstanceOf(IllegalStateException.class, failure.getCause());
            assertTrue(failure.getCause().getMessage().contains("returned 0 results for 1 inputs"));
        }
    }

    @Test
    void closeRunsWhatIsQueuedAndRefusesNewRequests() throws Exception {
        Doubler model = new Doubler();
        DynamicBatcher<Integer, Integer> batcher = new DynamicBatcher<>("test", 32, Duration.ofSeconds(30), model);
        CompletableFuture<Integer> queued = batcher.submit(5);
        batcher.close();
        assertEquals(10, queued.get(1, TimeUnit.SECONDS));
        ExecutionException refused = assertThrows(ExecutionException.class,
                () -> batcher.submit(6).get(1, TimeUnit.SECONDS));
        assertInstanceOf(IllegalStateException.class, refused.getCause());
        batcher.close();
    }

    @Test
    void rejectsNonsenseSettings() {
        assertThrows(IllegalArgumentException.class,
                () -> new DynamicBatcher<Integer, Integer>("test", 0, Duration.ZERO, new Doubler()));
        assertThrows(IllegalArgumentException.class,
                () -> new DynamicBatcher<Integer, Integer>("test", 1, Duration.ofMillis(-1), new Doubler()));
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("latch timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
