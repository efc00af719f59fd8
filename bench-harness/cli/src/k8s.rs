//! `perflab distribute --k8s render`: the manifests that run one `perflab run` as a Kubernetes
//! **Indexed Job** — pod i is shard i (`JOB_COMPLETION_INDEX` → `--shard`), all waiting for
//! one `--start-at` — then a merge Job, and the reference service as the stateless tier it is.
//! Kubernetes launches the machines; perflab keeps no control plane of its own.
//!
//! What keeps a shard's load from ever being doubled: `backoffLimitPerIndex: 0` (a failed
//! index is not retried), `podReplacementPolicy: Failed` (no replacement pod while the old one
//! is still terminating), and a `podFailurePolicy` that fails the whole Job on exit code 5 (a
//! shard that reached its start too late and ran nothing: the run is short of a shard, and
//! `perflab merge` would say so anyway).
//!
//! The YAML is written by a small emitter below rather than a crate: serde_yaml is no longer
//! maintained, and manifests need only maps, lists, strings and numbers — every string is
//! written double-quoted (JSON's escaping is valid YAML), so nothing is ever misread.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::exit::Exit;

/// What the manifests are made of.
pub struct Render {
    pub shards: u32,
    pub weights: Option<String>,
    pub image: String,
    pub start_at: SystemTime,
    /// The `perflab run` arguments each shard runs.
    pub run: Vec<String>,
    pub out: PathBuf,
}

/// The name every object carries.
const NAME: &str = "perflab-run";
/// Where the shards' logs and reports go, in every pod.
const SHARDS_DIR: &str = "/shards";

fn labels() -> Value {
    json!({ "app.kubernetes.io/name": "perflab", "app.kubernetes.io/component": "load" })
}

fn volume() -> (Value, Value) {
    (
        json!([{ "name": "shards", "persistentVolumeClaim": { "claimName": "perflab-shards" } }]),
        json!([{ "name": "shards", "mountPath": SHARDS_DIR }]),
    )
}

/// The claim the shards write to and the merge reads (ReadWriteMany: the pods may be on
/// different nodes).
fn claim() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": { "name": "perflab-shards", "labels": labels() },
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": { "requests": { "storage": "1Gi" } }
        }
    })
}

/// A Job of `perflab ARGS` pods over the shared claim; `spec` adds the Job's own settings.
fn job(name: &str, image: &str, args: Value, mut spec: Value, cpu: bool) -> Value {
    let (volumes, mounts) = volume();
    let mut container = json!({
        "name": "perflab",
        "image": image,
        "command": ["perflab"],
        "args": args,
        "volumeMounts": mounts
    });
    if cpu {
        container["resources"] = json!({ "requests": { "cpu": "1" } });
    }
    spec["template"] = json!({
        "metadata": { "labels": labels() },
        "spec": {
            "restartPolicy": "Never",
            "containers": [container],
            "volumes": volumes
        }
    });
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name, "labels": labels() },
        "spec": spec
    })
}

fn shards_job(r: &Render, start_at: &str) -> Value {
    let n = r.shards;
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(r.run.iter().cloned());
    // Kubernetes expands $(VAR) in args from the container's environment; the Job controller
    // sets JOB_COMPLETION_INDEX in every pod of an Indexed Job.
    args.extend([
        "--shard".into(),
        format!("$(JOB_COMPLETION_INDEX)/{n}"),
        "--start-at".into(),
        start_at.to_string(),
        "--hlog".into(),
        format!("{SHARDS_DIR}/shard-$(JOB_COMPLETION_INDEX).hlog"),
        "--out".into(),
        format!("{SHARDS_DIR}/shard-$(JOB_COMPLETION_INDEX)"),
    ]);
    if let Some(w) = &r.weights {
        args.extend(["--shard-weights".into(), w.clone()]);
    }
    let spec = json!({
        "completionMode": "Indexed",
        "completions": n,
        "parallelism": n,
        // A failed shard is never run again: a second attempt would double its load.
        "backoffLimitPerIndex": 0,
        // No replacement pod while the old one still terminates (it may still be sending).
        "podReplacementPolicy": "Failed",
        "podFailurePolicy": {
            "rules": [{
                "action": "FailJob",
                "onExitCodes": { "containerName": "perflab", "operator": "In", "values": [5] }
            }]
        }
    });
    job(NAME, &r.image, json!(args), spec, true)
}

fn merge_job(r: &Render) -> Value {
    let args = json!(["merge", SHARDS_DIR, "--out", format!("{SHARDS_DIR}/merged")]);
    job(
        "perflab-merge",
        &r.image,
        args,
        json!({ "backoffLimit": 0 }),
        false,
    )
}

/// The reference service is stateless: any number of replicas behind one Service, sharing
/// one PostgreSQL and one Redis (their URLs in a Secret the user creates).
fn service_tier(r: &Render) -> Vec<Value> {
    let labels = json!({ "app.kubernetes.io/name": "perflab", "app.kubernetes.io/component": "reference-service" });
    vec![
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "reference-service", "labels": labels },
            "spec": {
                "replicas": 3,
                "selector": { "matchLabels": labels },
                "template": {
                    "metadata": { "labels": labels },
                    "spec": {
                        "containers": [{
                            "name": "reference-app",
                            "image": r.image,
                            "command": ["reference-app"],
                            "args": ["--listen", "0.0.0.0:8080"],
                            "ports": [{ "containerPort": 8080, "name": "http" }],
                            "env": [
                                { "name": "DATABASE_URL", "valueFrom": { "secretKeyRef": { "name": "reference-service", "key": "database-url" } } },
                                { "name": "REDIS_URL", "valueFrom": { "secretKeyRef": { "name": "reference-service", "key": "redis-url" } } }
                            ],
                            "readinessProbe": { "httpGet": { "path": "/health/ready", "port": "http" } },
                            "livenessProbe": { "httpGet": { "path": "/health/live", "port": "http" } }
                        }]
                    }
                }
            }
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": "reference-service", "labels": labels },
            "spec": {
                "selector": labels,
                "ports": [{ "port": 80, "targetPort": "http", "name": "http" }]
            }
        }),
    ]
}

