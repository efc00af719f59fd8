//! Command-line flags (each also readable from the environment).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::admin::InitialVariants;
use crate::clients::db::DbClientKind;
use crate::clients::http::HttpClientKind;
use crate::clients::redis::RedisClientKind;
use crate::codec::Codec;
use crate::insert::InsertKind;
use crate::store::StoreKind;

/// Request bodies above this size get a 413 (a 100 000-row bulk insert fits).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

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

    /// Bearer token that opens the admin API to non-loopback callers.
    #[arg(long, env = "PERFLAB_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// How many users to seed into the database for the lookup endpoints.
    #[arg(long, default_value_t = 1000)]
    pub seed_users: i64,

    #[arg(long, value_enum, default_value_t = StoreKind::GlobalMutex)]
    pub store: StoreKind,
    #[arg(long, value_enum, default_value_t = HttpClientKind::PerRequest)]
    pub http_client: HttpClientKind,
    #[arg(long, value_enum, default_value_t = RedisClientKind::PerRequest)]
    pub redis_client: RedisClientKind,
    #[arg(long, value_enum, default_value_t = DbClientKind::Pool)]
    pub db_client: DbClientKind,
    #[arg(long, value_enum, default_value_t = Codec::Json)]
    pub codec: Codec,
    #[arg(long, value_enum, default_value_t = InsertKind::PerRowAutocommit)]
    pub insert: InsertKind,

    /// Set a numeric knob at start, e.g. `--set store.work_us=50` (see GET /admin/settings).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("perflab.sqlite").display()
            )
        })
    }

    pub fn initial_variants(&self) -> InitialVariants {
        InitialVariants {
            store: self.store,
            http_client: self.http_client,
            redis_client: self.redis_client,
            db_client: self.db_client,
            codec: self.codec,
            insert: self.insert,
        }
    }
}
