package io.cmtstream.registry;

/**
 * The schema registry wire format (Confluent's, also Apicurio's "confluent" mode): magic byte 0, the schema id as
 * 4 bytes big-endian, then the Avro binary of the record written with that schema.
 */
public final class RegistryFraming {
    private RegistryFraming() {}

    public static final byte MAGIC = 0;
    /** Bytes before the Avro binary. */
    public static final int HEADER_BYTES = 5;

    /** Whether {@code bytes} can be a framed record (magic byte and a whole header). */
    public static boolean isFramed(byte[] bytes) {
        return bytes != null && bytes.length >= HEADER_BYTES && bytes[0] == MAGIC;
    }

    /** The schema id of a framed record; call {@link #isFramed} first. */
    public static int schemaId(byte[] bytes) {
        return ((bytes[1] & 0xff) << 24) | ((bytes[2] & 0xff) << 16) | ((bytes[3] & 0xff) << 8) | (bytes[4] & 0xff);
    }

    /** {@code avro} framed with {@code schemaId}. */
    public static byte[] frame(int schemaId, byte[] avro) {
        byte[] out = new byte[HEADER_BYTES + avro.length];
        writeHeader(schemaId, out);
        System.arraycopy(avro, 0, out, HEADER_BYTES, avro.length);
        return out;
    }

    /** Writes the header of {@code schemaId} into the first {@link #HEADER_BYTES} of {@code out}. */
    public static void writeHeader(int schemaId, byte[] out) {
        out[0] = MAGIC;
        out[1] = (byte) (schemaId >>> 24);
        out[2] = (byte) (schemaId >>> 16);
        out[3] = (byte) (schemaId >>> 8);
        out[4] = (byte) schemaId;
    }
}
