package io.cmtstream.compress;

import io.cmtstream.compress.ModelCallGuard.Kind;
import io.cmtstream.compress.ModelCallGuard.Outcome;
import io.cmtstream.model.AnswerRequest;
import io.cmtstream.model.CmtModel;
import io.cmtstream.model.DynamicBatcher;
import io.cmtstream.model.Encoding;
import io.cmtstream.model.MemoryStates;
import io.cmtstream.model.ModelInfo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The guard on a fake model behind the runtime's real {@link DynamicBatcher}, as the job's functions use it. */
class ModelCallGuardTest {

    /** Fails every batch holding "poison", fails "flaky" the first {@code flakyFailures} times, sleeps on "slow". */
    private static final class FakeModel implements CmtModel {
        final List<List<String>> calls = new CopyOnWriteArrayList<>();
        final AtomicInteger flakyFailures = new AtomicInteger();
        volatile boolean broken;

        @Override
        public ModelInfo info() {
            return new ModelInfo("fake", "v1", 1, 1, false, 256, 64);
        }

        @Override
        public List<Encoding> encodeDocuments(List<String> texts) {
            calls.add(List.copyOf(texts));
            if (broken) {
                throw new IllegalStateException("CUDA error: device lost");
            }
            List<Encoding> out = new ArrayList<>();
            for (String text : texts) {
                if (text.equals("poison")) {
                    throw new IllegalArgumentException("index out of range in self");
                }
                if (text.equals("flaky") && flakyFailures.getAndDecrement() > 0) {
                    throw new IllegalStateException("transient");
                }
                if (text.equals("slow")) {
                    sleep(400);
                }
                out.add(new Encoding(new float[] {text.length()}, new float[0], MemoryStates.NONE, 1, false));
            }
            return out;
        }

        @Override
        public List<Encoding> encodeQueries(List<String> questions) {
            return encodeDocuments(questions);
        }

        @Override
        public List<String> answer(List<AnswerRequest> requests) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void close() {}

        long aloneCallsWith(String text) {
            return calls.stream().filter(c -> c.equals(List.of(text))).count();
        }
    }

    private final FakeModel model = new FakeModel();
    private final DynamicBatcher<String, Encoding> batcher =
            new DynamicBatcher<>("guard-test", 8, Duration.ofMillis(50), model::encodeDocuments);

    @AfterEach
    void close() {
        batcher.close();
    }

    private static ModelCallGuard guard(int attempts, long timeoutMillis, int maxInARow) {
        return new ModelCallGuard(new ModelCallGuard.Settings(attempts, timeoutMillis, 10, maxInARow));
    }

    private Outcome<Encoding> call(ModelCallGuard guard, String text) throws Exception {
        return guard.call(() -> batcher.submit(text)).get(10, TimeUnit.SECONDS);
    }

    @Test
    void theRecordAtFaultIsTriedAloneAsOftenAsAllowedWhileItsBatchCompanionsSucceed() throws Exception {
        ModelCallGuard guard = guard(3, 5_000, 10);
        List<String> texts = List.of("alpha", "beta", "poison", "gamma", "delta");
        List<CompletableFuture<Outcome<Encoding>>> futures = new ArrayList<>();
        for (String text : texts) {
            futures.add(guard.call(() -> batcher.submit(text)));
        }
        for (int i = 0; i < texts.size(); i++) {
            Outcome<Encoding> o = futures.get(i).get(10, TimeUnit.SECONDS);
            if (texts.get(i).equals("poison")) {
                assertEquals(Kind.RECORD_FAILED, o.kind());
                assertEquals(3, o.attempts());
                assertInstanceOf(IllegalArgumentException.class, o.error());
                assertEquals("java.lang.IllegalArgumentException: index out of range in self",
                        ModelCallGuard.describe(o.error()));
            } else {
                assertEquals(Kind.SUCCEEDED, o.kind(), texts.get(i));
                assertEquals(texts.get(i).length(), o.value().key()[0]);
                assertEquals(1, o.attempts());
            }
        }
        // The first batch held all five: it failed, was rerun one record at a time, and only the poison retried.
        assertEquals(texts, model.calls.get(0));
        assertEquals(3, model.aloneCallsWith("poison"));
        assertEquals(1, guard.failuresInARow());
    }

