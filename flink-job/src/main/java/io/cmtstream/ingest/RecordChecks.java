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
