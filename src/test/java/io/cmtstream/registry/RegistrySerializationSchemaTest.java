package io.cmtstream.registry;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.DeadLetter;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.testing.SchemaRegistryFixture;
import org.apache.flink.util.InstantiationUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistrySerializationSchemaTest {
    @RegisterExtension
    final SchemaRegistryFixture registry = SchemaRegistryFixture.forEachTest();

    private static DeadLetter deadLetter() {
        return DeadLetter.newBuilder().setTopic("documents").setPartition(0).setOffset(7)
                .setReason("EMPTY_TEXT: blank").setFailedAt(Instant.ofEpochMilli(1_700_000_000_000L)).build();
    }

    @Test
    void recordsAreFramedWithTheIdRegisteredUnderTheTopicValueSubject() throws Exception {
        // Shipped to the sink as Flink does, by Java serialization.
        RegistrySerializationSchema<DeadLetter> schema = InstantiationUtil.clone(new RegistrySerializationSchema<>(
                DeadLetter.class, "dead-letters", RegistrySettings.builder(registry.url()).build()));
        byte[] first = schema.serialize(deadLetter());
        byte[] second = schema.serialize(deadLetter());
        assertEquals(List.of(schema.schemaId()), registry.versions("dead-letters-value"));
        assertTrue(RegistryFraming.isFramed(first));
        assertEquals(schema.schemaId(), RegistryFraming.schemaId(first));
        assertEquals(deadLetter(), new AvroDecoder<>(DeadLetter.class)
                .decode(Arrays.copyOfRange(second, RegistryFraming.HEADER_BYTES, second.length)));
        assertEquals(1, registry.requests("POST /subjects/dead-letters-value/versions"),
                "the id is resolved once per subtask");
    }

    @Test
    void withoutAutoRegistrationAnExistingRegistrationIsUsed() {
        int id = registry.register("answers-value", Answer.getClassSchema());
        RegistrySerializationSchema<DeadLetter> letters = new RegistrySerializationSchema<>(DeadLetter.class,
                "dead-letters", RegistrySettings.builder(registry.url()).autoRegister(false).build());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> letters.serialize(deadLetter()));
        assertTrue(e.getMessage().contains("dead-letters-value"), e.getMessage());
        assertEquals(List.of(), registry.versions("dead-letters-value"), "nothing registered");
        registry.register("dead-letters-value", DeadLetter.getClassSchema());
        RegistrySerializationSchema<DeadLetter> again = new RegistrySerializationSchema<>(DeadLetter.class,
                "dead-letters", RegistrySettings.builder(registry.url()).autoRegister(false).build());
        byte[] framed = again.serialize(deadLetter());
        assertEquals(registry.versions("dead-letters-value").get(0), RegistryFraming.schemaId(framed));
        assertTrue(id > 0);
    }
}
