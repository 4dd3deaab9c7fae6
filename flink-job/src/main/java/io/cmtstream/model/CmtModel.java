package io.cmtstream.model;

import java.util.List;

/**
 * The one narrow door to the neural model: texts in, keys and memories out; memories in, answer text out.
 *
 * <p>Nothing outside this package sees a tensor. Implementations are thread-safe: every method may be called
 * concurrently from several Flink slots, and implementations batch such calls themselves.
 */
public interface CmtModel extends AutoCloseable {

    /** Names, dimensions and capabilities of the loaded model. */
    ModelInfo info();

    /** Compresses documents into memories (key + token states + pieces), one per text, in order. */
    List<Encoding> encodeDocuments(List<String> texts);

    /** Encodes questions into the documents' key space with the same compressor (self-matching). */
    List<Encoding> encodeQueries(List<String> questions);

    /**
     * Reads each request's answer from its top-k memories: a span of one of them, or empty without memories.
     *
     * @throws UnsupportedOperationException if {@link ModelInfo#hasReader()} is false
     */
    List<String> answer(List<AnswerRequest> requests);

    @Override
    void close();
}
