//! Dimension `redis-client`: talking to Redis.
//!
//! Naive: open a new connection for every request (TCP connect + HELLO/handshake). Optimized:
//! one multiplexed `ConnectionManager` shared by all requests — commands from concurrent
//! requests are pipelined over one socket, and it reconnects by itself.
//! Watch `redis_connections_opened_total`.

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::dimension;
use crate::error::ApiError;
use crate::metric_names as names;

dimension! {
    pub enum RedisClientKind as "redis-client", default PerRequest {
        /// Naive.
        PerRequest = "a new Redis connection per request",
        /// Optimized.
        Multiplexed = "one multiplexed ConnectionManager shared by every request",
    }
}

pub struct Redis {
    client: redis::Client,
    shared: ConnectionManager,
}

impl Redis {
    pub async fn connect(url: &str) -> anyhow::Result<Redis> {
        let client =
            redis::Client::open(url).map_err(|e| anyhow::anyhow!("bad Redis URL {url:?}: {e}"))?;
        let shared = ConnectionManager::new(client.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to Redis at {url}: {e}"))?;
        metrics::counter!(names::REDIS_CONNECTIONS_OPENED).increment(1);
        Ok(Redis { client, shared })
    }

    /// The shared multiplexed connection (cheap to clone), for dimensions that are not about
    /// the Redis client itself.
    pub fn shared(&self) -> ConnectionManager {
        self.shared.clone()
    }

    async fn connection(
        &self,
        kind: RedisClientKind,
    ) -> Result<ConnectionManagerOrOwned, ApiError> {
        Ok(match kind {
            RedisClientKind::PerRequest => {
                let conn = self
                    .client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| ApiError::dependency("connecting to Redis", e))?;
                metrics::counter!(names::REDIS_CONNECTIONS_OPENED).increment(1);
                ConnectionManagerOrOwned::Owned(conn)
            }
            // Cloning the manager is cheap: every clone shares the one socket.
            RedisClientKind::Multiplexed => ConnectionManagerOrOwned::Shared(self.shared.clone()),
        })
    }

    pub async fn get(&self, kind: RedisClientKind, key: &str) -> Result<Option<String>, ApiError> {
        metrics::counter!(names::REDIS_COMMANDS).increment(1);
        let result = match self.connection(kind).await? {
            ConnectionManagerOrOwned::Owned(mut c) => c.get(key).await,
            ConnectionManagerOrOwned::Shared(mut c) => c.get(key).await,
        };
        result.map_err(|e| ApiError::dependency("Redis GET", e))
    }

    pub async fn set(&self, kind: RedisClientKind, key: &str, value: &str) -> Result<(), ApiError> {
        metrics::counter!(names::REDIS_COMMANDS).increment(1);
        let result: redis::RedisResult<()> = match self.connection(kind).await? {
            ConnectionManagerOrOwned::Owned(mut c) => c.set(key, value).await,
            ConnectionManagerOrOwned::Shared(mut c) => c.set(key, value).await,
        };
        result.map_err(|e| ApiError::dependency("Redis SET", e))
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        let mut conn = self.shared.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
    }
}

enum ConnectionManagerOrOwned {
    Owned(redis::aio::MultiplexedConnection),
    Shared(ConnectionManager),
}
