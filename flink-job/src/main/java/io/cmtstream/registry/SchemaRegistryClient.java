package io.cmtstream.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The few calls of a Confluent-compatible schema registry REST API the job makes (Confluent's own client is not
 * on Maven Central): a schema by id, register a schema under a subject, look one up. Schemas fetched by id are
 * cached for the life of the client (an id's schema never changes); ids the registry does not know are remembered
 * for {@link RegistrySettings#unknownIdTtlMillis} (at most {@link #MAX_UNKNOWN_IDS} of them), so a stream of
 * random ids costs one request per id, not one per record.
 *
 * <p>Every failure to get an answer (connection refused, timeout, 5xx, 401/403, a 404 that is not the registry's
 * "schema not found") is a {@link RegistryUnavailableException}, never an unknown id: a misconfigured URL or a
 * registry being restarted must not turn good records into dead letters. Thread-safe.
 */
public final class SchemaRegistryClient {
    /** Most unknown ids remembered at once; the oldest is forgotten first. */
    static final int MAX_UNKNOWN_IDS = 10_000;
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final RegistrySettings settings;
    private final HttpClient http;
    private final LongSupplier clock;
    private final int maxUnknownIds;
    private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();
    private final Map<Integer, String> unusable = new ConcurrentHashMap<>();
    /** id -> when it stops being known as unknown (clock millis); access-ordered, guarded by itself. */
    private final LinkedHashMap<Integer, Long> unknown = new LinkedHashMap<>(16, 0.75f, true);
    private final AtomicLong requests = new AtomicLong();

    public SchemaRegistryClient(RegistrySettings settings) {
        this(settings, System::currentTimeMillis, MAX_UNKNOWN_IDS);
    }

    SchemaRegistryClient(RegistrySettings settings, LongSupplier clockMillis, int maxUnknownIds) {
        this.settings = settings;
        this.clock = clockMillis;
        this.maxUnknownIds = maxUnknownIds;
        HttpClient.Builder b = HttpClient.newBuilder()
                .connectTimeout(Duration.ofMillis(settings.requestTimeoutMillis))
                .version(HttpClient.Version.HTTP_1_1);
        if (settings.keyStore != null || settings.trustStore != null) {
            b.sslContext(sslContext(settings));
        }
        this.http = b.build();
    }

    /** The registry's base URL, for log lines. */
    public String url() {
        return settings.url;
    }

    /** HTTP requests sent so far (tests check that caches hold). */
    public long requests() {
        return requests.get();
    }

    /**
     * The writer schema registered under {@code id}.
     *
     * @throws UnknownSchemaIdException if the registry has no schema of this id
     * @throws UnusableSchemaException if it has one that is not an Avro schema
     */
    public Schema schemaById(int id) throws UnusableSchemaException {
        Schema known = schemas.get(id);
        if (known != null) {
            return known;
        }
        String problem = unusable.get(id);
        if (problem != null) {
            throw new UnusableSchemaException(problem);
        }
        synchronized (unknown) {
            Long until = unknown.get(id);
            if (until != null) {
                if (clock.getAsLong() < until) {
                    throw new UnknownSchemaIdException(id, "schema id " + id + " is not in the registry at "
                            + settings.url + " (remembered as unknown)");
                }
                unknown.remove(id);
            }
        }
        HttpResponse<String> response = send(request("/schemas/ids/" + id).GET().build());
        if (response.statusCode() == 404 && errorCode(response) == 40403) {
            synchronized (unknown) {
                unknown.put(id, clock.getAsLong() + settings.unknownIdTtlMillis);
                if (unknown.size() > maxUnknownIds) {
                    unknown.remove(unknown.keySet().iterator().next());
                }
            }
            throw new UnknownSchemaIdException(id, "schema id " + id + " is not in the registry at " + settings.url);
        }
        JsonNode body = okBody(response, "GET /schemas/ids/" + id);
        String type = body.path("schemaType").asText("AVRO");
        if (!"AVRO".equalsIgnoreCase(type)) {
            problem = "schema id " + id + " is a " + type + " schema, not Avro";
            unusable.put(id, problem);
            throw new UnusableSchemaException(problem);
        }
        try {
            Schema schema = new Schema.Parser().parse(body.path("schema").asText());
            schemas.put(id, schema);
            return schema;
        } catch (SchemaParseException | NullPointerException e) {
            problem = "schema id " + id + " is not a parseable Avro schema: " + e.getMessage();
            unusable.put(id, problem);
            throw new UnusableSchemaException(problem);
        }
    }

    /** Registers {@code schema} under {@code subject} (a no-op returning the id if it is there already). */
    public int register(String subject, Schema schema) {
        String path = "/subjects/" + encode(subject) + "/versions";
        return idOf(send(request(path).POST(schemaBody(schema)).build()), "POST " + path);
    }

    /**
     * The id of {@code schema} under {@code subject}.
     *
     * @throws IllegalStateException if the registry answers that the subject or the schema is not registered
     */
    public int lookup(String subject, Schema schema) {
        String path = "/subjects/" + encode(subject);
        HttpResponse<String> response = send(request(path).POST(schemaBody(schema)).build());
        if (response.statusCode() == 404 && errorCode(response) > 0) {
            throw new IllegalStateException("the job's schema " + schema.getFullName() + " is not registered under "
                    + "subject " + subject + " at " + settings.url + " (" + response.body().strip()
                    + "); register it or set cmt.registry.auto-register=true");
        }
        return idOf(response, "POST " + path);
    }

    /** The schema id a successful register or lookup answered with. */
    private int idOf(HttpResponse<String> response, String call) {
        int id = okBody(response, call).path("id").asInt(-1);
        if (id < 0) {
            throw new RegistryUnavailableException(call + " answered without an id: " + response.body());
        }
        return id;
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(settings.url + path))
                .timeout(Duration.ofMillis(settings.requestTimeoutMillis))
                .header("Accept", CONTENT_TYPE + ", application/json");
        if (settings.basicAuthUserInfoFile != null) {
            String userInfo = readSecret(settings.basicAuthUserInfoFile, "cmt.registry.basic-auth.user-info-file");
            b.header("Authorization", "Basic "
                    + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8)));
        } else if (settings.bearerTokenFile != null) {
            b.header("Authorization", "Bearer " + readSecret(settings.bearerTokenFile, "cmt.registry.bearer-token-file"));
        }
        return b;
    }

    private static HttpRequest.BodyPublisher schemaBody(Schema schema) {
        try {
            String json = JSON.writeValueAsString(Map.of("schema", schema.toString()));
            return HttpRequest.BodyPublishers.ofString(json);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private HttpResponse<String> send(HttpRequest request) {
        requests.incrementAndGet();
        try {
            HttpRequest withType = request.method().equals("POST")
                    ? HttpRequest.newBuilder(request, (k, v) -> true).header("Content-Type", CONTENT_TYPE).build()
                    : request;
            return http.send(withType, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new RegistryUnavailableException("schema registry at " + settings.url + " unreachable ("
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryUnavailableException("interrupted waiting for the schema registry at " + settings.url, e);
        }
    }

    /** The body of a 2xx answer; anything else is the registry not answering the question. */
    private JsonNode okBody(HttpResponse<String> response, String call) {
        int status = response.statusCode();
        if (status / 100 != 2) {
            throw new RegistryUnavailableException("schema registry at " + settings.url + " answered " + call
                    + " with HTTP " + status + (status == 401 || status == 403 ? " (credentials refused)" : "")
                    + ": " + abbreviate(response.body()));
        }
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new RegistryUnavailableException("schema registry at " + settings.url + " answered " + call
                    + " with a body that is not JSON: " + abbreviate(response.body()), e);
        }
    }

    private static int errorCode(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body()).path("error_code").asInt(-1);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static String abbreviate(String body) {
        String s = body == null ? "" : body.strip();
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }

    private static String encode(String subject) {
        return URLEncoder.encode(subject, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** A credential file's content, trimmed; unreadable is the registry being unavailable (a Secret not yet mounted). */
    private static String readSecret(String file, String option) {
        try {
            return Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new RegistryUnavailableException("cannot read " + option + " " + file + ": " + e, e);
        }
    }

    private static SSLContext sslContext(RegistrySettings s) {
        try {
            KeyManagerFactory kmf = null;
            if (s.keyStore != null) {
                char[] password = password(s.keyStorePasswordFile, "cmt.registry.ssl.keystore.password-file");
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(load(s.keyStore, password), password);
            }
            TrustManagerFactory tmf = null;
            if (s.trustStore != null) {
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(isPem(s.trustStore) ? pemTrustStore(s.trustStore) : load(s.trustStore,
                        password(s.trustStorePasswordFile, "cmt.registry.ssl.truststore.password-file")));
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("cannot set up TLS for the schema registry: " + e.getMessage(), e);
        }
    }

    private static char[] password(String file, String option) {
        return file == null ? new char[0] : readSecret(file, option).toCharArray();
    }

    /** Whether {@code file} holds PEM certificates (a CA bundle as Kubernetes Secrets carry it). */
    private static boolean isPem(String file) throws IOException {
        try (InputStream in = Files.newInputStream(Path.of(file))) {
            return new String(in.readNBytes(64), StandardCharsets.US_ASCII).stripLeading().startsWith("-----BEGIN");
        }
    }

    /** A trust store of the PEM certificates in {@code file}; no password. */
    private static KeyStore pemTrustStore(String file) throws GeneralSecurityException, IOException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        try (InputStream in = Files.newInputStream(Path.of(file))) {
            int n = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                ks.setCertificateEntry("ca-" + n++, c);
            }
        }
        return ks;
    }

    private static KeyStore load(String file, char[] password) throws GeneralSecurityException, IOException {
        // PKCS12 reads JKS files too (keystore.type.compat, on by default).
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Path.of(file))) {
            ks.load(in, password);
        }
        return ks;
    }
}
