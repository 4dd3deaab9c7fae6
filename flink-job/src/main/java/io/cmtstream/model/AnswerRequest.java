package io.cmtstream.model;

import java.util.List;

/**
 * What the aggregator and reader need for one question.
 *
 * @param questionTokens the question's own memory tokens ({@link Encoding#memoryTokens()})
 * @param memories memory tokens of the top-k matched documents, best first; empty means closed book
 * @param scores matching score of each memory, same order as {@code memories}
 * @param memoryTerms each memory's term ids (the lexical half the memory bank stores with it), same order as
 *     {@code memories}; null, or a null entry, where they are not known. A model whose answers come from the
 *     memories' terms ({@link AnswerVocabulary}) restricts only questions whose every memory's terms are known.
 */
public record AnswerRequest(float[] questionTokens, List<float[]> memories, float[] scores,
                            List<int[]> memoryTerms) {

    /** A request whose memories' terms are not known: its answer is not restricted to them. */
    public AnswerRequest(float[] questionTokens, List<float[]> memories, float[] scores) {
        this(questionTokens, memories, scores, null);
    }
}
