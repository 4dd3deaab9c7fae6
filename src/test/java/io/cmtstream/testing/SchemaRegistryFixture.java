package io.cmtstream.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import org.apache.avro.Schema;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for a schema registry: exactly the Confluent-compatible REST calls the job makes, in memory, on a
 * local port: {@code GET /schemas/ids/{id}}, {@code POST /subjects/{subject}/versions} (register) and
 * {@code POST /subjects/{subject}} (look up), with the registry's status and error codes (404 and 40403 for an
 * unknown id, 40401 for an unknown subject). No real registry can be run here (see README, "Schema registry"):
 * Apicurio's application needs artifacts Maven Central does not serve. It can be stopped and started again on
 * the same port with its schemas ({@link #stop}, {@link #start}), and can require an Authorization header.
 * Thread-safe.
 */
public final class SchemaRegistryFixture implements AutoCloseable, AfterEachCallback {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<Integer, String> schemas = new ConcurrentHashMap<>();
    private final Map<String, Integer> ids = new ConcurrentHashMap<>();
    private final Map<String, List<Integer>> subjects = new ConcurrentHashMap<>();
    private final AtomicInteger nextId = new AtomicInteger(101);
    /** Requests per path prefix, e.g. "GET /schemas/ids", so tests can check what the job's caches spare. */
    private final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
    private final List<String> authorizations = new CopyOnWriteArrayList<>();
    private volatile String requiredAuthorization;
    private int port;
    private HttpServer server;
    /** Null for plain HTTP. */
    private SSLContext tls;
    private boolean needClientAuth;

    /** Starts on a free port. */
    public static SchemaRegistryFixture started() throws IOException {
        SchemaRegistryFixture f = new SchemaRegistryFixture();
        f.startServer();
        return f;
    }

    /**
     * Started on a free port for one test: as a {@code @RegisterExtension} field, made with each test's instance
     * and closed after it.
     */
    public static SchemaRegistryFixture forEachTest() {
        try {
            return started();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the registry fixture", e);
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        close();
    }

    /** Starts with HTTPS on a free port, with {@code tls}'s key, requiring a client certificate if asked. */
    public static SchemaRegistryFixture startedTls(SSLContext tls, boolean needClientAuth) throws IOException {
        SchemaRegistryFixture f = new SchemaRegistryFixture();
        f.tls = tls;
        f.needClientAuth = needClientAuth;
        f.startServer();
        return f;
    }

    /** Not started: {@link #url} is a port nothing listens on until {@link #start()} (the registry down at start). */
    public static SchemaRegistryFixture reserved() throws IOException {
        SchemaRegistryFixture f = new SchemaRegistryFixture();
        f.startServer();
        f.stop();
        return f;
    }

    public String url() {
        return (tls == null ? "http" : "https") + "://127.0.0.1:" + port;
    }

    /** Requests with the {@code Authorization} header equal to this only; others get 401. Null: any. */
    public void requireAuthorization(String header) {
        requiredAuthorization = header;
    }

    /** The Authorization headers received, in order (null where none was sent). */
    public List<String> authorizations() {
        return authorizations;
    }

    /** Registers {@code schema} under {@code subject} as a producer would; returns its id. */
    public int register(String subject, Schema schema) {
        return register(subject, schema.toString());
    }

    /** The ids registered under {@code subject}, oldest first. */
    public List<Integer> versions(String subject) {
        return subjects.getOrDefault(subject, List.of());
    }

    /** Requests received whose method and path start with {@code prefix}, e.g. {@code "GET /schemas/ids/"}. */
    public int requests(String prefix) {
        return requests.entrySet().stream().filter(e -> e.getKey().startsWith(prefix))
                .mapToInt(e -> e.getValue().get()).sum();
    }

    public synchronized boolean isRunning() {
        return server != null;
    }

    /** Starts again on the same port, with the same schemas. */
    public synchronized void start() throws IOException {
        if (server == null) {
            startServer();
        }
    }

    /** Stops listening: connections are refused until {@link #start()}. */
    public synchronized void stop() {
        if (server != null) {
            server.stop(0);
            server = null;
        }
    }

    @Override
    public void close() {
        stop();
    }

    private int register(String subject, String schemaText) {
        String canonical = new Schema.Parser().parse(schemaText).toString();
        int id = ids.computeIfAbsent(canonical, s -> {
            int n = nextId.getAndIncrement();
            schemas.put(n, s);
            return n;
        });
        List<Integer> versions = subjects.computeIfAbsent(subject, s -> new CopyOnWriteArrayList<>());
        synchronized (versions) {
            if (!versions.contains(id)) {
                versions.add(id);
            }
        }
        return id;
    }

    private synchronized void startServer() throws IOException {
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", port);
        if (tls == null) {
            server = HttpServer.create(address, 50);
        } else {
            HttpsServer https = HttpsServer.create(address, 50);
            https.setHttpsConfigurator(new HttpsConfigurator(tls) {
                @Override
                public void configure(HttpsParameters params) {
                    SSLParameters p = tls.getDefaultSSLParameters();
                    p.setNeedClientAuth(needClientAuth);
                    params.setSSLParameters(p);
                }
            });
            server = https;
        }
        port = server.getAddress().getPort();
        server.createContext("/", this::handle);
        server.start();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getRawPath();
            requests.computeIfAbsent(method + " " + path, k -> new AtomicInteger()).incrementAndGet();
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            authorizations.add(auth);
            String required = requiredAuthorization;
            if (required != null && !required.equals(auth)) {
                reply(exchange, 401, Map.of("error_code", 40101, "message", "Unauthorized"));
                return;
            }
            String[] parts = path.split("/");
            if (method.equals("GET") && parts.length == 4 && parts[1].equals("schemas") && parts[2].equals("ids")) {
                String schema;
                try {
                    schema = schemas.get(Integer.parseInt(parts[3]));
                } catch (NumberFormatException e) {
                    schema = null;
                }
                if (schema == null) {
                    reply(exchange, 404, Map.of("error_code", 40403, "message", "Schema not found"));
                } else {
                    reply(exchange, 200, Map.of("schema", schema));
                }
                return;
            }
            if (method.equals("POST") && parts.length >= 3 && parts[1].equals("subjects")) {
                String subject = URLDecoder.decode(parts[2], StandardCharsets.UTF_8);
                JsonNode body = JSON.readTree(exchange.getRequestBody());
                String schemaText = body.path("schema").asText();
                if (parts.length == 4 && parts[3].equals("versions")) {
                    reply(exchange, 200, Map.of("id", register(subject, schemaText)));
                    return;
                }
                if (parts.length == 3) {
                    if (!subjects.containsKey(subject)) {
                        reply(exchange, 404, Map.of("error_code", 40401, "message", "Subject not found"));
                        return;
                    }
                    Integer id = ids.get(new Schema.Parser().parse(schemaText).toString());
                    if (id == null || !subjects.get(subject).contains(id)) {
                        reply(exchange, 404, Map.of("error_code", 40403, "message", "Schema not found"));
                        return;
                    }
                    Map<String, Object> found = new LinkedHashMap<>();
                    found.put("subject", subject);
                    found.put("id", id);
                    found.put("version", subjects.get(subject).indexOf(id) + 1);
                    found.put("schema", schemas.get(id));
                    reply(exchange, 200, found);
                    return;
                }
            }
            reply(exchange, 404, Map.of("error_code", 404, "message", "HTTP 404 Not Found"));
        } catch (RuntimeException e) {
            reply(exchange, 500, Map.of("error_code", 50001, "message", String.valueOf(e)));
        } finally {
            exchange.close();
        }
    }

    private static void reply(HttpExchange exchange, int status, Map<String, ?> body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/vnd.schemaregistry.v1+json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
