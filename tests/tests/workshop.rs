//! Workshop mode end to end: the real `perflab workshop serve` on a fresh data folder, a real
//! quick lab run sent with `--join`, two more students' submissions, the class page seen live
//! in headless Chromium, and the safety list — wrong code, missing or wrong teacher token,
//! oversize and malformed bodies, a name with HTML in it, a closed lab, a retry, a restart
//! between submissions (nothing lost), and a report kept in the outbox while the server is away.
//! The last run is watched on the projector view in Chromium as it runs, to its verdict.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{perflab, root};

/// A running workshop server; stopped (SIGTERM, then killed) when dropped.
struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/w/CODE`
    url: String,
    token: String,
    addr: String,
}

impl Server {
    fn start(data: &Path, listen: &str) -> Server {
        let mut child = perflab()
            .args(["workshop", "serve", "--listen", listen, "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut token) = (None, None);
        while url.is_none() || token.is_none() {
            let line = lines.next().expect("the server printed its URL").unwrap();
            if let Some(u) = line.trim().strip_prefix("class page:") {
                url = Some(u.trim().to_string());
            }
            if let Some(t) = line.trim().strip_prefix("teacher token:") {
                token = Some(t.split_whitespace().next().unwrap().to_string());
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let url = url.unwrap();
        let addr = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        Server {
            child,
            url,
            token: token.unwrap(),
            addr,
        }
    }

    fn code(&self) -> &str {
        self.url.rsplit('/').next().unwrap()
    }

    /// SIGTERM, and the server must be gone within 10 s with exit 0.
    fn stop(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the server stopped with {status}");
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the server did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn http(&self, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> (u16, String) {
        http(&self.addr, method, path, auth, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close` (a dozen lines instead of a client crate).
fn http(addr: &str, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = auth
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before it has read an oversize body: a failed write is fine.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn submission(
    client_id: &str,
    student: &str,
    prediction: &str,
    report: &serde_json::Value,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "client_id": client_id,
        "student": student,
        "prediction": prediction,
        "report": report,
    }))
    .unwrap()
}

/// A batch of a run in progress, as perflab streams it to the projector view.
fn live_batch(run: &str, events: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "run": run,
        "student": "Eve",
        "lab": "lock-contention",
        "variants": ["global-mutex", "sharded"],
        "events": events,
    }))
    .unwrap()
}

