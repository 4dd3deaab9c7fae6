package io.cmtstream.registry;

import java.io.Serializable;
import java.time.Duration;
import java.util.Objects;

/**
 * How the job reaches its schema registry: the base URL, whether it registers its output schemas, how long unknown
 * ids are remembered, timeouts and backoff, and where the credentials are. Credentials are named by file (a mounted
 * Kubernetes Secret), never held here, and read when a request needs them, so a rotated Secret is picked up.
 * Immutable and serializable (shipped with the job graph); built with {@link #builder}.
 */
public final class RegistrySettings implements Serializable {
    private static final long serialVersionUID = 1L;

    public final String url;
    public final boolean autoRegister;
    public final long unknownIdTtlMillis;
    public final long requestTimeoutMillis;
    public final long maxBackoffMillis;
    /** A file holding {@code user:password} for HTTP basic auth, or null. */
    public final String basicAuthUserInfoFile;
    /** A file holding a bearer token, or null. */
    public final String bearerTokenFile;
    /** PKCS12 or JKS key store with the client certificate (mTLS), or null. */
    public final String keyStore;
    public final String keyStorePasswordFile;
    /** PKCS12 or JKS trust store for the registry's certificate, or null for the JVM's default. */
    public final String trustStore;
    public final String trustStorePasswordFile;

    private RegistrySettings(Builder b) {
        this.url = Objects.requireNonNull(b.url, "url").replaceAll("/+$", "");
        this.autoRegister = b.autoRegister;
        this.unknownIdTtlMillis = b.unknownIdTtl.toMillis();
        this.requestTimeoutMillis = b.requestTimeout.toMillis();
        this.maxBackoffMillis = b.maxBackoff.toMillis();
        this.basicAuthUserInfoFile = b.basicAuthUserInfoFile;
        this.bearerTokenFile = b.bearerTokenFile;
        this.keyStore = b.keyStore;
        this.keyStorePasswordFile = b.keyStorePasswordFile;
        this.trustStore = b.trustStore;
        this.trustStorePasswordFile = b.trustStorePasswordFile;
        if (basicAuthUserInfoFile != null && bearerTokenFile != null) {
            throw new IllegalArgumentException("registry basic auth and bearer token are both set; choose one");
        }
    }

    public static Builder builder(String url) {
        return new Builder(url);
    }

    /** Builder of {@link RegistrySettings}; every setting but the URL has a default. */
    public static final class Builder {
        private final String url;
        private boolean autoRegister = true;
        private Duration unknownIdTtl = Duration.ofMinutes(5);
        private Duration requestTimeout = Duration.ofSeconds(10);
        private Duration maxBackoff = Duration.ofSeconds(30);
        private String basicAuthUserInfoFile;
        private String bearerTokenFile;
        private String keyStore;
        private String keyStorePasswordFile;
        private String trustStore;
        private String trustStorePasswordFile;

        private Builder(String url) {
            this.url = url;
        }

        public Builder autoRegister(boolean v) {
            autoRegister = v;
            return this;
        }

        public Builder unknownIdTtl(Duration v) {
            unknownIdTtl = v;
            return this;
        }

        public Builder requestTimeout(Duration v) {
            requestTimeout = v;
            return this;
        }

        public Builder maxBackoff(Duration v) {
            maxBackoff = v;
            return this;
        }

        public Builder basicAuthUserInfoFile(String file) {
            basicAuthUserInfoFile = file;
            return this;
        }

        public Builder bearerTokenFile(String file) {
            bearerTokenFile = file;
            return this;
        }

        public Builder keyStore(String file, String passwordFile) {
            keyStore = file;
            keyStorePasswordFile = passwordFile;
            return this;
        }

        public Builder trustStore(String file, String passwordFile) {
            trustStore = file;
            trustStorePasswordFile = passwordFile;
            return this;
        }

        public RegistrySettings build() {
            return new RegistrySettings(this);
        }
    }
}
