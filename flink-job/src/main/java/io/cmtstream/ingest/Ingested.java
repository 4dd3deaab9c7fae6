package io.cmtstream.ingest;

import io.cmtstream.avro.DeadLetter;

import java.nio.ByteBuffer;
import java.time.Instant;

/**
 * What the Kafka sources emit: either a valid record or the dead letter explaining why it was refused, so that a
 * bad record never fails the source and is never dropped.
 *
 * <p>A valid record keeps where it came from (topic, partition, offset, key and raw value), so a later step that
 * refuses it (a duplicate query id, an overloaded tenant) writes the same dead letter the source would have.
 *
 * <p>A Flink POJO: exactly one of {@code value} and {@code deadLetter} is set.
 */
public class Ingested<T> {
    public T value;
    public DeadLetter deadLetter;
    /** Event time of a valid record; {@link Long#MIN_VALUE} for dead letters so they never move watermarks. */
    public long eventTime;
    public String topic;
    public int partition;
    public long offset;
    public byte[] key;
    public byte[] payload;

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

    /** Records where this came from; returns this. */
    public Ingested<T> from(String topic, int partition, long offset, byte[] key, byte[] payload) {
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
        this.key = key;
        this.payload = payload;
        return this;
    }

    /** This valid record refused after the source: a dead letter at its topic, partition and offset. */
    public Ingested<T> refused(Rejection rejection, String detail) {
        return rejected(DeadLetter.newBuilder()
                .setTopic(topic == null ? "" : topic)
                .setPartition(partition)
                .setOffset(offset)
                .setReason(rejection.reason(detail))
                .setKey(key == null ? null : ByteBuffer.wrap(key))
                .setPayload(payload == null ? null : ByteBuffer.wrap(payload))
                .setFailedAt(Instant.now())
                .build());
    }

    public boolean isValid() {
        return deadLetter == null;
    }
}
