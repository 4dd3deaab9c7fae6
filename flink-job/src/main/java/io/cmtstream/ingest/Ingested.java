package io.cmtstream.ingest;

import io.cmtstream.avro.DeadLetter;

/**
 * What the Kafka sources emit: either a valid record or the dead letter explaining why it was refused, so that a
 * bad record never fails the source and is never dropped.
 *
 * <p>A Flink POJO: exactly one of {@code value} and {@code deadLetter} is set.
 */
public class Ingested<T> {
    public T value;
    public DeadLetter deadLetter;
    /** Event time of a valid record; {@link Long#MIN_VALUE} for dead letters so they never move watermarks. */
    public long eventTime;

    public Ingested() {}

    public static <T> Ingested<T> valid(T value, long eventTime) {
        Ingested<T> in = new Ingested<>();
        in.value = value;
        in.eventTime = eventTime;
        return in;
    }

    public static <T> Ingested<T> rejected(DeadLetter deadLetter) {
        Ingested<T> in = new Ingested<>();
        in.deadLetter = deadLetter;
        in.eventTime = Long.MIN_VALUE;
        return in;
    }

    public boolean isValid() {
        return deadLetter == null;
    }
}