/// A quick lab run sent with `--join` (as a student runs it); returns its report.
fn run_and_join(url: &str, name: &str, prediction: &str, home: &Path, out: &Path) -> String {
    let run = perflab()
        .env("PERFLAB_HOME", home)
        .args(["lab", "lock-contention", "--quick", "--no-prompt", "-q"])
        .args([
            "--join",
            url,
            "--name",
            name,
            "--prediction",
            prediction,
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(matches!(run.status.code(), Some(0) | Some(3)), "{said}");
    said
}

#[test]
fn a_workshop_keeps_a_class_s_results_safely() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), "127.0.0.1:0");
    let code = server.code().to_string();
    let w = format!("/w/{code}");

    // A student runs a quick lab and sends it.
    let said = run_and_join(&server.url, "Ada", "2x", home.path(), out.path());
    assert!(said.contains("workshop: sent"), "{said}");
    assert_eq!(
        std::fs::read_to_string(home.path().join("workshop-name")).unwrap(),
        "Ada"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["lab"]["prediction"], "2x");

    // Two more students (their reports as perflab wrote them), one with HTML in the name.
    let (status, _) = server.http(
        "POST",
        &format!("{w}/submissions"),
        None,
        &submission("g1", "Grace", "1.5", &report),
    );
    assert_eq!(status, 201);
    let evil = "<script>alert(1)</script>";
    let (status, _) = server.http(
        "POST",
        &format!("{w}/submissions"),
        None,
        &submission("e1", evil, "10x", &report),
    );
    assert_eq!(status, 201);
    // A retry of the same submission is not a second row.
    let (status, body) = server.http(
        "POST",
        &format!("{w}/submissions"),
        None,
        &submission("g1", "Grace", "1.5", &report),
    );
    assert_eq!(status, 200, "{body}");

    let (status, page) = server.http("GET", &format!("{w}/lab/lock-contention"), None, b"");
    assert_eq!(status, 200);
    assert!(page.contains("Ada") && page.contains("Grace"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the name is escaped"
    );
    assert!(!page.contains(evil), "no student text is markup");
    assert!(page.contains("3 submission(s)"), "{page}");
    assert!(
        page.contains("<svg id=\"chart\""),
        "predictions against results"
    );
    // Each result is one comparison: the last variant's by default, any other on request.
    assert!(
        page.contains("<b>mutex-across-io</b> against <b>global-mutex</b>"),
        "{page}"
    );
    let (_, sharded) = server.http(
        "GET",
        &format!("{w}/lab/lock-contention?variant=sharded"),
        None,
        b"",
    );
    assert!(
        sharded.contains("<b>sharded</b> against <b>global-mutex</b>"),
        "{sharded}"
    );

    // Refusals: each with its status and a reason.
    // (method, path, teacher token, body, the status expected)
    type Refusal<'a> = (&'a str, String, Option<&'a str>, Vec<u8>, u16);
    let refusals: Vec<Refusal> = vec![
        (
            "POST",
            "/w/WRONG1/submissions".into(),
            None,
            submission("x1", "Eve", "2", &report),
            404,
        ),
        (
            "POST",
            format!("{w}/submissions"),
            None,
            b"{not json".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{w}/submissions"),
            None,
            submission("x2", "Eve", "2", &serde_json::json!({"schema": "nope"})),
            422,
        ),
        (
            "POST",
            format!("{w}/submissions"),
            None,
            submission("x3", "Eve", "", &report),
            422,
        ),
        (
            "POST",
            format!("{w}/submissions"),
            None,
            submission("x4", "", "2", &report),
            422,
        ),
        (
            "POST",
            format!("{w}/submissions"),
            None,
            vec![b' '; 3 * 1024 * 1024],
            413,
        ),
        (
            "DELETE",
            format!("{w}/submissions/1"),
            None,
            Vec::new(),
            401,
        ),
        (
            "DELETE",
            format!("{w}/submissions/1"),
            Some("not-the-token"),
            Vec::new(),
            403,
        ),
        (
            "POST",
            format!("{w}/lab/lock-contention/close"),
            None,
            Vec::new(),
            401,
        ),
        // The projector's stream: the code, a body that is a batch, a tick inside a round,
        // a size limit, and no verdict but the one a submitted report brings.
        (
            "POST",
            "/w/WRONG1/live".into(),
            None,
            live_batch("v1", serde_json::json!([])),
            404,
        ),
        (
            "POST",
            format!("{w}/live"),
            None,
            b"{\"run\": ".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{w}/live"),
            None,
            live_batch(
                "v2",
                serde_json::json!([{"kind": "tick", "at": 1, "rate": 5, "p99_ms": 1, "errors": 0}]),
            ),
            422,
        ),
        (
            "POST",
            format!("{w}/live"),
            None,
            live_batch(
                "v3",
                serde_json::json!([{"kind": "round", "at": 0, "variant": "nope", "label": "x",
                    "measured": true, "seconds": 1}]),
            ),
            422,
        ),
        (
            "POST",
            format!("{w}/live"),
            None,
            live_batch(
                "v4",
                serde_json::json!([{"kind": "verdict", "status": "complete", "baseline": "a",
                    "comparisons": []}]),
            ),
            422,
        ),
        (
            "POST",
            format!("{w}/live"),
            None,
            live_batch(
                "v5",
                serde_json::json!([{"kind": "ended", "reason": "x".repeat(100_000)}]),
            ),
            413,
        ),
    ];
    for (method, path, auth, body, expected) in refusals {
        let (status, text) = server.http(method, &path, auth, &body);
        assert_eq!(status, expected, "{method} {path}: {text}");
    }
    let (_, page) = server.http("GET", &format!("{w}/lab/lock-contention"), None, b"");
    assert!(
        page.contains("3 submission(s)"),
        "no refused body was stored"
    );

    // The teacher closes the lab: no more submissions; opens it again.
    let token = server.token.clone();
    let (status, _) = server.http(
        "POST",
        &format!("{w}/lab/lock-contention/close"),
        Some(&token),
        b"",
    );
    assert_eq!(status, 204);
    let (status, text) = server.http(
        "POST",
        &format!("{w}/submissions"),
        None,
        &submission("l1", "Late", "2", &report),
    );
    assert_eq!(status, 409, "{text}");
    let (status, _) = server.http(
        "POST",
        &format!("{w}/lab/lock-contention/open"),
        Some(&token),
        b"",
    );
    assert_eq!(status, 204);

    // Restarted between submissions: the same code, every submission still there.
    server.stop();
    let server = Server::start(data.path(), "127.0.0.1:0");
    assert_eq!(server.code(), code, "the join code survives a restart");
    let (status, _) = server.http(
        "POST",
        &format!("{w}/submissions"),
        None,
        &submission("h1", "Hopper", "3", &report),
    );
    assert_eq!(status, 201);
    let (_, csv) = server.http("GET", &format!("{w}/export.csv"), None, b"");
    for name in ["Ada", "Grace", "Hopper"] {
        assert!(csv.contains(name), "{name} in the export: {csv}");
    }
    assert_eq!(
        csv.lines().count(),
        1 + 4,
        "a header and four submissions: {csv}"
    );
    let (_, md) = server.http("GET", &format!("{w}/summary.md"), None, b"");
    assert!(
        md.contains("## lock-contention") && md.contains("Hopper"),
        "{md}"
    );

    // The teacher deletes one.
    let (status, _) = server.http("DELETE", &format!("{w}/submissions/1"), Some(&token), b"");
    assert_eq!(status, 204);
    let (_, csv) = server.http("GET", &format!("{w}/export.csv"), None, b"");
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");

    // The class page, live, in a browser: a new submission appears without a reload by hand.
    let late = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(late.path(), submission("b1", "Barbara", "4x", &report)).unwrap();
    let shot = out.path().join("class.png");
    let check = Command::new("node")
        .arg(root().join("tests/browser/check-workshop.mjs"))
        .arg(format!(
            "{}/lab/lock-contention?variant=sharded",
            server.url
        ))
        .arg(format!("{}/submissions", server.url))
        .arg(late.path())
        .arg(&shot)
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("node is installed (scripts/setup installs what this test needs)");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
    let _ = std::fs::copy(&shot, root().join("target/workshop-class.png"));

    // The server goes away: a student's run is kept in the outbox, and sent with the next
    // --join run once the server is back.
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    server.stop();
    let out2 = tempfile::tempdir().unwrap();
    let said = run_and_join(
        &format!("http://127.0.0.1:{port}/w/{code}"),
        "Ada",
        "2x",
        home.path(),
        out2.path(),
    );
    assert!(said.contains("kept in"), "{said}");
    let kept = std::fs::read_dir(home.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(kept, 1);
    let server = Server::start(data.path(), &format!("127.0.0.1:{port}"));
    let (_, live) = server.http("GET", &format!("{w}/live.json"), None, b"");
    assert!(
        !live.contains("v2") && !live.contains("v4"),
        "no refused batch was kept: {live}"
    );

    // This run is watched on the projector view, opened before it starts.
    let running = out.path().join("projector-running.png");
    let verdict = out.path().join("projector-verdict.png");
    let mut watch = Command::new("node")
        .arg(root().join("tests/browser/check-projector.mjs"))
        .arg(format!("{}/projector", server.url))
        .arg("Ada")
        .arg(&running)
        .arg(&verdict)
        .current_dir(root().join("tests/browser"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is installed (scripts/setup installs what this test needs)");
    let mut watched = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut before_run = Vec::new();
    for line in watched.by_ref() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        before_run.push(line);
    }
    let out3 = tempfile::tempdir().unwrap();
    let said = run_and_join(&server.url, "Ada", "2x", home.path(), out3.path());
    assert!(said.contains("sent an earlier run's report"), "{said}");
    let problems: Vec<String> = before_run
        .into_iter()
        .chain(watched.map(|l| l.unwrap()))
        .collect();
    let status = watch.wait().unwrap();
    let mut stderr = String::new();
    let _ = watch.stderr.take().unwrap().read_to_string(&mut stderr);
    assert!(status.success(), "{}\n{stderr}", problems.join("\n"));
    for shot in [&running, &verdict] {
        assert!(
            std::fs::metadata(shot).unwrap().len() > 10_000,
            "a real screenshot"
        );
        let _ = std::fs::copy(
            shot,
            root().join("target").join(format!(
                "workshop-{}",
                shot.file_name().unwrap().to_string_lossy()
            )),
        );
    }
    // The board holds the run with its verdict, from the submitted report.
    let (_, live) = server.http("GET", &format!("{w}/live.json"), None, b"");
    let live: serde_json::Value = serde_json::from_str(&live).unwrap();
    let run = live["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["student"] == "Ada")
        .expect("the watched run is on the board");
    assert_eq!(
        run["verdict"]["comparisons"].as_array().unwrap().len(),
        run["variants"].as_array().unwrap().len() - 1,
        "every variant against the first: {run}"
    );
    assert!(run["rounds"].as_array().unwrap().len() >= 6, "{run}");
    assert_eq!(
        std::fs::read_dir(home.path().join("outbox"))
            .unwrap()
            .count(),
        0
    );
    let (_, csv) = server.http("GET", &format!("{w}/export.csv"), None, b"");
    assert_eq!(csv.lines().count(), 1 + 6, "{csv}");
    server.stop();
}
