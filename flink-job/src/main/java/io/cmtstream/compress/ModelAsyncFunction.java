package io.cmtstream.compress;

import io.cmtstream.avro.DeadLetter;
import io.cmtstream.ingest.Ingested;
import io.cmtstream.ingest.Rejection;
import io.cmtstream.model.ModelLoadException;
import io.cmtstream.model.ModelRuntime;
import io.cmtstream.model.ModelSpec;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.execution.SuppressRestartsException;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;

/**
 * Base of the Flink functions that call the model: acquires the task manager's shared {@link ModelRuntime} on
 * open, releases it on close, and turns the runtime's futures into async results. Subclasses only say which call
 * to make; the runtime batches calls from all slots.
 *
 * <p>Every record comes out as an {@link Ingested}: the model's result, or a {@code MODEL_ERROR} dead letter when
 * the model failed on the record on every try ({@link ModelCallGuard}); {@code SplitDeadLetters} after it sends
 * those to the dead-letter topic. When the model fails on {@link ModelCallGuard.Settings#maxConsecutiveFailures()}
 * records in a row, the function fails the task with {@link ModelFailingException} and the job's restart strategy
 * decides (the records are replayed from the last checkpoint, their uncommitted dead letters aborted).
 */
public abstract class ModelAsyncFunction<I, O> extends RichAsyncFunction<I, Ingested<O>> {
    private final ModelSpec spec;
    private final ModelCallGuard.Settings faults;
    private final String sourceTopic;
    private transient ModelRuntime runtime;
    private transient ModelCallGuard guard;
    private transient Histogram latencyMillis;
    private transient Counter modelErrors;

    /**
     * @param faults how often to try a record and when a run of failures fails the job
     * @param sourceTopic the topic the records came from, named in their dead letters
     */
    protected ModelAsyncFunction(ModelSpec spec, ModelCallGuard.Settings faults, String sourceTopic) {
        this.spec = spec;
        this.faults = faults;
        this.sourceTopic = sourceTopic;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        try {
            runtime = ModelRuntime.acquire(spec);
        } catch (ModelLoadException e) {
            // Restarting cannot mend a missing or corrupt model file: fail the job once, with the file's name.
            throw new SuppressRestartsException(e);
        }
        guard = new ModelCallGuard(faults);
        MetricGroup metrics = getRuntimeContext().getMetricGroup();
        latencyMillis = metrics.histogram(metricPrefix() + "LatencyMs", new DescriptiveStatisticsHistogram(1000));
        modelErrors = metrics.counter(metricPrefix() + "ModelErrors");
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

    /** The model call for one record (one try). */
    protected abstract CompletableFuture<O> call(I input);

    /** What a record is, for error messages ("document", "query"). */
    protected abstract String recordKind();

    /** Identifies a record in error messages: its kind and its dead letter's key (tenant and id). */
    private String describe(I input) {
        return recordKind() + " " + deadLetterKey(input);
    }

    /** The Kafka key of the record's dead letter ({@code tenant/id}, as the job's sinks key records). */
    protected abstract String deadLetterKey(I input);

    /** The record as the source topic held it (Avro binary), the payload of its dead letter. */
    protected abstract byte[] payload(I input);

    @Override
    public final void asyncInvoke(I input, ResultFuture<Ingested<O>> resultFuture) {
        long started = System.nanoTime();
        guard.<O>call(() -> call(input)).thenAccept(outcome -> {
            if (outcome.kind() == ModelCallGuard.Kind.SUCCEEDED) {
                latencyMillis.update((System.nanoTime() - started) / 1_000_000);
                // No event time of its own: the stream element keeps the record's timestamp.
                resultFuture.complete(List.of(Ingested.valid(outcome.value(), Long.MIN_VALUE)));
            } else {
                decided(input, outcome, resultFuture);
            }
        }).exceptionally(error -> {
            // A bug of ours while handling the outcome (the guard itself never fails): fail the task with it
            // rather than leave the record to Flink's backstop timeout.
            resultFuture.completeExceptionally(error);
            return null;
        });
    }

    @Override
    public void timeout(I input, ResultFuture<Ingested<O>> resultFuture) {
        // Only a backstop: the guard's per-try timeouts decide first unless the runtime stopped answering.
        decided(input, guard.failedOutside(new TimeoutException(metricPrefix() + " of " + describe(input)
                + " gave no result within the async timeout")), resultFuture);
    }

    private void decided(I input, ModelCallGuard.Outcome<O> outcome, ResultFuture<Ingested<O>> resultFuture) {
        modelErrors.inc();
        if (outcome.kind() == ModelCallGuard.Kind.MODEL_FAILING) {
            resultFuture.completeExceptionally(new ModelFailingException(metricPrefix(), describe(input),
                    outcome.failuresInARow(), outcome.error()));
            return;
        }
        resultFuture.complete(List.of(Ingested.rejected(deadLetter(input, outcome))));
    }

    private DeadLetter deadLetter(I input, ModelCallGuard.Outcome<O> outcome) {
        String reason = Rejection.MODEL_ERROR.reason(metricPrefix() + " of " + describe(input) + " failed "
                + outcome.attempts() + (outcome.attempts() == 1 ? " time: " : " times: ")
                + ModelCallGuard.describe(outcome.error()));
        // Past validation the record's Kafka coordinates are gone: partition and offset are -1, the key and
        // payload are the record itself, so it can be replayed from the dead letter.
        return DeadLetter.newBuilder()
                .setTopic(sourceTopic)
                .setPartition(-1)
                .setOffset(-1L)
                .setReason(reason)
                .setKey(ByteBuffer.wrap(deadLetterKey(input).getBytes(StandardCharsets.UTF_8)))
                .setPayload(ByteBuffer.wrap(payload(input)))
                .setFailedAt(Instant.now())
                .build();
    }

    @Override
    public void close() throws Exception {
        if (runtime != null) {
            runtime.close();
            runtime = null;
        }
    }
}
