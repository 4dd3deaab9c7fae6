package io.cmtstream.model;

import java.io.Serializable;

/**
 * What the job needs to know about a loaded model, read from its model.json.
 *
 * @param name model name
 * @param version version string reported in every Answer
 * @param hiddenDim width of memory tokens
 * @param keyDim width of keys
 * @param memoryTokens M, memory tokens per text (0 for a retrieval-only model)
 * @param hasReader whether the model has an aggregator and reader (else it only retrieves)
 * @param maxDocumentTokens longest document in tokens; longer ones are truncated
 */
public record ModelInfo(
        String name,
        String version,
        int hiddenDim,
        int keyDim,
        int memoryTokens,
        boolean hasReader,
        int maxDocumentTokens) implements Serializable {}
