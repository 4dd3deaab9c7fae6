package io.cmtstream.model;

/**
 * A model directory cannot be used: a file is missing or corrupt, or model.json breaks the contract.
 *
 * <p>The message always names the file (and, for model.json, the key) so an operator can fix the deployment from
 * the job's failure message alone. Unchecked, because it can only happen at start, in an operator's
 * {@code open()}, where Flink fails the job with it.
 */
public class ModelLoadException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
