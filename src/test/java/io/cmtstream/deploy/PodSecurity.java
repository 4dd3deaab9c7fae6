package io.cmtstream.deploy;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The checks of the Kubernetes Pod Security Standards' "restricted" profile (which includes "baseline") that a
 * pod spec can fail, as the Pod Security admission controller applies them (policy version latest). Namespaces
 * labelled {@code pod-security.kubernetes.io/enforce: restricted} reject a pod that fails any of them.
 */
final class PodSecurity {
    private static final Set<String> RESTRICTED_VOLUME_TYPES = Set.of("configMap", "csi", "downwardAPI",
            "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret");
    private static final Set<String> SAFE_SYSCTLS = Set.of("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
            "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
            "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes");

    private PodSecurity() {}

    /** What makes {@code pod} (a PodSpec) fail the restricted profile; empty when it passes. */
    static List<String> restrictedErrors(JsonNode pod, String where) {
        List<String> errors = new ArrayList<>();
        for (String host : List.of("hostNetwork", "hostPID", "hostIPC")) {
            if (pod.path(host).asBoolean(false)) {
                errors.add(where + ": " + host);
            }
        }
        pod.path("volumes").forEach(v -> v.fieldNames().forEachRemaining(field -> {
            if (!field.equals("name") && !RESTRICTED_VOLUME_TYPES.contains(field)) {
                errors.add(where + ": volume " + v.path("name").asText() + " of type " + field);
            }
        }));
        JsonNode podContext = pod.path("securityContext");
        podContext.path("sysctls").forEach(s -> {
            if (!SAFE_SYSCTLS.contains(s.path("name").asText())) {
                errors.add(where + ": unsafe sysctl " + s.path("name").asText());
            }
        });
        if (podContext.path("runAsUser").asInt(-1) == 0) {
            errors.add(where + ": pod runAsUser 0");
        }
        errors.addAll(sharedContextErrors(podContext, where + " pod"));
        boolean podNonRoot = podContext.path("runAsNonRoot").asBoolean(false);
        boolean podSeccomp = isRestrictedSeccomp(podContext.path("seccompProfile"));

        List<JsonNode> containers = new ArrayList<>();
        for (String list : List.of("initContainers", "containers", "ephemeralContainers")) {
            pod.path(list).forEach(containers::add);
        }
        if (containers.isEmpty()) {
            errors.add(where + ": no containers to check");
        }
        for (JsonNode c : containers) {
            String at = where + " container " + c.path("name").asText();
            JsonNode context = c.path("securityContext");
            if (context.path("privileged").asBoolean(false)) {
                errors.add(at + ": privileged");
            }
            if (!context.path("allowPrivilegeEscalation").isBoolean()
                    || context.path("allowPrivilegeEscalation").asBoolean()) {
                errors.add(at + ": allowPrivilegeEscalation must be false");
            }
            if (!(context.path("runAsNonRoot").asBoolean(false)
                    || (podNonRoot && !context.path("runAsNonRoot").isBoolean()))) {
                errors.add(at + ": runAsNonRoot must be true (pod or container)");
            }
            if (context.path("runAsUser").asInt(-1) == 0) {
                errors.add(at + ": runAsUser 0");
            }
            JsonNode seccomp = context.path("seccompProfile");
            if (!(isRestrictedSeccomp(seccomp) || (podSeccomp && seccomp.isMissingNode()))) {
                errors.add(at + ": seccompProfile must be RuntimeDefault or Localhost (pod or container)");
            }
            List<String> drop = new ArrayList<>();
            context.path("capabilities").path("drop").forEach(d -> drop.add(d.asText()));
            if (!drop.contains("ALL")) {
                errors.add(at + ": capabilities must drop ALL");
            }
            context.path("capabilities").path("add").forEach(a -> {
                if (!a.asText().equals("NET_BIND_SERVICE")) {
                    errors.add(at + ": adds capability " + a.asText());
                }
            });
            c.path("ports").forEach(p -> {
                if (p.path("hostPort").asInt(0) != 0) {
                    errors.add(at + ": hostPort " + p.path("hostPort").asInt());
                }
            });
            if (!context.path("procMount").asText("Default").equals("Default")) {
                errors.add(at + ": procMount " + context.path("procMount").asText());
            }
            errors.addAll(sharedContextErrors(context, at));
        }
        return errors;
    }

    private static List<String> sharedContextErrors(JsonNode context, String at) {
        List<String> errors = new ArrayList<>();
        if ("Unconfined".equals(context.path("seccompProfile").path("type").asText())) {
            errors.add(at + ": seccompProfile Unconfined");
        }
        if ("Unconfined".equals(context.path("appArmorProfile").path("type").asText())) {
            errors.add(at + ": appArmorProfile Unconfined");
        }
        JsonNode seLinux = context.path("seLinuxOptions");
        if (seLinux.has("user") || seLinux.has("role")) {
            errors.add(at + ": seLinuxOptions user or role set");
        }
        String type = seLinux.path("type").asText("");
        if (!Set.of("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t").contains(type)) {
            errors.add(at + ": seLinuxOptions type " + type);
        }
        return errors;
    }

    private static boolean isRestrictedSeccomp(JsonNode profile) {
        String type = profile.path("type").asText("");
        return type.equals("RuntimeDefault") || type.equals("Localhost");
    }
}
