package io.cmtstream.compress;

import java.io.Serializable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Calls the model for one record on behalf of a Flink function, so that a record the model fails on becomes a
 * dead letter instead of failing the job (and being replayed after every restart), while a model that fails on
 * everything still fails the job.
 *
 * <p>Each record is tried at most {@link Settings#attempts()} times, each attempt bounded by
 * {@link Settings#attemptTimeoutMillis()} (a timed-out call keeps running in the model runtime; its result is
 * dropped). The runtime's {@code DynamicBatcher} already reruns a failed batch one record at a time, so an attempt
 * that fails is the record's own failure, not a batch companion's. A record whose every attempt failed is
 * {@link Kind#RECORD_FAILED}; once {@link Settings#maxConsecutiveFailures()} records have failed with no success in
 * between, the outcome is {@link Kind#MODEL_FAILING} instead: the model itself is broken (or overloaded past its
 * timeout), and dead-lettering every record would lose them all.
 *
 * <p>Thread-safe: one guard serves all records in flight of one operator subtask; "in a row" is counted in the
 * order the records' outcomes are decided.
 */
public final class ModelCallGuard {

    /**
     * The guard's knobs, shipped with the job graph.
     *
     * @param attempts tries per record, at least 1
     * @param attemptTimeoutMillis longest one try may take (queueing in the runtime included), at least 1
     * @param retryBackoffMillis pause before the second try, doubled before each later one; 0 for none
     * @param maxConsecutiveFailures failed records in a row that mean the model is failing, at least 1
     */
    public record Settings(int attempts, long attemptTimeoutMillis, long retryBackoffMillis,
                           int maxConsecutiveFailures) implements Serializable {
        public Settings {
            if (attempts < 1) {
                throw new IllegalArgumentException("attempts must be >= 1, was " + attempts);
            }
            if (attemptTimeoutMillis < 1) {
                throw new IllegalArgumentException("attemptTimeoutMillis must be >= 1, was " + attemptTimeoutMillis);
            }
            if (retryBackoffMillis < 0) {
                throw new IllegalArgumentException("retryBackoffMillis must be >= 0, was " + retryBackoffMillis);
            }
            if (maxConsecutiveFailures < 1) {
                throw new IllegalArgumentException("maxConsecutiveFailures must be >= 1, was "
                        + maxConsecutiveFailures);
            }
        }

        /**
         * The longest a record can take under these settings, plus {@code slackMillis}: Flink's own async timeout,
         * kept as a backstop behind the guard's per-attempt timeouts.
         */
        public long worstCaseMillis(long slackMillis) {
            long backoff = 0;
            for (int i = 1; i < attempts; i++) {
                backoff += retryBackoffMillis << Math.min(i - 1, 20);
            }
            return attempts * attemptTimeoutMillis + backoff + slackMillis;
        }
    }

    /** What became of a record. */
    public enum Kind { SUCCEEDED, RECORD_FAILED, MODEL_FAILING }

    /**
     * The decision for one record.
     *
     * @param kind what to do with it
     * @param value the model's result, when {@code SUCCEEDED}
     * @param error the last attempt's failure (timeouts as {@link TimeoutException}), otherwise
     * @param attempts tries made
     * @param failuresInARow records failed in a row, this one included (0 when it succeeded)
     */
    public record Outcome<O>(Kind kind, O value, Throwable error, int attempts, int failuresInARow) {}

    private final Settings settings;
    private final AtomicInteger failuresInARow = new AtomicInteger();

    public ModelCallGuard(Settings settings) {
        this.settings = settings;
    }

    public Settings settings() {
        return settings;
    }

    /**
     * Runs {@code attempt} (one model call for the record; called once per try, on the caller's thread for the first
     * and on a pool thread for retries) until it succeeds or the tries are used up. The future never completes
     * exceptionally.
     */
    public <O> CompletableFuture<Outcome<O>> call(Supplier<CompletableFuture<O>> attempt) {
        CompletableFuture<Outcome<O>> outcome = new CompletableFuture<>();
        tryOnce(attempt, 1, outcome);
        return outcome;
    }

    /**
     * Records a failure decided outside {@link #call} (Flink's async timeout fired first): counts like a record
     * whose tries all failed.
     */
    public <O> Outcome<O> failedOutside(Throwable error) {
        return failed(error, settings.attempts());
    }

    /** Records failed in a row so far. */
    public int failuresInARow() {
        return failuresInARow.get();
    }

    private <O> void tryOnce(Supplier<CompletableFuture<O>> attempt, int number, CompletableFuture<Outcome<O>> out) {
        CompletableFuture<O> call;
        try {
            call = attempt.get();
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        call.orTimeout(settings.attemptTimeoutMillis(), TimeUnit.MILLISECONDS).whenComplete((value, error) -> {
            if (error == null) {
                failuresInARow.set(0);
                out.complete(new Outcome<>(Kind.SUCCEEDED, value, null, number, 0));
                return;
            }
            Throwable cause = unwrap(error);
            if (cause instanceof TimeoutException && cause.getMessage() == null) {
                cause = new TimeoutException("no result within " + settings.attemptTimeoutMillis() + " ms");
            }
            if (number >= settings.attempts()) {
                out.complete(failed(cause, number));
                return;
            }
            long backoff = settings.retryBackoffMillis() << Math.min(number - 1, 20);
            CompletableFuture.delayedExecutor(backoff, TimeUnit.MILLISECONDS)
                    .execute(() -> tryOnce(attempt, number + 1, out));
        });
    }

    private <O> Outcome<O> failed(Throwable error, int attempts) {
        int inARow = failuresInARow.incrementAndGet();
        Kind kind = inARow >= settings.maxConsecutiveFailures() ? Kind.MODEL_FAILING : Kind.RECORD_FAILED;
        return new Outcome<>(kind, null, error, attempts, inARow);
    }

    /** The model's own exception, without the future's wrappers; a bare timeout says how long it waited. */
    static Throwable unwrap(Throwable error) {
        Throwable e = error;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    /** One line for a dead letter's reason: the exception's class and message, and its root cause's if other. */
    public static String describe(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String text = error.toString();
        if (root != error) {
            text += " (caused by " + root + ")";
        }
        return text;
    }
}
