//! Command-line flags (each also readable from the environment). The dimension flags
//! (`--store`, `--codec` …) come from [`crate::dimensions`], one per dimension.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{ArgMatches, Args, FromArgMatches, Parser};

use crate::dimensions;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "reference-app",
    version,
    about = "perflab's reference backend: naive and optimized implementations side by side, switchable at run time"
)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "PERFLAB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder for the embedded SQLite database.
    #[arg(long, env = "PERFLAB_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// sqlite://PATH or postgres://USER@HOST:PORT/DB. Default: SQLite in --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Size of the sqlx connection pool.
    #[arg(long, env = "PERFLAB_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub pool_size: u32,

    /// SQLite `synchronous` pragma: full (fsync every commit), normal, or off.
    #[arg(long, default_value = "full")]
    pub sqlite_synchronous: String,

    /// redis://HOST:PORT. Without it the /redis endpoints answer 503.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Bearer token that opens the admin API to non-loopback callers. Prefer the environment
    /// variable or --admin-token-file: a flag's value is visible to every user in `ps`.
    #[arg(long, env = "PERFLAB_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// A file holding the admin token (its first line).
    #[arg(long, env = "PERFLAB_ADMIN_TOKEN_FILE", conflicts_with = "admin_token")]
    pub admin_token_file: Option<PathBuf>,

    /// A client must send a request's head within this (it also closes idle keep-alive
    /// connections): a client that connects and sends nothing, or a byte a second, is dropped.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub header_timeout: std::time::Duration,

    /// A client must send a request's body within this.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub body_timeout: std::time::Duration,

    /// Open connections at most; more wait until one closes (a warning is logged).
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,

    /// On SIGTERM, in-flight requests get this long to finish; connections still open then are
    /// closed.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub drain_timeout: std::time::Duration,

    /// Bytes (keys, values and bookkeeping) each variant's in-memory store may hold; PUTs
    /// beyond it get 507.
    #[arg(long, default_value_t = 64 << 20)]
    pub store_max_bytes: usize,

    /// Where the in-process upstream HTTPS service listens (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub upstream_listen: std::net::SocketAddr,

    /// Where the service's HTTP clients reach the upstream, when not directly: a relay in
    /// front of `--upstream-listen` (perflab's `--link` puts a delay line there). Must be a
    /// 127.0.0.1 address: the upstream's certificate names 127.0.0.1 and localhost.
    #[arg(long)]
    pub upstream_via: Option<std::net::SocketAddr>,

    /// How many users to seed into the database for the lookup endpoints.
    #[arg(long, default_value_t = 1000)]
    pub seed_users: i64,

    #[command(flatten)]
    pub dimensions: DimensionFlags,

    /// Set a numeric knob at start, e.g. `--set store.work_us=50` (see GET /admin/settings).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
}

impl Config {
    /// The admin token from `--admin-token`, its environment variable, or the token file.
    pub fn admin_token(&self) -> anyhow::Result<Option<String>> {
        if let Some(t) = &self.admin_token {
            return Ok(Some(t.clone()));
        }
        let Some(path) = &self.admin_token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--admin-token-file {}: {e}", path.display()))?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        anyhow::ensure!(
            !token.is_empty(),
            "--admin-token-file {}: the file is empty",
            path.display()
        );
        Ok(Some(token))
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("perflab.sqlite").display()
            )
        })
    }
}

/// One `--<dimension> OPTION` flag per dimension of the registry, with its options as the
/// possible values and its default. Hand-written `Args` because the flags are data, not
/// fields: the registry decides them.
#[derive(Debug, Clone, Default)]
pub struct DimensionFlags {
    /// Dimension name → option, for each dimension whose flag (or variable) was given.
    pub chosen: BTreeMap<&'static str, String>,
}

impl FromArgMatches for DimensionFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = DimensionFlags::default();
        flags.update_from_arg_matches(m)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        for spec in dimensions::specs() {
            // Only what was asked for: a dimension's default needs no applying, and a default
            // that belongs to one backend (durability's `rollback-full` is SQLite's) must not
            // stop the service from starting on the other.
            if m.value_source(spec.name) == Some(clap::parser::ValueSource::DefaultValue) {
                continue;
            }
            if let Some(v) = m.get_one::<String>(spec.name) {
                self.chosen.insert(spec.name, v.clone());
            }
        }
        Ok(())
    }
}

impl Args for DimensionFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for spec in dimensions::specs() {
            let values: Vec<PossibleValue> = spec
                .options
                .iter()
                .map(|o| PossibleValue::new(o.name).help(o.about))
                .collect();
            cmd = cmd.arg(
                clap::Arg::new(spec.name)
                    .long(spec.name)
                    .value_name("OPTION")
                    .help(format!("Start with this {} option", spec.name))
                    .value_parser(values)
                    .default_value(spec.default),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dimension_is_a_flag_with_its_default() {
        let c = Config::parse_from(["reference-app", "--store", "sharded"]);
        assert_eq!(c.dimensions.chosen["store"], "sharded");
        assert_eq!(c.dimensions.chosen.len(), 1, "defaults are not re-applied");
        let help = <Config as clap::CommandFactory>::command()
            .render_help()
            .to_string();
        for spec in dimensions::specs() {
            assert!(help.contains(&format!("--{}", spec.name)), "{help}");
        }
        assert!(Config::try_parse_from(["reference-app", "--codec", "yaml"]).is_err());
    }
}
