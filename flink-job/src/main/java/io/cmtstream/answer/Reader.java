package io.cmtstream.answer;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.AnswerStatus;
import io.cmtstream.avro.Evidence;
import io.cmtstream.memory.MemoryHit;
import io.cmtstream.model.AnswerRequest;
import io.cmtstream.model.MemoryStates;
import io.cmtstream.model.ModelInfo;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * The answering end of CMT: hands the question and its top-k memories to the frozen reader, which copies the
 * answer out of one of them, and writes the Answer with its evidence. A retrieval-only model gives evidence and an
 * empty NO_READER answer rather than anything made up; so does a question without memories (NO_MEMORY), which
 * the reader is not asked about. Memories stored under an older model contract (no token states) are not read.
 *
 * <p>Thread-safe if the answer function is.
 */
public final class Reader {
    private final ModelInfo model;
    private final Function<AnswerRequest, CompletableFuture<String>> answerFunction;

    public Reader(ModelInfo model, Function<AnswerRequest, CompletableFuture<String>> answerFunction) {
        this.model = model;
        this.answerFunction = answerFunction;
    }

    public CompletableFuture<Answer> read(RetrievedContext context) {
        long started = System.nanoTime();
        if (!model.hasReader()) {
            return CompletableFuture.completedFuture(answer(context, "", AnswerStatus.NO_READER, 0));
        }
        if (context.hits.length == 0) {
            return CompletableFuture.completedFuture(answer(context, "", AnswerStatus.NO_MEMORY, 0));
        }
        return answerFunction.apply(request(context)).thenApply(text ->
                answer(context, text, AnswerStatus.ANSWERED, (System.nanoTime() - started) / 1_000_000));
    }

    static AnswerRequest request(RetrievedContext context) {
        List<MemoryStates> memories = new ArrayList<>(context.hits.length);
        float[] scores = new float[context.hits.length];
        for (MemoryHit hit : context.hits) {
            if (hit.states != null && hit.stateScales != null && hit.pieces != null) {
                scores[memories.size()] = hit.score;
                memories.add(new MemoryStates(hit.states, hit.stateScales, hit.pieces));
            }
        }
        return new AnswerRequest(context.query.states, memories, Arrays.copyOf(scores, memories.size()));
    }

    private Answer answer(RetrievedContext context, String text, AnswerStatus status, long readMillis) {
        List<Evidence> evidence = new ArrayList<>(context.hits.length);
        for (MemoryHit hit : context.hits) {
            evidence.add(new Evidence(hit.docId, hit.score));
        }
        Map<String, Long> timings = new LinkedHashMap<>();
        timings.put("encode", context.query.encodeMillis);
        timings.put("match", context.matchMillis);
        timings.put("read", readMillis);
        return Answer.newBuilder()
                .setTenant(context.query.tenant)
                .setQueryId(context.query.queryId)
                .setAnswer(text)
                .setStatus(status)
                .setEvidence(evidence)
                .setAskedAt(Instant.ofEpochMilli(context.query.askedAt))
                .setAnsweredAt(Instant.now())
                .setTimings(new LinkedHashMap<>(timings))
                .setModelVersion(model.name() + "@" + model.version())
                .setChangedAfterAskedAt(context.changed == null ? List.of() : List.of(context.changed))
                .build();
    }
}
