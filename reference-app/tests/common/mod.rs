//! Helpers shared by the service's integration tests: start the real binary, talk HTTP to it,
//! read its counters.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use perflab_services::service::ServiceProcess;
use serde_json::{Value, json};

pub struct Svc {
    pub process: ServiceProcess,
    pub http: reqwest::Client,
    /// The PostgreSQL URL it was started with (none: SQLite in its data folder).
    pub database_url: Option<String>,
    args: Vec<String>,
    data: tempfile::TempDir,
}

impl Svc {
    /// Starts the service on SQLite in a fresh folder, or on `database_url` when given.
    pub fn start(database_url: Option<&str>, redis_url: Option<&str>, extra: &[&str]) -> Svc {
        let data = tempfile::tempdir().unwrap();
        let mut args = vec!["--data-dir".to_string(), data.path().display().to_string()];
        if let Some(url) = database_url {
            args.extend(["--database-url".into(), url.into()]);
        }
        if let Some(url) = redis_url {
            args.extend(["--redis-url".into(), url.into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let process =
            ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_reference-app")), &args, None)
                .unwrap_or_else(|e| panic!("service did not start: {e}"));
        Svc {
            process,
            http: reqwest::Client::new(),
            database_url: database_url.map(str::to_string),
            args,
            data,
        }
    }

    /// SIGKILL, then the same binary again on the same data folder (a new port).
    pub fn crash_and_restart(&mut self) {
        self.kill();
        self.restart();
    }

    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// After [`kill`](Self::kill): the same binary again on the same data folder (a new port).
    pub fn restart(&mut self) {
        self.process = ServiceProcess::start(
            Path::new(env!("CARGO_BIN_EXE_reference-app")),
            &self.args,
            None,
        )
        .unwrap_or_else(|e| panic!("service did not start again: {e}"));
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.process.base_url(), path)
    }

    async fn put_settings(&self, settings: &Value) -> reqwest::Response {
        let url = self.url("/admin/settings");
        self.http.put(url).json(settings).send().await.unwrap()
    }

    pub async fn set(&self, settings: Value) {
        let r = self.put_settings(&settings).await;
        let status = r.status();
        assert!(
            status.is_success(),
            "setting {settings}: {status} {}",
            r.text().await.unwrap()
        );
    }

    pub async fn set_refused(&self, settings: Value) -> Value {
        let r = self.put_settings(&settings).await;
        assert_eq!(r.status(), 400, "{settings} should be refused");
        r.json().await.unwrap()
    }

    pub async fn get_ok(&self, path: &str) -> reqwest::Response {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r
    }

    pub async fn counters(&self) -> Counters {
        let text = self.get_ok("/metrics").await.text().await.unwrap();
        Counters::parse(&text)
    }

    pub async fn insert(&self, events: &[Value]) -> reqwest::Response {
        self.http
            .post(self.url("/insert/events"))
            .json(&json!({ "events": events }))
            .send()
            .await
            .unwrap()
    }

    pub async fn event_count(&self) -> i64 {
        self.get_ok("/insert/events")
            .await
            .json::<Value>()
            .await
            .unwrap()["count"]
            .as_i64()
            .unwrap()
    }
}

/// Prometheus text parsed into series → value; a name sums all its label sets.
pub struct Counters(HashMap<String, f64>);

impl Counters {
    pub fn parse(text: &str) -> Counters {
        Counters(
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .filter_map(|l| l.rsplit_once(' '))
                .filter_map(|(series, v)| Some((series.to_string(), v.parse().ok()?)))
                .collect(),
        )
    }

    pub fn total(&self, name: &str) -> f64 {
        self.0
            .iter()
            .filter(|(series, _)| *series == name || series.starts_with(&format!("{name}{{")))
            .map(|(_, v)| v)
            .sum()
    }

    pub fn series(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }
}

/// How much `name` grew while `f` ran.
pub async fn delta<F: std::future::Future<Output = ()>>(
    svc: &Svc,
    names: &[&str],
    f: F,
) -> Vec<f64> {
    let before = svc.counters().await;
    f.await;
    let after = svc.counters().await;
    names
        .iter()
        .map(|n| after.total(n) - before.total(n))
        .collect()
}

pub fn event(user_id: i64, i: usize) -> Value {
    json!({ "user_id": user_id, "kind": "click", "payload": format!("row {i}, \"quoted\""), "created_at": 1_700_000_000 + i as i64 })
}

pub fn events(n: usize) -> Vec<Value> {
    (0..n).map(|i| event(1 + i as i64, i)).collect()
}
