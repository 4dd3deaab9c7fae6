package io.cmtstream.model;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A real model that fails where a test says: a document or question text {@code failsOn} accepts makes every batch
 * holding it throw, and {@link #failEverything} makes every call throw. Counts the calls made with such a text
 * alone (the batcher's record-by-record rerun and the guard's tries).
 *
 * <p>{@link #preload} puts it into the task manager's model registry before a job starts, so the job's functions,
 * which acquire their model by directory, get this one: the seam for fault tests through the running job (a
 * MiniCluster runs its tasks in the test's JVM and class loader). Thread-safe.
 */
public final class FailingModel implements CmtModel {
    private final CmtModel real;
    private final Predicate<String> failsOn;
    private final AtomicBoolean failEverything = new AtomicBoolean();
    private final AtomicInteger aloneCalls = new AtomicInteger();

    FailingModel(CmtModel real, Predicate<String> failsOn) {
        this.real = real;
        this.failsOn = failsOn;
    }

    /** The preloaded model and the handle that keeps it loaded; closing it lets the model go with the job's. */
    public record Preloaded(FailingModel model, ModelRuntime handle) implements AutoCloseable {
        @Override
        public void close() {
            handle.close();
        }
    }

    /**
     * Loads the model of {@code spec} wrapped in a FailingModel and holds it in the registry until the returned
     * handle is closed (the job's own handles come and go with its tasks, restarts included).
     */
    public static Preloaded preload(ModelSpec spec, Predicate<String> failsOn) {
        FailingModel[] created = new FailingModel[1];
        ModelRuntime handle = ModelRuntime.acquire(spec, s -> {
            created[0] = new FailingModel(DjlCmtModel.load(Path.of(s.modelDir()), s.device()), failsOn);
            return created[0];
        });
        if (created[0] == null) {
            handle.close();
            throw new IllegalStateException("a model for " + spec.modelDir() + " was already loaded in this JVM");
        }
        return new Preloaded(created[0], handle);
    }

    /** From now on every call fails (a broken model), or none does that would not anyway. */
    public void failEverything(boolean fail) {
        failEverything.set(fail);
    }

    /** Calls made with one text that {@code failsOn} accepts, alone. */
    public int aloneCalls() {
        return aloneCalls.get();
    }

    private void check(List<String> texts) {
        if (failEverything.get()) {
            throw new IllegalStateException("injected: the model is broken");
        }
        for (String text : texts) {
            if (failsOn.test(text)) {
                if (texts.size() == 1) {
                    aloneCalls.incrementAndGet();
                }
                throw new IllegalStateException("injected: the model fails on this text");
            }
        }
    }

    @Override
    public ModelInfo info() {
        return real.info();
    }

    @Override
    public List<Encoding> encodeDocuments(List<String> texts) {
        check(texts);
        return real.encodeDocuments(texts);
    }

    @Override
    public List<Encoding> encodeQueries(List<String> questions) {
        check(questions);
        return real.encodeQueries(questions);
    }

    @Override
    public List<String> answer(List<AnswerRequest> requests) {
        if (failEverything.get()) {
            throw new IllegalStateException("injected: the model is broken");
        }
        return real.answer(requests);
    }

    @Override
    public void close() {
        real.close();
    }
}
