package io.cmtstream.registry;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Document;
import io.cmtstream.testing.RegistryRecords;
import io.cmtstream.testing.SchemaRegistryFixture;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchemaRegistryClientTest {
    @RegisterExtension
    final SchemaRegistryFixture registry = SchemaRegistryFixture.forEachTest();
    private final AtomicLong now = new AtomicLong(1_000_000);

    private SchemaRegistryClient client(RegistrySettings.Builder settings) {
        return new SchemaRegistryClient(settings.build(), now::get, 3);
    }

    private SchemaRegistryClient client() {
        return client(RegistrySettings.builder(registry.url()).unknownIdTtl(Duration.ofMinutes(5)));
    }

    @Test
    void schemaByIdIsFetchedOnceThenCached() throws Exception {
        int id = registry.register("documents-value", RegistryRecords.EVOLVED_DOCUMENT);
        SchemaRegistryClient client = client();
        assertEquals(RegistryRecords.EVOLVED_DOCUMENT, client.schemaById(id));
        assertEquals(RegistryRecords.EVOLVED_DOCUMENT, client.schemaById(id));
        assertEquals(1, registry.requests("GET /schemas/ids/" + id));
    }

    @Test
    void unknownIdIsRememberedForItsTtlThenAskedAgain() {
        SchemaRegistryClient client = client();
        for (int i = 0; i < 5; i++) {
            UnknownSchemaIdException e = assertThrows(UnknownSchemaIdException.class, () -> client.schemaById(4242));
            assertEquals(4242, e.id());
        }
        assertEquals(1, registry.requests("GET /schemas/ids/4242"), "random ids must not flood the registry");
        now.addAndGet(Duration.ofMinutes(5).toMillis());
        assertThrows(UnknownSchemaIdException.class, () -> client.schemaById(4242));
        assertEquals(2, registry.requests("GET /schemas/ids/4242"));
    }

    @Test
    void theNegativeCacheIsBounded() {
        SchemaRegistryClient client = client();
        for (int id = 0; id <= 3; id++) {
            int unknown = 1_000_000 + id;
            assertThrows(UnknownSchemaIdException.class, () -> client.schemaById(unknown));
        }
        // The first id was forgotten to make room for the last: asked again.
        assertThrows(UnknownSchemaIdException.class, () -> client.schemaById(1_000_000));
        assertEquals(2, registry.requests("GET /schemas/ids/1000000"));
    }

    @Test
    void anUnreachableRegistryIsUnavailableNeverAnUnknownId() {
        registry.stop();
        RegistryUnavailableException e = assertThrows(RegistryUnavailableException.class,
                () -> client().schemaById(101));
        assertTrue(e.getMessage().contains("unreachable"), e.getMessage());
    }

    @Test
    void a404ThatIsNotTheRegistrysUnknownSchemaIsUnavailable() {
        // A base URL with a wrong path: every call is a plain 404, which must not dead-letter good records.
        SchemaRegistryClient client = client(RegistrySettings.builder(registry.url() + "/wrong/prefix"));
        assertThrows(RegistryUnavailableException.class, () -> client.schemaById(101));
    }

    @Test
    void registerIsIdempotentAndLookupFindsTheId() {
        SchemaRegistryClient client = client();
        Schema answer = Answer.getClassSchema();
        int id = client.register("answers-value", answer);
        assertEquals(id, client.register("answers-value", answer));
        assertEquals(id, client.lookup("answers-value", answer));
        assertEquals(java.util.List.of(id), registry.versions("answers-value"));
        assertNotEquals(id, client.register("documents-value", Document.getClassSchema()));
    }

    @Test
    void lookupOfAnUnregisteredSchemaFailsNamingTheSubject() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> client().lookup("answers-value", Answer.getClassSchema()));
        assertTrue(e.getMessage().contains("answers-value") && e.getMessage().contains("auto-register"),
                e.getMessage());
    }

    @Test
    void basicAuthIsReadFromItsFile(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("user-info"), "job:s3cret\n");
        String expected = "Basic " + Base64.getEncoder().encodeToString("job:s3cret".getBytes(StandardCharsets.UTF_8));
        registry.requireAuthorization(expected);
        int id = registry.register("documents-value", Document.getClassSchema());
        SchemaRegistryClient client = client(RegistrySettings.builder(registry.url())
                .basicAuthUserInfoFile(file.toString()));
        assertEquals(Document.getClassSchema(), client.schemaById(id));
    }

    @Test
    void aBearerTokenIsReadAtEachRequestSoARotatedSecretIsPickedUp(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("token"), "old-token");
        registry.requireAuthorization("Bearer new-token");
        SchemaRegistryClient client = client(RegistrySettings.builder(registry.url())
                .bearerTokenFile(file.toString()));
        RegistryUnavailableException refused = assertThrows(RegistryUnavailableException.class,
                () -> client.register("answers-value", Answer.getClassSchema()));
        assertTrue(refused.getMessage().contains("401"), refused.getMessage());
        Files.writeString(file, "new-token\n");
        assertTrue(client.register("answers-value", Answer.getClassSchema()) > 0);
    }

    @Test
    void anUnreadableCredentialFileIsUnavailableNotFatal(@TempDir Path dir) {
        SchemaRegistryClient client = client(RegistrySettings.builder(registry.url())
                .bearerTokenFile(dir.resolve("not-mounted-yet").toString()));
        RegistryUnavailableException e = assertThrows(RegistryUnavailableException.class, () -> client.schemaById(1));
        assertTrue(e.getMessage().contains("cmt.registry.bearer-token-file"), e.getMessage());
    }

    @Test
    void basicAuthAndBearerTokenTogetherAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> RegistrySettings.builder("http://x")
                .basicAuthUserInfoFile("a").bearerTokenFile("b").build());
    }
}
