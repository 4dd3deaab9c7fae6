package io.cmtstream.bench;

import io.cmtstream.app.CmtStreamOptions;
import io.cmtstream.model.ModelRuntime;
import io.cmtstream.model.ModelSpec;

import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Once a second, what the job's document batcher did: documents compressed, mean batch size, share of the second
 * spent in model calls, queue depth. Shows whether the model or the job around it sets the ingest pace.
 */
final class ModelTimeline implements AutoCloseable {
    private final ModelRuntime runtime;
    private final PrintStream out;
    private final Thread sampler;
    private final long startedNanos = System.nanoTime();
    private final ModelRuntime.BatchStats first;
    private volatile boolean running = true;
    private volatile ModelRuntime.BatchStats lastActive;
    private volatile long lastActiveNanos;

    private ModelTimeline(ModelRuntime runtime, PrintStream out) {
        this.runtime = runtime;
        this.out = out;
        this.first = runtime.stats().documents();
        this.lastActive = first;
        this.lastActiveNanos = startedNanos;
        this.sampler = new Thread(this::sample, "bench-model-timeline");
        this.sampler.setDaemon(true);
        this.sampler.start();
    }

    /** A handle on the model runtime the job in this JVM has loaded (same directory and the job's defaults). */
    static ModelTimeline start(Path modelDir, PrintStream out) {
        ModelSpec spec = new ModelSpec(modelDir.toString(), CmtStreamOptions.MODEL_BATCH_SIZE.defaultValue(),
                CmtStreamOptions.MODEL_BATCH_DELAY.defaultValue().toMillis(),
                CmtStreamOptions.MODEL_DEVICE.defaultValue());
        return new ModelTimeline(ModelRuntime.acquire(spec), out);
    }

    private void sample() {
        ModelRuntime.BatchStats previous = first;
        long previousNanos = startedNanos;
        while (running) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            ModelRuntime.BatchStats now = runtime.stats().documents();
            long nowNanos = System.nanoTime();
            long items = now.items() - previous.items();
            long batches = now.batches() - previous.batches();
            out.printf("model timeline: t=%5.1f s  documents %3d  batches %2d (mean %4.1f)  busy %3.0f%%  queued %d%n",
                    (nowNanos - startedNanos) / 1e9, items, batches, batches == 0 ? 0.0 : (double) items / batches,
                    100.0 * (now.busyNanos() - previous.busyNanos()) / (nowNanos - previousNanos), now.queued());
            if (items > 0) {
                lastActive = now;
                lastActiveNanos = nowNanos;
            }
            previous = now;
            previousNanos = nowNanos;
        }
    }

    /** Stops sampling and prints the totals up to the last second in which documents were compressed. */
    void stop() {
        if (!running) {
            return;
        }
        running = false;
        sampler.interrupt();
        ModelRuntime.BatchStats end = lastActive;
        long items = end.items() - first.items();
        double seconds = (lastActiveNanos - startedNanos) / 1e9;
        double busy = (end.busyNanos() - first.busyNanos()) / 1e9;
        out.printf("model timeline: %d documents in %d model calls (mean batch %.1f); %.1f s in model calls of "
                        + "%.1f s to the last sampled second with documents (%.0f%% busy); model-call rate %.2f "
                        + "documents/s%n", items, end.batches() - first.batches(),
                items == 0 ? 0.0 : (double) items / (end.batches() - first.batches()), busy, seconds,
                seconds == 0 ? 0.0 : 100 * busy / seconds, busy == 0 ? 0.0 : items / busy);
        if (items == 0) {
            out.println("model timeline: saw no documents: the job's runtime is not the one in this class loader");
        }
    }

    @Override
    public void close() {
        stop();
        runtime.close();
    }
}
