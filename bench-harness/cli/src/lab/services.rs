//! What a lab needs running: the reference service (unless `--target`), a throwaway PostgreSQL
//! for `--db postgres`, a throwaway Redis when the lab needs one. All of it is owned by
//! [`LabServices`] and stopped when it is dropped, in order.

use std::path::Path;

use anyhow::Context;
use perflab_plugin_host::wit;
use perflab_report::Environment;
use perflab_services::ServiceError;
use perflab_services::postgres::ThrowawayPostgres;
use perflab_services::redis::ThrowawayRedis;
use perflab_services::service::{ServiceProcess, locate_binary};

use crate::args::{Database, LabArgs};
use crate::environment;

pub struct LabServices {
    /// The service's base URL (`http://127.0.0.1:PORT`, or `--target`).
    pub base_url: String,
    // Field order is drop order: the service stops before the servers it uses.
    _service: Option<ServiceProcess>,
    _redis: Option<ThrowawayRedis>,
    _postgres: Option<ThrowawayPostgres>,
    _data_dir: tempfile::TempDir,
}

impl LabServices {
    /// Starts what `desc` needs; writes the service's log to `report_dir/service.log`.
    pub fn start(
        desc: &wit::Description,
        args: &LabArgs,
        root: &Path,
        report_dir: &Path,
        env: &mut Environment,
    ) -> anyhow::Result<LabServices> {
        let needs = |n: wit::Need| desc.needs.contains(&n);
        let data_dir = tempfile::Builder::new()
            .prefix("perflab-data-")
            .tempdir()
            .context("creating the service's data folder")?;
        let own_service = args.target.is_none();
        let postgres = if args.db == Database::Postgres && args.db_url.is_none() && own_service {
            eprintln!("perflab: starting a throwaway PostgreSQL cluster");
            Some(installing_if_missing(
                root,
                "postgres",
                ThrowawayPostgres::start,
            )?)
        } else {
            None
        };
        let redis = if needs(wit::Need::Redis) && own_service {
            Some(installing_if_missing(root, "redis", ThrowawayRedis::start)?)
        } else {
            None
        };
        let (service, base_url) = match &args.target {
            Some(url) => (None, url.trim_end_matches('/').to_string()),
            None => {
                let binary = locate_binary().context("cannot find the reference-app binary: build it with `cargo build --release -p reference-app` (or `just lab`, which does)")?;
                env.service_version = service_version(&binary);
                let mut service_args = vec![
                    "--data-dir".to_string(),
                    data_dir.path().display().to_string(),
                ];
                let db_url = args
                    .db_url
                    .clone()
                    .or_else(|| postgres.as_ref().map(|p| p.url()));
                if let Some(url) = db_url {
                    service_args.extend(["--database-url".into(), url]);
                }
                if let Some(r) = &redis {
                    service_args.extend(["--redis-url".into(), r.url()]);
                }
                let svc = ServiceProcess::start(
                    &binary,
                    &service_args,
                    Some(&report_dir.join("service.log")),
                )?;
                let url = svc.base_url().to_string();
                (Some(svc), url)
            }
        };
        if needs(wit::Need::FsyncProbe) {
            // Probe the disk the database writes to.
            let probe_dir = if postgres.is_some() {
                std::env::temp_dir()
            } else {
                data_dir.path().to_path_buf()
            };
            env.fsync_ms = environment::fsync_probe(&probe_dir, environment::FSYNC_SAMPLES).ok();
            if let Some(f) = &env.fsync_ms {
                eprintln!(
                    "perflab: fsync on this disk: median {:.2} ms (p90 {:.2} ms) — write labs are dominated by it",
                    f.median, f.p90
                );
            }
        }
        Ok(LabServices {
            base_url,
            _service: service,
            _redis: redis,
            _postgres: postgres,
            _data_dir: data_dir,
        })
    }
}

/// Starts a throwaway server; when its program is not installed, installs it the way the tests
/// do (`scripts/setup PART`, which says what it installs, or refuses with the command to run)
/// and tries once more.
fn installing_if_missing<T>(
    root: &Path,
    part: &str,
    start: impl Fn() -> Result<T, ServiceError>,
) -> anyhow::Result<T> {
    match start() {
        Err(ServiceError::NotInstalled { program, hint }) => {
            let setup = root.join("scripts").join("setup");
            if !setup.is_file() {
                anyhow::bail!("cannot find `{program}`: {hint}");
            }
            eprintln!(
                "perflab: `{program}` is not installed; installing it with scripts/setup {part}"
            );
            let status = std::process::Command::new(&setup)
                .arg(part)
                .status()
                .with_context(|| format!("running {}", setup.display()))?;
            if !status.success() {
                anyhow::bail!(
                    "`{program}` is not installed and scripts/setup {part} could not install it ({status}): {hint}"
                );
            }
            Ok(start()?)
        }
        other => Ok(other?),
    }
}

fn service_version(binary: &Path) -> Option<String> {
    let out = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
