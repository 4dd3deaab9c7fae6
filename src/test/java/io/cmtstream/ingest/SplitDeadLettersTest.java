package io.cmtstream.ingest;

import io.cmtstream.avro.DeadLetter;
import org.apache.flink.streaming.api.operators.ProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The dead-letter split on Flink's operator test harness: valid records pass on, refused ones go aside, none lost. */
class SplitDeadLettersTest {

    private static DeadLetter letter(String reason, long offset) {
        return DeadLetter.newBuilder().setTopic("documents").setPartition(0).setOffset(offset).setReason(reason)
                .setFailedAt(Instant.EPOCH).build();
    }

    @Test
    void validRecordsPassOnAndRefusedOnesGoToTheDeadLetterOutputEachOnce() throws Exception {
        try (var h = new OneInputStreamOperatorTestHarness<Ingested<String>, String>(
                new ProcessOperator<>(new SplitDeadLetters<String>()))) {
            h.open();
            h.processElement(new StreamRecord<>(Ingested.valid("first", 10L), 10L));
            h.processElement(new StreamRecord<>(Ingested.rejected(letter("EMPTY_TEXT: the text is empty", 1))));
            h.processElement(new StreamRecord<>(Ingested.valid("second", 11L), 11L));
            h.processElement(new StreamRecord<>(Ingested.rejected(letter("NOT_A_CODE", 3))));

            assertEquals(List.of("first", "second"), h.extractOutputValues());
            List<String> aside = h.getSideOutput(SplitDeadLetters.DEAD_LETTERS).stream()
                    .map(r -> r.getValue().getOffset() + " " + r.getValue().getReason()).toList();
            assertEquals(List.of("1 EMPTY_TEXT: the text is empty", "3 NOT_A_CODE"), aside,
                    "each refused record is one dead letter, its reason untouched");
            assertEquals(10L, h.getOutput().stream().filter(StreamRecord.class::isInstance)
                    .map(r -> ((StreamRecord<?>) r).getTimestamp()).findFirst().orElseThrow(),
                    "a valid record keeps its event time");
        }
    }

    @Test
    void aReasonIsCountedUnderItsStableCodeAndAnUnknownOneUnderMalformedAvro() {
        assertEquals(Rejection.EMPTY_TEXT, Rejection.of("EMPTY_TEXT: the text is empty"));
        assertEquals(Rejection.OVERLOADED, Rejection.of("OVERLOADED"));
        assertEquals(Rejection.MALFORMED_AVRO, Rejection.of("NOT_A_CODE: x"));
        assertEquals(Rejection.MALFORMED_AVRO, Rejection.of(""));
    }
}
