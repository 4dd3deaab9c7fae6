package io.cmtstream.registry;

/**
 * The schema registry could not answer (unreachable, timed out, a server error, credentials refused or unreadable):
 * a state of the registry, not of the record, so whoever meets it waits and retries ({@link RegistryRetry}) and
 * never dead-letters the record for it.
 */
public class RegistryUnavailableException extends RuntimeException {
    public RegistryUnavailableException(String message) {
        super(message);
    }

    public RegistryUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
