//! Container context from a cgroup path: which runtime, which container, which pod.
//! Recognises docker, containerd (cri-containerd), cri-o, podman/libpod and kubepods
//! layouts, under both the systemd and cgroupfs drivers.

use serde::{Deserialize, Serialize};

/// A container a process runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// "docker", "containerd", "cri-o", "podman".
    pub runtime: String,
    /// The 64-hex-digit container id.
    pub id: String,
    /// Kubernetes pod UID, when under kubepods.
    pub pod_uid: Option<String>,
}

impl Container {
    /// The first 12 digits of the id, as `docker ps` shows it.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Finds the container in a cgroup v2 path, e.g.
/// `/system.slice/docker-<id>.scope`, `/docker/<id>`,
/// `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`,
/// `/kubepods/besteffort/pod<uid>/<id>`, `/machine.slice/libpod-<id>.scope`,
/// `/crio-<id>.scope`.
pub fn from_cgroup(path: &str) -> Option<Container> {
    let mut pod_uid = None;
    let mut found: Option<(String, String)> = None;
    let mut kube = false;
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        if comp.starts_with("kubepods") {
            kube = true;
        }
        // Pod: "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid_with_underscores>.slice".
        if let Some(i) = comp.rfind("pod") {
            let rest = comp[i + 3..].trim_end_matches(".slice");
            if rest.len() == 36
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_')
            {
                pod_uid = Some(rest.replace('_', "-"));
                continue;
            }
        }
        let c = comp.trim_end_matches(".scope");
        for (prefix, runtime) in [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
            ("libpod-", "podman"),
            ("containerd-", "containerd"),
        ] {
            if let Some(id) = c.strip_prefix(prefix) {
                if is_id(id) {
                    found = Some((runtime.into(), id.into()));
                }
            }
        }
        if found.is_none() && is_id(c) {
            // cgroupfs driver: /docker/<id>, /kubepods/.../<id>, /libpod_parent/libpod-<id>
            let runtime = if path.contains("/docker/") {
                "docker"
            } else if kube {
                "containerd"
            } else {
                "unknown"
            };
            found = Some((runtime.into(), c.into()));
        }
    }
    found.map(|(runtime, id)| Container {
        runtime,
        id,
        pod_uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f9e2a1b3c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";

    #[test]
    fn layouts() {
        let c = from_cgroup(&format!("/system.slice/docker-{ID}.scope")).expect("docker systemd");
        assert_eq!(
            (c.runtime.as_str(), c.id.as_str(), c.pod_uid.as_deref()),
            ("docker", ID, None)
        );
        assert_eq!(c.short_id(), "4f9e2a1b3c5d");
        assert_eq!(
            from_cgroup(&format!("/docker/{ID}"))
                .expect("cgroupfs")
                .runtime,
            "docker"
        );
        let k = from_cgroup(&format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7081_92a3_b4c5d6e7f809.slice/cri-containerd-{ID}.scope"
        ))
        .expect("k8s");
        assert_eq!(k.runtime, "containerd");
        assert_eq!(
            k.pod_uid.as_deref(),
            Some("1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809")
        );
        let k2 = from_cgroup(&format!(
            "/kubepods/besteffort/pod1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809/{ID}"
        ))
        .expect("k8s fs");
        assert_eq!(
            k2.pod_uid.as_deref(),
            Some("1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809")
        );
        assert_eq!(
            from_cgroup(&format!("/machine.slice/libpod-{ID}.scope"))
                .expect("podman")
                .runtime,
            "podman"
        );
        assert_eq!(
            from_cgroup(&format!("/kubepods.slice/crio-{ID}.scope"))
                .expect("crio")
                .runtime,
            "cri-o"
        );
        assert_eq!(
            from_cgroup("/user.slice/user-1000.slice/session-3.scope"),
            None
        );
        assert_eq!(
            from_cgroup("/system.slice/docker-abc.scope"),
            None,
            "not a full id"
        );
        assert_eq!(from_cgroup(""), None);
    }
}
