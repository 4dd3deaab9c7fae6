package io.cmtstream.model;

import java.util.List;
import java.util.Objects;

/**
 * What the reader needs for one question: its token states and the memories to read.
 *
 * @param questionStates the question's states after the backbone's memory layer ({@link Encoding#states()}),
 *     row-major {@code [L, hidden]}
 * @param memories the top-k matched documents' memories ({@link Encoding#memory()}), best first; empty means
 *     closed book, which the reader answers with an empty answer
 * @param matchScores each memory's match score (what ranked it), as many as memories; null when unknown, which
 *     reads as all equal
 */
public record AnswerRequest(float[] questionStates, List<MemoryStates> memories, float[] matchScores) {

    /** A request whose memories' match scores are unknown (all equal). */
    public AnswerRequest(float[] questionStates, List<MemoryStates> memories) {
        this(questionStates, memories, null);
    }

    /** The j-th memory's match score, 0 when none are known. */
    float matchScore(int j) {
        return matchScores == null ? 0f : matchScores[j];
    }

    /**
     * Checks the request's sizes against the model so that a malformed one fails alone, before batching.
     *
     * @throws IllegalArgumentException naming {@code what} and the size at fault
     */
    public static void validate(AnswerRequest request, ModelInfo info, String what) {
        Objects.requireNonNull(request, what);
        int hidden = info.hiddenDim();
        float[] question = request.questionStates();
        int length = question == null ? 0 : question.length / hidden;
        if (question == null || question.length % hidden != 0 || length < 2 || length > info.maxQueryTokens()) {
            throw new IllegalArgumentException(what + ": questionStates must hold 2 to " + info.maxQueryTokens()
                    + " rows of " + hidden + " values, had " + (question == null ? "none" : question.length
                    + " values"));
        }
        List<MemoryStates> memories = request.memories() == null ? List.of() : request.memories();
        float[] scores = request.matchScores();
        if (scores != null && scores.length != memories.size()) {
            throw new IllegalArgumentException(what + ": " + scores.length + " match scores for " + memories.size()
                    + " memories");
        }
        for (int j = 0; scores != null && j < scores.length; j++) {
            if (!Float.isFinite(scores[j])) {
                throw new IllegalArgumentException(what + ": match score " + j + " is " + scores[j]);
            }
        }
        for (int j = 0; j < memories.size(); j++) {
            MemoryStates memory = memories.get(j);
            if (memory == null || memory.states().length != memory.tokens() * hidden
                    || memory.tokens() > info.maxDocumentTokens()) {
                throw new IllegalArgumentException(what + ": memory " + j + " must hold at most "
                        + info.maxDocumentTokens() + " rows of " + hidden + " values, had " + (memory == null
                        ? "none" : memory.states().length + " values for " + memory.tokens() + " tokens"));
            }
        }
    }
}
