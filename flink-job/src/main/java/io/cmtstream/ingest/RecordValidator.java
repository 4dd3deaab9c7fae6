package io.cmtstream.ingest;

import java.io.Serializable;

/** Accepts a decoded record or refuses it with a {@link Rejection}. */
@FunctionalInterface
public interface RecordValidator<T> extends Serializable {
    T validate(T record) throws InvalidRecordException;
}
