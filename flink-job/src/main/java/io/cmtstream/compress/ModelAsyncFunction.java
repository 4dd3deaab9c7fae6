package io.cmtstream.compress;

import io.cmtstream.model.ModelLoadException;
import io.cmtstream.model.ModelRuntime;
import io.cmtstream.model.ModelSpec;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.execution.SuppressRestartsException;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;

/**
 * Base of the Flink functions that call the model: acquires the task manager's shared {@link ModelRuntime} on
 * open, releases it on close, and turns the runtime's futures into async results. Subclasses only say which call
 * to make; the runtime batches calls from all slots.
 */
public abstract class ModelAsyncFunction<I, O> extends RichAsyncFunction<I, O> {
    private final ModelSpec spec;
    private transient ModelRuntime runtime;
    private transient Histogram latencyMillis;

    protected ModelAsyncFunction(ModelSpec spec) {
        this.spec = spec;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        try {
            runtime = ModelRuntime.acquire(spec);
        } catch (ModelLoadException e) {
            // Restarting cannot mend a missing or corrupt model file: fail the job once, with the file's name.
            throw new SuppressRestartsException(e);
        }
        MetricGroup metrics = getRuntimeContext().getMetricGroup();
        latencyMillis = metrics.histogram(metricPrefix() + "LatencyMs", new DescriptiveStatisticsHistogram(1000));
        // The runtime is shared by the slots of the task manager: every subtask reports the same batcher.
        ModelRuntime shared = runtime;
        String prefix = metricPrefix();
        metrics.gauge(prefix + "ModelBatches", () -> batcher(shared.stats()).batches());
        metrics.gauge(prefix + "ModelItems", () -> batcher(shared.stats()).items());
        metrics.gauge(prefix + "ModelQueue", () -> batcher(shared.stats()).queued());
        metrics.gauge(prefix + "ModelBusyMs", () -> batcher(shared.stats()).busyNanos() / 1_000_000);
        opened(runtime);
    }

    /** Called once the runtime is acquired, to build the plain class that does the work. */
    protected abstract void opened(ModelRuntime runtime);

    /** This stage's batcher among the runtime's counters. */
    protected abstract ModelRuntime.BatchStats batcher(ModelRuntime.Stats stats);

    /** Name used for this stage's metrics. */
    protected abstract String metricPrefix();

    /** The model call for one record. */
    protected abstract CompletableFuture<O> call(I input);

    /** Identifies a record in error messages (tenant and id). */
    protected abstract String describe(I input);

    @Override
    public final void asyncInvoke(I input, ResultFuture<O> resultFuture) {
        long started = System.nanoTime();
        call(input).whenComplete((out, error) -> {
            if (error != null) {
                resultFuture.completeExceptionally(
                        new RuntimeException(metricPrefix() + " failed for " + describe(input), error));
            } else {
                latencyMillis.update((System.nanoTime() - started) / 1_000_000);
                resultFuture.complete(List.of(out));
            }
        });
    }

    @Override
    public void timeout(I input, ResultFuture<O> resultFuture) {
        resultFuture.completeExceptionally(new TimeoutException(
                metricPrefix() + " for " + describe(input) + " timed out: is the model runtime overloaded?"));
    }

    @Override
    public void close() throws Exception {
        if (runtime != null) {
            runtime.close();
            runtime = null;
        }
    }
}
