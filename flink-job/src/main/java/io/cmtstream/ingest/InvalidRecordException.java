package io.cmtstream.ingest;

/** Thrown by decoders and validators; carries the {@link Rejection} that becomes the dead letter's reason. */
public final class InvalidRecordException extends Exception {
    private final Rejection rejection;

    public InvalidRecordException(Rejection rejection, String detail) {
        super(rejection.reason(detail));
        this.rejection = rejection;
    }

    public Rejection rejection() {
        return rejection;
    }
}
