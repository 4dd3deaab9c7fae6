package io.cmtstream.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Collects single requests from many threads into batches for one batched call (dynamic batching).
 *
 * <p>One worker thread takes the oldest waiting request, then keeps taking more until it has {@code maxBatchSize}
 * or until {@code maxBatchDelay} has passed since that oldest request arrived, and calls the batch function once.
 * The delay counts from the arrival, not from the pick-up, so requests that queued while the previous batch ran go
 * out at once: under load batches fill by themselves and no delay is added; when idle, a lone request waits at most
 * {@code maxBatchDelay}.
 *
 * <p>The batch function returns one output per input, in order. If it throws, a batch of several requests is run
 * again one request at a time, so a single bad input fails only its own future; every failure completes the future
 * exceptionally with the function's exception as the cause. Futures are completed on the worker thread: callers
 * that do real work in a continuation should use the {@code *Async} variants.
 *
 * <p>Thread-safe: {@link #submit} may be called from any thread. {@link #close} lets the requests already queued
 * run, then stops the worker; requests submitted after it fail with {@link IllegalStateException}. The batcher does
 * not own the batch function's resources: close it before closing them.
 *
 * @param <I> request type
 * @param <O> result type
 */
public final class DynamicBatcher<I, O> implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DynamicBatcher.class);

    private final String name;
    private final int maxBatchSize;
    private final long maxBatchDelayNanos;
    private final Function<List<I>, List<O>> batchFunction;
    private final BlockingQueue<Pending<I, O>> queue = new LinkedBlockingQueue<>();
    private final Thread worker;
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong items = new AtomicLong();
    private final AtomicLong busyNanos = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Starts the worker thread (a daemon named {@code cmt-batcher-<name>}).
     *
     * @param name what the batches are for, in the thread name and logs
     * @param maxBatchSize most requests per call, at least 1
     * @param maxBatchDelay longest a request waits for companions; zero sends whatever is queued at once
     * @param batchFunction runs one batch; returns exactly one output per input, in order
     */
    public DynamicBatcher(String name, int maxBatchSize, Duration maxBatchDelay,
                          Function<List<I>, List<O>> batchFunction) {
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, was " + maxBatchSize);
        }
        if (maxBatchDelay.isNegative()) {
            throw new IllegalArgumentException("maxBatchDelay must not be negative, was " + maxBatchDelay);
        }
        this.name = Objects.requireNonNull(name, "name");
        this.maxBatchSize = maxBatchSize;
        this.maxBatchDelayNanos = maxBatchDelay.toNanos();
        this.batchFunction = Objects.requireNonNull(batchFunction, "batchFunction");
        this.worker = new Thread(this::runWorker, "cmt-batcher-" + name);
        this.worker.setDaemon(true);
        this.worker.start();
    }

    /** Queues one request; the future completes when the batch holding it has run. */
    public CompletableFuture<O> submit(I input) {
        CompletableFuture<O> future = new CompletableFuture<>();
        if (closed.get()) {
            future.completeExceptionally(new IllegalStateException("batcher " + name + " is closed"));
            return future;
        }
        Pending<I, O> pending = new Pending<>(input, future, System.nanoTime());
        queue.add(pending);
        // close() may have queued its stop marker before this add: the worker would never reach this request.
        if (closed.get() && queue.remove(pending)) {
            future.completeExceptionally(new IllegalStateException("batcher " + name + " is closed"));
        }
        return future;
    }

    /** Batches run so far. */
    public long batchCount() {
        return batches.get();
    }

    /** Requests taken into batches so far. */
    public long itemCount() {
        return items.get();
    }

    /** Time spent in the batch function so far (not in the callers' continuations): how busy the model is. */
    public long busyNanos() {
        return busyNanos.get();
    }

    /** Requests waiting for a batch right now. */
    public int queueDepth() {
        return queue.size();
    }

    /** Runs the requests already queued, then stops the worker; waits up to a minute for it. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        queue.add(new Pending<>(null, null, System.nanoTime()));
        try {
            worker.join(TimeUnit.MINUTES.toMillis(1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // Only requests that raced with close() can still be here, or all of them if the worker is stuck.
        failQueued();
    }

    private void runWorker() {
        List<Pending<I, O>> batch = new ArrayList<>(maxBatchSize);
        boolean stop = false;
        while (!stop) {
            try {
                Pending<I, O> first = queue.take();
                if (first.isStop()) {
                    return;
                }
                batch.add(first);
                long deadline = first.enqueuedNanos + maxBatchDelayNanos;
                while (batch.size() < maxBatchSize) {
                    Pending<I, O> next = queue.poll();
                    if (next == null) {
                        long wait = deadline - System.nanoTime();
                        next = wait > 0 ? queue.poll(wait, TimeUnit.NANOSECONDS) : null;
                        if (next == null) {
                            break;
                        }
                    }
                    if (next.isStop()) {
                        stop = true;
                        break;
                    }
                    batch.add(next);
                }
            } catch (InterruptedException e) {
                // Nobody but the JVM's shutdown interrupts this thread: run what was taken, then leave.
                stop = true;
            }
            if (!batch.isEmpty()) {
                run(batch);
                batch.clear();
            }
        }
    }

    private void run(List<Pending<I, O>> batch) {
        List<I> inputs = new ArrayList<>(batch.size());
        for (Pending<I, O> p : batch) {
            inputs.add(p.input);
        }
        // Counted before the futures complete, so a caller that saw its result also sees it counted.
        batches.incrementAndGet();
        items.addAndGet(batch.size());
        try {
            List<O> outputs = call(inputs);
            for (int i = 0; i < batch.size(); i++) {
                batch.get(i).future.complete(outputs.get(i));
            }
        } catch (RuntimeException | Error e) {
            if (batch.size() == 1) {
                batch.get(0).future.completeExceptionally(e);
            } else {
                LOG.warn("Batch of {} for {} failed ({}); running its requests one by one", batch.size(), name,
                        e.toString());
                for (Pending<I, O> p : batch) {
                    try {
                        p.future.complete(call(List.of(p.input)).get(0));
                    } catch (RuntimeException | Error single) {
                        p.future.completeExceptionally(single);
                    }
                }
            }
        }
    }

    private List<O> call(List<I> inputs) {
        long started = System.nanoTime();
        List<O> outputs;
        try {
            outputs = batchFunction.apply(inputs);
        } finally {
            busyNanos.addAndGet(System.nanoTime() - started);
        }
        if (outputs == null || outputs.size() != inputs.size()) {
            throw new IllegalStateException("batch function for " + name + " returned "
                    + (outputs == null ? "null" : outputs.size() + " results") + " for " + inputs.size()
                    + " inputs");
        }
        return outputs;
    }

    private void failQueued() {
        List<Pending<I, O>> left = new ArrayList<>();
        queue.drainTo(left);
        for (Pending<I, O> p : left) {
            if (p.isStop()) {
                continue;
            }
            p.future.completeExceptionally(new IllegalStateException("batcher " + name + " is closed"));
        }
    }

    /** A queued request; the one with no future is the stop marker {@link #close} queues behind the rest. */
    private record Pending<I, O>(I input, CompletableFuture<O> future, long enqueuedNanos) {
        boolean isStop() {
            return future == null;
        }
    }
}
