package io.cmtstream.registry;

/** The registry has a schema of this id, but not one the job can read with (not Avro, or not parseable). */
public class UnusableSchemaException extends Exception {
    public UnusableSchemaException(String message) {
        super(message);
    }
}
