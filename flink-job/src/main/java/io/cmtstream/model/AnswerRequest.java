package io.cmtstream.model;

import java.util.List;

/**
 * What the aggregator and reader need for one question.
 *
 * @param questionTokens the question's own memory tokens ({@link Encoding#memoryTokens()})
 * @param memories memory tokens of the top-k matched documents, best first; empty means closed book
 * @param scores matching score of each memory, same order as {@code memories}
 */
public record AnswerRequest(float[] questionTokens, List<float[]> memories, float[] scores) {}
