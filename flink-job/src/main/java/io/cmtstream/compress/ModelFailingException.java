package io.cmtstream.compress;

/**
 * The model failed on too many records in a row for the fault to be the records': it fails the task instead of
 * turning every record into a dead letter. The message names the stage, the count, the option that sets it and the
 * last record's error.
 */
public final class ModelFailingException extends RuntimeException {
    /** The option that sets how many failed records in a row this takes (see app/CmtStreamOptions). */
    public static final String OPTION = "cmt.model.max-consecutive-failures";

    public ModelFailingException(String stage, String lastRecord, int failuresInARow, Throwable lastError) {
        super("the model failed on " + failuresInARow + " records in a row in " + stage + " (" + OPTION
                + "), the last one " + lastRecord + ": " + ModelCallGuard.describe(lastError)
                + "; the model itself is failing, so the job fails rather than dead-letter every record", lastError);
    }
}
