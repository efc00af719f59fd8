//! What a lab needs running: the reference service (unless `--target`), a throwaway PostgreSQL
//! for `--db postgres`, a throwaway Redis when the lab needs one. All of it is owned by
//! [`LabServices`] and stopped when it is dropped, in order.

use std::path::Path;

use anyhow::Context;
use perflab_plugin_host::crash::Failure;
use perflab_plugin_host::wit;
use perflab_report::Environment;
use perflab_services::ServiceError;
use perflab_services::link::{LinkSpec, SlowLink};
use perflab_services::postgres::ThrowawayPostgres;
use perflab_services::redis::ThrowawayRedis;
use perflab_services::relay::DelayRelay;
use perflab_services::service::{ServiceProcess, locate_binary};

use crate::args::{Database, LabArgs, LinkTarget};
use crate::environment;

pub struct LabServices {
    /// The service's base URL (`http://127.0.0.1:PORT`, or `--target`).
    pub base_url: String,
    /// `--link-to service`: the relay every request crosses, and the link it makes (kept to
    /// make it again in front of a restarted service).
    service_relay: Option<(DelayRelay, LinkSpec)>,
    // Field order is drop order: the service stops before the servers it uses.
    service: Option<OwnService>,
    _redis: Option<ThrowawayRedis>,
    // After the Redis inside it: a namespace lives on while a process is in it.
    _link: Option<SlowLink>,
    // After the service: its upstream calls go through it until the service has stopped.
    _upstream_relay: Option<DelayRelay>,
    postgres: Option<ThrowawayPostgres>,
    _data_dir: DataDir,
}

/// The service's data folder: a temporary one (removed at the end), or the user's `--data-dir`.
enum DataDir {
    Temporary(tempfile::TempDir),
    Kept(std::path::PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Temporary(t) => t.path(),
            DataDir::Kept(p) => p,
        }
    }
}