    @Test
    void aRecordThatFailsOnceAndThenSucceedsIsNoDeadLetter() throws Exception {
        model.flakyFailures.set(1);
        ModelCallGuard guard = guard(3, 5_000, 1);
        Outcome<Encoding> o = call(guard, "flaky");
        assertEquals(Kind.SUCCEEDED, o.kind());
        assertEquals(2, o.attempts());
        assertEquals(0, guard.failuresInARow());
    }

    @Test
    void aCallSlowerThanTheTimeoutIsAFailedTry() throws Exception {
        ModelCallGuard guard = guard(2, 100, 10);
        long started = System.nanoTime();
        Outcome<Encoding> o = call(guard, "slow");
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertEquals(Kind.RECORD_FAILED, o.kind());
        assertEquals(2, o.attempts());
        assertInstanceOf(TimeoutException.class, o.error());
        assertEquals("java.util.concurrent.TimeoutException: no result within 100 ms",
                ModelCallGuard.describe(o.error()));
        // Two tries of 100 ms and a 10 ms pause; the model's own 400 ms are not waited for.
        assertTrue(millis >= 200 && millis < 800, millis + " ms");
    }

    @Test
    void aModelFailingOnEveryRecordIsCalledFailingAtTheConfiguredRunOfRecords() throws Exception {
        model.broken = true;
        ModelCallGuard guard = guard(2, 5_000, 3);
        assertEquals(Kind.RECORD_FAILED, call(guard, "one").kind());
        assertEquals(Kind.RECORD_FAILED, call(guard, "two").kind());
        Outcome<Encoding> third = call(guard, "three");
        assertEquals(Kind.MODEL_FAILING, third.kind());
        assertEquals(3, third.failuresInARow());
        assertEquals("java.lang.IllegalStateException: CUDA error: device lost", ModelCallGuard.describe(third.error()));
        ModelFailingException failing = new ModelFailingException("compress", "document t/three",
                third.failuresInARow(), third.error());
        assertEquals("the model failed on 3 records in a row in compress (cmt.model.max-consecutive-failures), the"
                + " last one document t/three: java.lang.IllegalStateException: CUDA error: device lost; the model"
                + " itself is failing, so the job fails rather than dead-letter every record", failing.getMessage());
    }

    @Test
    void aRecordTheModelSucceedsOnEndsTheRunOfFailures() throws Exception {
        ModelCallGuard guard = guard(1, 5_000, 3);
        assertEquals(Kind.RECORD_FAILED, call(guard, "poison").kind());
        assertEquals(Kind.RECORD_FAILED, call(guard, "poison").kind());
        assertEquals(Kind.SUCCEEDED, call(guard, "fine").kind());
        assertEquals(Kind.RECORD_FAILED, call(guard, "poison").kind());
        assertEquals(Kind.RECORD_FAILED, call(guard, "poison").kind());
        assertEquals(2, guard.failuresInARow());
        // A failure decided by Flink's own async timeout counts toward the run as well.
        Outcome<Object> outside = guard.failedOutside(new TimeoutException("async timeout"));
        assertEquals(Kind.MODEL_FAILING, outside.kind());
        assertEquals(1, outside.attempts());
    }

    @Test
    void anAttemptThatThrowsInsteadOfReturningAFutureIsAFailedTry() throws Exception {
        ModelCallGuard guard = guard(2, 5_000, 10);
        AtomicInteger tries = new AtomicInteger();
        Outcome<Object> o = guard.call(() -> {
            tries.incrementAndGet();
            throw new NullPointerException("document text is null");
        }).get(10, TimeUnit.SECONDS);
        assertEquals(Kind.RECORD_FAILED, o.kind());
        assertEquals(2, tries.get());
    }

    @Test
    void settingsRefuseValuesThatCannotWorkAndBoundTheWorstCase() {
        assertThrows(IllegalArgumentException.class, () -> new ModelCallGuard.Settings(0, 1000, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new ModelCallGuard.Settings(1, 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new ModelCallGuard.Settings(1, 1000, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> new ModelCallGuard.Settings(1, 1000, 0, 0));
        // 3 tries of 120 s, pauses of 100 and 200 ms, plus the slack.
        assertEquals(3 * 120_000 + 300 + 10_000,
                new ModelCallGuard.Settings(3, 120_000, 100, 10).worstCaseMillis(10_000));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