/// One YAML document from a JSON value: block maps and lists, every string double-quoted.
fn yaml(value: &Value) -> String {
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => serde_json::to_string(s).expect("a string serializes"),
            other => other.to_string(),
        }
    }
    fn is_block(v: &Value) -> bool {
        matches!(v, Value::Object(m) if !m.is_empty())
            || matches!(v, Value::Array(a) if !a.is_empty())
    }
    fn emit(out: &mut String, v: &Value, indent: usize) {
        let pad = " ".repeat(indent);
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    // Plain keys as Kubernetes writes them; anything else quoted.
                    let plain = k.starts_with(|c: char| c.is_ascii_alphabetic())
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
                    let key = if plain {
                        k.clone()
                    } else {
                        scalar(&Value::String(k.clone()))
                    };
                    if is_block(child) {
                        let _ = writeln!(out, "{pad}{key}:");
                        emit(out, child, indent + 2);
                    } else {
                        let empty = match child {
                            Value::Object(_) => "{}".to_string(),
                            Value::Array(_) => "[]".to_string(),
                            c => scalar(c),
                        };
                        let _ = writeln!(out, "{pad}{key}: {empty}");
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    if is_block(item) {
                        // The item's first line after "- ", the rest indented under it.
                        let mut inner = String::new();
                        emit(&mut inner, item, indent + 2);
                        let inner = inner.trim_start();
                        let _ = write!(out, "{pad}- {inner}");
                    } else {
                        let _ = writeln!(out, "{pad}- {}", scalar(item));
                    }
                }
            }
            other => {
                let _ = writeln!(out, "{pad}{}", scalar(other));
            }
        }
    }
    let mut out = String::new();
    emit(&mut out, value, 0);
    out
}

fn documents(values: &[Value]) -> String {
    let mut out = String::from("# Written by `perflab distribute --k8s render`.\n");
    for v in values {
        out.push_str("---\n");
        out.push_str(&yaml(v));
    }
    out
}

/// Writes the manifests and a README with the commands to run them.
pub fn render(r: &Render) -> anyhow::Result<Exit> {
    // (`distribute` has refused the flags each shard gets from the manifests.)
    if !r.run.iter().any(|a| a == "--rounds") {
        bail!(
            "a sharded run needs --rounds N in the run's arguments: every shard runs the same rounds"
        );
    }
    if let Some(w) = &r.weights {
        perflab_load::shard::Shard::parse(&format!("0/{}", r.shards), Some(w))?;
    }
    let start_at = humantime::format_rfc3339_seconds(r.start_at).to_string();
    std::fs::create_dir_all(&r.out).with_context(|| format!("creating {}", r.out.display()))?;
    let files: [(&str, String); 3] = [
        (
            "perflab-shards.yaml",
            documents(&[claim(), shards_job(r, &start_at)]),
        ),
        ("perflab-merge.yaml", documents(&[merge_job(r)])),
        ("reference-service.yaml", documents(&service_tier(r))),
    ];
    for (name, text) in &files {
        let path = r.out.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let readme = format!(
        "# perflab on Kubernetes: {n} shards of one run\n\n\
         The Job starts {n} pods; pod i runs shard i/{n} of the schedule and waits for {start_at}\n\
         (apply it well before then: a shard that reaches its start more than --start-limit late\n\
         exits 5 and fails the Job). The shards write to the `perflab-shards` claim.\n\n\
         ```sh\n\
         kubectl apply -f {dir}/perflab-shards.yaml\n\
         kubectl wait --for=condition=complete --timeout=1h job/{NAME}\n\
         kubectl apply -f {dir}/perflab-merge.yaml && kubectl logs -f job/perflab-merge\n\
         ```\n\n\
         The merged report is in the claim's `merged/` folder. `reference-service.yaml` runs the\n\
         reference service as N replicas behind one Service (create the `reference-service`\n\
         Secret with `database-url` and `redis-url` first).\n",
        n = r.shards,
        dir = r.out.display(),
    );
    std::fs::write(r.out.join("README.md"), readme)?;
    for (name, _) in &files {
        println!("{}", Path::new(&r.out).join(name).display());
    }
    println!("{}", r.out.join("README.md").display());
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emitter_writes_nested_maps_and_lists_as_yaml() {
        let v = json!({"a": {"b": [1, {"c": "x: y", "d": []}], "e": {}}, "f": "-", "0k": 1});
        assert_eq!(
            yaml(&v),
            // serde_json's maps are sorted by key (as `kubectl` does not mind).
            "\"0k\": 1\na:\n  b:\n    - 1\n    - c: \"x: y\"\n      d: []\n  e: {}\nf: \"-\"\n"
        );
    }
}
