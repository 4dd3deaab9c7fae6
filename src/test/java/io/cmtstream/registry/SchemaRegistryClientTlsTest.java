package io.cmtstream.registry;

import io.cmtstream.avro.Answer;
import io.cmtstream.testing.SchemaRegistryFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * mTLS to the registry: key and trust stores made with the JDK's keytool, a registry that requires a client
 * certificate; the client presents its key store and trusts the registry through its trust store, with the
 * passwords read from files.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SchemaRegistryClientTlsTest {
    private static final String PASSWORD = "changeit";

    @TempDir
    static Path dir;
    private SchemaRegistryFixture registry;
    private Path passwordFile;

    @BeforeAll
    void start() throws Exception {
        keytool("-genkeypair", "-alias", "registry", "-keyalg", "EC", "-dname", "CN=localhost",
                "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-keystore", store("registry.p12"));
        keytool("-genkeypair", "-alias", "job", "-keyalg", "EC", "-dname", "CN=cmt-stream", "-validity", "2",
                "-keystore", store("job.p12"));
        keytool("-exportcert", "-alias", "registry", "-file", store("registry.crt"), "-keystore", store("registry.p12"));
        keytool("-exportcert", "-alias", "job", "-file", store("job.crt"), "-keystore", store("job.p12"));
        keytool("-exportcert", "-rfc", "-alias", "registry", "-file", store("registry.pem"),
                "-keystore", store("registry.p12"));
        keytool("-importcert", "-noprompt", "-alias", "registry", "-file", store("registry.crt"),
                "-keystore", store("job-trust.p12"));
        keytool("-importcert", "-noprompt", "-alias", "job", "-file", store("job.crt"),
                "-keystore", store("registry-trust.p12"));
        passwordFile = Files.writeString(dir.resolve("password"), PASSWORD + "\n");
        registry = SchemaRegistryFixture.startedTls(sslContext(store("registry.p12"), store("registry-trust.p12")),
                true);
    }

    @AfterAll
    void stop() {
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    void theClientPresentsItsCertificateAndTrustsTheRegistrysStore() {
        SchemaRegistryClient client = new SchemaRegistryClient(RegistrySettings.builder(registry.url())
                .keyStore(store("job.p12"), passwordFile.toString())
                .trustStore(store("job-trust.p12"), passwordFile.toString())
                .build());
        int id = client.register("answers-value", Answer.getClassSchema());
        assertEquals(List.of(id), registry.versions("answers-value"));
    }

    @Test
    void aPemCertificateIsATrustStoreWithoutAPassword() {
        SchemaRegistryClient client = new SchemaRegistryClient(RegistrySettings.builder(registry.url())
                .keyStore(store("job.p12"), passwordFile.toString())
                .trustStore(store("registry.pem"), null)
                .build());
        assertTrue(client.register("dead-letters-value", Answer.getClassSchema()) > 0);
    }

    @Test
    void withoutAClientCertificateTheRegistryIsUnavailableNotAnUnknownId() {
        SchemaRegistryClient client = new SchemaRegistryClient(RegistrySettings.builder(registry.url())
                .trustStore(store("job-trust.p12"), passwordFile.toString())
                .build());
        RegistryUnavailableException e = assertThrows(RegistryUnavailableException.class,
                () -> client.schemaById(101));
        assertTrue(e.getMessage().contains("unreachable"), e.getMessage());
    }

    @Test
    void aRegistryCertificateNotInTheTrustStoreIsRefused() {
        SchemaRegistryClient client = new SchemaRegistryClient(RegistrySettings.builder(registry.url())
                .keyStore(store("job.p12"), passwordFile.toString())
                .build());
        assertThrows(RegistryUnavailableException.class, () -> client.schemaById(101));
    }

    private static String store(String name) {
        return dir.resolve(name).toString();
    }

    private static void keytool(String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        command.addAll(List.of("-storetype", "PKCS12", "-storepass", PASSWORD));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "keytool " + command + ": " + out);
    }

    private static SSLContext sslContext(String keyStore, String trustStore) throws Exception {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(load(keyStore), PASSWORD.toCharArray());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(load(trustStore));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    private static KeyStore load(String file) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Path.of(file))) {
            ks.load(in, PASSWORD.toCharArray());
        }
        return ks;
    }
}