/// The reference service we started, and how, to start it again after a crash.
struct OwnService {
    process: ServiceProcess,
    binary: std::path::PathBuf,
    args: Vec<String>,
    log: std::path::PathBuf,
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
        let data_dir = match &args.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating --data-dir {}", dir.display()))?;
                DataDir::Kept(
                    dir.canonicalize()
                        .with_context(|| format!("resolving --data-dir {}", dir.display()))?,
                )
            }
            None => DataDir::Temporary(
                tempfile::Builder::new()
                    .prefix("perflab-data-")
                    .tempdir()
                    .context("creating the service's data folder")?,
            ),
        };
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
        let link_to = args.link_to.unwrap_or(if needs(wit::Need::Redis) {
            LinkTarget::Redis
        } else {
            LinkTarget::Upstream
        });
        let link = match &args.link {
            Some(_) if link_to == LinkTarget::Redis && !needs(wit::Need::Redis) => anyhow::bail!(
                "--link-to redis puts the lab's Redis behind a slow link, and lab {} does not use \
                 Redis (--link-to upstream slows the service's upstream calls)",
                desc.name
            ),
            Some(spec) if link_to == LinkTarget::Redis => {
                let link = SlowLink::create(spec).context("creating the slow link (--link)")?;
                eprintln!("perflab: Redis behind a slow link: {link}");
                env.link = Some(link.to_string());
                Some(link)
            }
            _ => None,
        };
        let upstream_relay = match &args.link {
            Some(spec) if link_to == LinkTarget::Upstream => {
                let listen = free_loopback_port().context("choosing a port for the upstream")?;
                let relay = shaped_relay(spec, listen, "the service's upstream")?;
                env.link = Some(relay_link_text(spec, "the service's upstream"));
                Some((relay, listen))
            }
            _ => None,
        };
        let redis = if needs(wit::Need::Redis) && own_service {
            Some(match &link {
                Some(link) => {
                    installing_if_missing(root, "redis", || ThrowawayRedis::start_behind(link))?
                }
                None => installing_if_missing(root, "redis", ThrowawayRedis::start)?,
            })
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
                if let Some((relay, listen)) = &upstream_relay {
                    service_args.extend([
                        "--upstream-listen".into(),
                        listen.to_string(),
                        "--upstream-via".into(),
                        relay.listen_addr().to_string(),
                    ]);
                }
                let log = report_dir.join("service.log");
                let process = ServiceProcess::start(&binary, &service_args, Some(&log))?;
                let url = process.base_url().to_string();
                let own = OwnService {
                    process,
                    binary,
                    args: service_args,
                    log,
                };
                (Some(own), url)
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
        let (service_relay, base_url) = match &args.link {
            Some(spec) if link_to == LinkTarget::Service => {
                let own = service
                    .as_ref()
                    .context("--link-to service needs perflab's own service, not --target")?;
                let relay = shaped_relay(spec, service_addr(&own.process)?, "the service")?;
                env.link = Some(relay_link_text(spec, "the service"));
                let url = format!("http://{}", relay.listen_addr());
                (Some((relay, spec.clone())), url)
            }
            _ => (None, base_url),
        };
        Ok(LabServices {
            base_url,
            service_relay,
            service,
            _redis: redis,
            _link: link,
            _upstream_relay: upstream_relay.map(|(relay, _)| relay),
            postgres,
            _data_dir: data_dir,
        })
    }

    /// Why `failure` cannot be staged here, if it cannot: only what we started is ours to kill.
    pub fn cannot_crash(&self, failure: Failure) -> Option<&'static str> {
        match failure {
            Failure::ServiceKilled if self.service.is_none() => {
                Some("the service is --target's, not one perflab started")
            }
            Failure::DatabaseKilled if self.postgres.is_none() => Some(
                "there is no database server of perflab's to kill (SQLite lives in the service; \
                 --db-url is someone else's)",
            ),
            _ => None,
        }
    }

    /// Kills the service with SIGKILL (nothing is started until [`restart`](Self::restart)).
    pub fn kill(&mut self, failure: Failure) -> anyhow::Result<()> {
        match failure {
            Failure::ServiceKilled => {
                self.service
                    .as_mut()
                    .context("no service of ours to crash")?
                    .process
                    .kill();
            }
            Failure::DatabaseKilled => self
                .postgres
                .as_mut()
                .context("no PostgreSQL of ours to crash")?
                .kill(),
        }
        Ok(())
    }

    /// Starts what [`kill`](Self::kill) killed again on the same data: the service on a new
    /// port (`base_url` changes; its switches are back at their defaults), or PostgreSQL with
    /// crash recovery (the service keeps running; its pools reconnect).
    pub fn restart(&mut self, failure: Failure) -> anyhow::Result<()> {
        match failure {
            Failure::ServiceKilled => {
                let own = self
                    .service
                    .as_mut()
                    .context("no service of ours to restart")?;
                own.process = ServiceProcess::start(&own.binary, &own.args, Some(&own.log))
                    .context("starting the service again after killing it")?;
                self.base_url = own.process.base_url().to_string();
                if let Some((relay, spec)) = &mut self.service_relay {
                    *relay = shaped_relay(spec, service_addr(&own.process)?, "the service")?;
                    self.base_url = format!("http://{}", relay.listen_addr());
                }
            }
            Failure::DatabaseKilled => self
                .postgres
                .as_mut()
                .context("no PostgreSQL of ours to restart")?
                .restart()
                .context("starting PostgreSQL again after killing it")?,
        }
        Ok(())
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

/// The words a report uses for a relay link.
fn relay_link_text(spec: &LinkSpec, what: &str) -> String {
    format!(
        "{what} behind a delay line: {spec} (a delaying, rate-limiting TCP relay on loopback, \
         as toxiproxy's latency and bandwidth toxics; no namespace)"
    )
}

/// A relay in front of `to` that delays (and rate-limits) every byte: the link for the
/// service's upstream and for the service itself, whose traffic crosses no veth pair that
/// `tc` could shape. Jitter and loss would need netem around the server; they are refused.
fn shaped_relay(
    spec: &LinkSpec,
    to: std::net::SocketAddr,
    what: &str,
) -> anyhow::Result<DelayRelay> {
    anyhow::ensure!(
        spec.jitter.is_zero() && spec.loss_percent == 0.0,
        "--link {spec} for {what}: only a delay and a rate apply there (a relay on loopback \
         keeps TCP's order and loses nothing); use e.g. --link delay=1ms,rate=10mbit"
    );
    let relay = DelayRelay::shaped(to, spec.delay, spec.rate_mbit)
        .with_context(|| format!("starting the delay line for {what}"))?;
    eprintln!("perflab: {}", relay_link_text(spec, what));
    Ok(relay)
}

/// A free port, chosen here so a relay knows where to forward before its server starts.
/// (Released and taken again by the server: another process taking it in between fails the
/// start with a clear error.)
fn free_loopback_port() -> std::io::Result<std::net::SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())
}

fn service_addr(process: &ServiceProcess) -> anyhow::Result<std::net::SocketAddr> {
    process.addr().with_context(|| {
        format!(
            "the service announced {:?}, not http://IP:PORT: cannot put a link in front of it",
            process.base_url()
        )
    })
}
