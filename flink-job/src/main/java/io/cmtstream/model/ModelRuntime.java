package io.cmtstream.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * The per-task-manager model runtime: one loaded copy of a model shared by every slot of the JVM, with dynamic
 * batching across the slots' requests.
 *
 * <p>Each Flink function calls {@link #acquire} in {@code open()} and {@link #close} in {@code close()}:
 * <pre>{@code
 * public void open(OpenContext ctx) { runtime = ModelRuntime.acquire(spec); }
 * public void asyncInvoke(Document d, ResultFuture<Memory> out) {
 *     runtime.encodeDocument(d.getText()).whenComplete((encoding, error) -> ...);
 * }
 * public void close() { if (runtime != null) runtime.close(); }
 * }</pre>
 * The first {@code acquire} of a model directory loads the model (seconds; fails with {@link ModelLoadException}
 * naming the bad file); later ones return a new handle on the same model. Handles are reference-counted: the last
 * {@link #close} stops the batchers and frees the model. The directory is the identity: a second spec for the same
 * directory with other batch settings, device or backbone engine gets the first one's (logged).
 *
 * <p>Each operation (documents, questions, answers) has its own queue and worker thread that gathers up to
 * {@link ModelSpec#maxBatchSize()} requests for one model call (see {@link DynamicBatcher}); documents wait at most
 * {@link ModelSpec#maxBatchDelayMillis()} for companions, questions and answers take only what is already queued. Futures complete on that worker thread, exceptionally with the model's
 * exception as the cause; a malformed request fails alone.
 *
 * <p>Thread-safe. A handle is owned by the function that acquired it; closing it twice is harmless, using it after
 * close fails the returned futures. The static registry is the one piece of mutable static state in the job, by
 * design: it is what makes the weights exist once per task manager (per job class loader, in Flink terms).
 */
public final class ModelRuntime implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ModelRuntime.class);

    /** Guarded by {@code ModelRuntime.class}. */
    private static final Map<Path, Shared> SHARED = new HashMap<>();

    private final Shared shared;
    private final AtomicBoolean released = new AtomicBoolean();

    private ModelRuntime(Shared shared) {
        this.shared = shared;
    }

    /**
     * A handle on the model in {@code spec.modelDir()}, loading it if this JVM has none yet.
     *
     * @throws ModelLoadException if the model directory is missing, incomplete or corrupt
     */
    public static ModelRuntime acquire(ModelSpec spec) {
        return acquire(spec, s -> DjlCmtModel.load(Path.of(s.modelDir()), s.device(), s.backboneEngine()));
    }

    /** As {@link #acquire(ModelSpec)}, loading with {@code loader}: the seam for tests and other model kinds. */
    static ModelRuntime acquire(ModelSpec spec, Function<ModelSpec, ? extends CmtModel> loader) {
        Objects.requireNonNull(spec, "spec");
        Path key = Path.of(spec.modelDir()).toAbsolutePath().normalize();
        synchronized (ModelRuntime.class) {
            Shared shared = SHARED.get(key);
            if (shared == null) {
                CmtModel model = loader.apply(spec);
                shared = new Shared(key, spec, model);
                SHARED.put(key, shared);
            } else if (!shared.spec.equals(spec)) {
                LOG.warn("Model {} is already loaded with {}; ignoring the differing {}", key, shared.spec, spec);
            }
            shared.references++;
            return new ModelRuntime(shared);
        }
    }

    /** Compresses one document into its memory (key + token states + pieces). */
    public CompletableFuture<Encoding> encodeDocument(String text) {
        if (text == null) {
            return CompletableFuture.failedFuture(new NullPointerException("document text is null"));
        }
        return released.get() ? closedHandle() : shared.documents.submit(text);
    }

    /** Encodes one question into the documents' key space (self-matching), with its token states. */
    public CompletableFuture<Encoding> encodeQuery(String question) {
        if (question == null) {
            return CompletableFuture.failedFuture(new NullPointerException("question is null"));
        }
        return released.get() ? closedHandle() : shared.queries.submit(question);
    }

    /**
     * Reads the answer to the request's question from its memories (empty without memories).
     *
     * <p>Fails with {@link UnsupportedOperationException} for a retrieval-only model
     * ({@link ModelInfo#hasReader()} false) and with {@link IllegalArgumentException} for sizes that do not fit
     * the model, without holding up other requests.
     */
    public CompletableFuture<String> answer(AnswerRequest request) {
        if (released.get()) {
            return closedHandle();
        }
        Shared s = shared;
        if (s.answers == null) {
            return CompletableFuture.failedFuture(new UnsupportedOperationException(
                    "model " + s.info.name() + " is retrieval-only: no reader"));
        }
        try {
            AnswerRequest.validate(request, s.info, "answer request");
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return s.answers.submit(request);
    }

    /** Names, dimensions and capabilities of the shared model. */
    public ModelInfo info() {
        return shared.info;
    }

    /** The spec the shared model was loaded with (the first acquirer's). */
    public ModelSpec spec() {
        return shared.spec;
    }

    /** Batching counters so far, for metrics. */
    public Stats stats() {
        return new Stats(BatchStats.of(shared.documents), BatchStats.of(shared.queries),
                shared.answers == null ? new BatchStats(0, 0, 0, 0) : BatchStats.of(shared.answers));
    }

    /** Releases this handle; the last release of a model stops its batchers and frees it. Idempotent. */
    @Override
    public void close() {
        if (!released.compareAndSet(false, true)) {
            return;
        }
        synchronized (ModelRuntime.class) {
            if (--shared.references > 0) {
                return;
            }
            SHARED.remove(shared.key);
            shared.close();
        }
    }

    /** Models loaded in this JVM now (for tests). */
    static int loadedModels() {
        synchronized (ModelRuntime.class) {
            return SHARED.size();
        }
    }

    private static <T> CompletableFuture<T> closedHandle() {
        return CompletableFuture.failedFuture(new IllegalStateException("this ModelRuntime handle was closed"));
    }

    /**
     * Counters of one operation's batcher.
     *
     * @param batches model calls made
     * @param items requests completed
     * @param queued requests waiting now
     * @param busyNanos time spent in model calls so far
     */
    public record BatchStats(long batches, long items, int queued, long busyNanos) {
        static BatchStats of(DynamicBatcher<?, ?> batcher) {
            return new BatchStats(batcher.batchCount(), batcher.itemCount(), batcher.queueDepth(),
                    batcher.busyNanos());
        }
    }

    /** Counters of the three operations. */
    public record Stats(BatchStats documents, BatchStats queries, BatchStats answers) {}

    /** One loaded model and its batchers; lives while some handle references it. */
    private static final class Shared {
        final Path key;
        final ModelSpec spec;
        final CmtModel model;
        final ModelInfo info;
        final DynamicBatcher<String, Encoding> documents;
        final DynamicBatcher<String, Encoding> queries;
        final DynamicBatcher<AnswerRequest, String> answers;
        int references;

        Shared(Path key, ModelSpec spec, CmtModel model) {
            this.key = key;
            this.spec = spec;
            this.model = model;
            this.info = model.info();
            String name = info.name();
            this.documents = new DynamicBatcher<>(name + "-documents", spec.maxBatchSize(), spec.maxBatchDelay(),
                    model::encodeDocuments);
            // A question waits for nobody: its batch is whatever queued while the previous call ran, which is a
            // full batch under load and no added latency when questions are few.
            this.queries = new DynamicBatcher<>(name + "-queries", spec.maxBatchSize(), Duration.ZERO,
                    model::encodeQueries);
            this.answers = info.hasReader()
                    ? new DynamicBatcher<>(name + "-answers", spec.maxBatchSize(), Duration.ZERO, model::answer)
                    : null;
        }

        void close() {
            // Batchers first: their queued requests still need the model.
            for (DynamicBatcher<?, ?> batcher : answers == null ? List.of(documents, queries)
                    : List.of(documents, queries, answers)) {
                batcher.close();
            }
            model.close();
            LOG.info("Released model {} ({} documents, {} questions, {} answers served)", key,
                    documents.itemCount(), queries.itemCount(), answers == null ? 0 : answers.itemCount());
        }
    }
}
