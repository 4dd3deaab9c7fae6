package io.cmtstream.registry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retries a registry call while the registry is unavailable, with exponential backoff (100 ms doubling up to
 * {@link RegistrySettings#maxBackoffMillis}), for as long as it takes: the record in hand is good, the registry is
 * not, so the source (or sink) waits rather than dead-lettering or dropping anything. Logs a WARN when the wait
 * starts and every 30 s while it lasts, and an INFO when the registry answers again. An interrupt (the task being
 * cancelled) ends the wait with a {@link RegistryUnavailableException}, which fails the task, so the record is
 * read again after the restore. One per caller; not thread-safe.
 */
public final class RegistryRetry {
    private static final Logger LOG = LoggerFactory.getLogger(RegistryRetry.class);
    static final long FIRST_BACKOFF_MILLIS = 100;
    private static final long LOG_EVERY_MILLIS = 30_000;

    /** A registry call. */
    @FunctionalInterface
    public interface Call<T, E extends Exception> {
        T call() throws E;
    }

    /** How the retry waits; tests pass one that does not sleep. */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(long millis) throws InterruptedException;
    }

    private final long maxBackoffMillis;
    private final Sleeper sleeper;
    private long waits;

    public RegistryRetry(long maxBackoffMillis) {
        this(maxBackoffMillis, Thread::sleep);
    }

    public RegistryRetry(long maxBackoffMillis, Sleeper sleeper) {
        this.maxBackoffMillis = Math.max(FIRST_BACKOFF_MILLIS, maxBackoffMillis);
        this.sleeper = sleeper;
    }

    /** Waits this retry has slept so far (tests, metrics). */
    public long waits() {
        return waits;
    }

    /** {@code call}'s result, retried until the registry answers; {@code what} names the call in the log. */
    public <T, E extends Exception> T untilAvailable(String what, Call<T, E> call) throws E {
        long backoff = FIRST_BACKOFF_MILLIS;
        long since = 0;
        long lastLog = 0;
        while (true) {
            boolean unavailable = false;
            try {
                return call.call();
            } catch (RegistryUnavailableException e) {
                unavailable = true;
                if (Thread.currentThread().isInterrupted()) {
                    throw e;
                }
                long now = System.currentTimeMillis();
                if (since == 0) {
                    since = now;
                    lastLog = now;
                    LOG.warn("Schema registry unavailable ({}): {}. The job waits and retries with backoff up to {} "
                            + "ms; no record is dead-lettered for it", what, e.getMessage(), maxBackoffMillis);
                } else if (now - lastLog >= LOG_EVERY_MILLIS) {
                    lastLog = now;
                    LOG.warn("Schema registry still unavailable after {} s ({}): {}. The job keeps waiting",
                            (now - since) / 1000, what, e.getMessage());
                }
                try {
                    waits++;
                    sleeper.sleep(backoff);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new RegistryUnavailableException("interrupted while waiting for the schema registry ("
                            + what + ")", ie);
                }
                backoff = Math.min(maxBackoffMillis, backoff * 2);
            } finally {
                // Any answer ends the wait, an unknown id included; only another unavailability goes round again.
                if (since != 0 && !unavailable) {
                    LOG.info("Schema registry answered again ({}) after {} s; the job goes on", what,
                            (System.currentTimeMillis() - since) / 1000);
                }
            }
        }
    }
}
