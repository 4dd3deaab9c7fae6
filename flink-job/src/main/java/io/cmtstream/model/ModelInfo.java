package io.cmtstream.model;

import java.io.Serializable;

/**
 * What the job needs to know about a loaded model, read from its model.json.
 *
 * @param name model name
 * @param version version string reported in every Answer
 * @param hiddenDim width of the token states memories and questions carry
 * @param keyDim width of keys
 * @param hasReader whether the model has a reader (else it only retrieves)
 * @param maxDocumentTokens longest document in tokens; longer ones are truncated
 * @param maxQueryTokens longest question in tokens; longer ones are truncated
 */
public record ModelInfo(
        String name,
        String version,
        int hiddenDim,
        int keyDim,
        boolean hasReader,
        int maxDocumentTokens,
        int maxQueryTokens) implements Serializable {}
