package io.cmtstream.ingest;

/** Field checks shared by the document and query validators. */
final class RecordChecks {
    private RecordChecks() {}

    static void tenant(CharSequence tenant) throws InvalidRecordException {
        if (tenant == null || tenant.length() == 0) {
            throw new InvalidRecordException(Rejection.MISSING_FIELD, "tenant is missing");
        }
        if (!IngestLimits.TENANT.matcher(tenant).matches()) {
            throw new InvalidRecordException(Rejection.BAD_TENANT,
                    "tenant '" + tenant + "' does not match " + IngestLimits.TENANT.pattern());
        }
    }

    static void id(CharSequence id) throws InvalidRecordException {
        if (id == null || id.toString().isBlank()) {
            throw new InvalidRecordException(Rejection.MISSING_FIELD, "id is missing");
        }
        if (id.length() > IngestLimits.MAX_ID_CHARS) {
            throw new InvalidRecordException(Rejection.BAD_ID,
                    "id is " + id.length() + " chars, more than " + IngestLimits.MAX_ID_CHARS);
        }
    }

    /**
     * An event time must be there and at most {@code maxSkewMillis} ahead of {@code nowMillis}. Any Instant Avro
     * can decode passes or fails here without an exception: the sum saturates instead of overflowing, and an
     * Instant beyond what epoch millis can hold (built by hand, Avro never makes one) is refused as well.
     */
    static void notInFuture(String field, java.time.Instant time, long maxSkewMillis, long nowMillis)
            throws InvalidRecordException {
        if (time == null) {
            throw new InvalidRecordException(Rejection.MISSING_FIELD, field + " is missing");
        }
        long limit = saturatedAdd(nowMillis, Math.max(0, maxSkewMillis));
        long millis;
        try {
            millis = time.toEpochMilli();
        } catch (ArithmeticException e) {
            millis = time.getEpochSecond() > 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
        }
        if (millis > limit || (millis == Long.MAX_VALUE && limit == Long.MAX_VALUE)) {
            // The detail names no clock reading: a replayed record must get the same reason (HostileInputITCase
            // compares the job's reasons with the ingest code's own).
            throw new InvalidRecordException(Rejection.EVENT_TIME_IN_FUTURE, field + " " + time + " is more than "
                    + maxSkewMillis + " ms ahead of the job's clock");
        }
    }

    static long saturatedAdd(long a, long b) {
        long sum = a + b;
        // Overflow only when both have the same sign and the sum's sign differs.
        if (((a ^ sum) & (b ^ sum)) < 0) {
            return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        return sum;
    }

    static void text(String field, CharSequence text, int maxChars) throws InvalidRecordException {
        if (text == null || text.toString().isBlank()) {
            throw new InvalidRecordException(Rejection.EMPTY_TEXT, field + " is empty");
        }
        if (text.length() > maxChars) {
            throw new InvalidRecordException(Rejection.TEXT_TOO_LONG,
                    field + " is " + text.length() + " chars, more than the limit of " + maxChars);
        }
        // Avro turns bytes that are not UTF-8 into U+FFFD while decoding; seeing one means the producer sent
        // text in another encoding, which the tokenizer would silently mangle.
        if (text.toString().indexOf('\uFFFD') >= 0) {
            throw new InvalidRecordException(Rejection.INVALID_UTF8, field + " holds bytes that are not valid UTF-8");
        }
    }
}
