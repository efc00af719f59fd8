//! The workshop from the command line: the teacher's `perflab workshop serve` (the server is
//! `perflab-workshop`), and the student's side of `perflab lab X --join URL` — a name asked
//! once, a prediction required, and the report sent with retries. A report the server cannot
//! take now is kept in `.perflab/outbox/` and sent before the next `--join` run's: nothing is
//! lost when the teacher's laptop is briefly away. While the run goes on, its progress is
//! streamed to the workshop's projector view ([`Projector`]); the run never waits for it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use perflab_workshop::live::{LiveEvent, LivePost};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::args::{JoinArgs, WorkshopServeArgs};
use crate::exit::Exit;

pub async fn serve(args: WorkshopServeArgs, cancel: CancellationToken) -> anyhow::Result<Exit> {
    let config = perflab_workshop::Config {
        listen: args.listen,
        data_dir: args.data.clone(),
    };
    let ready = |addr: std::net::SocketAddr, w: &perflab_workshop::Workshop| {
        let host = if addr.ip().is_unspecified() {
            format!("<this machine's address>:{}", addr.port())
        } else {
            addr.to_string()
        };
        let url = format!("http://{host}/w/{}", w.code);
        println!(
            "workshop {} is open (data in {})",
            w.code,
            args.data.display()
        );
        println!("  class page:     {url}");
        println!("  students run:   just lab NAME --join {url}");
        println!(
            "  teacher token:  {} (deleting a submission, closing a lab)",
            w.teacher_token
        );
        if addr.ip().is_loopback() {
            println!(
                "  only this machine can reach it: --listen 0.0.0.0:{} for a classroom",
                addr.port()
            );
        }
        println!("Ctrl-C stops it; the submissions stay in the data folder.");
    };
    perflab_workshop::serve(config, ready, cancel).await?;
    Ok(Exit::Ok)
}

/// A student's run, as sent (and as kept in the outbox until it is).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Outgoing {
    url: String,
    body: perflab_workshop::submission::SubmissionBody,
}

/// Where `--join` stands before the run: whom to send as, and what they predicted.
pub struct Joining {
    url: String,
    /// This run's id: its live stream's and its submission's (a retried submission is not
    /// counted twice, and the projector finds the run's verdict by it).
    run_id: String,
    student: String,
    prediction: String,
    outbox: PathBuf,
}

/// Where a student's workshop state lives: `$PERFLAB_HOME`, else the checkout's `.perflab/`.
fn home(root: &Path) -> PathBuf {
    std::env::var_os("PERFLAB_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".perflab"))
}

fn name_file(root: &Path) -> PathBuf {
    home(root).join("workshop-name")
}

/// Reads `--join`'s URL, the student's name (flag, remembered, or asked once) and their
/// prediction (flag or the lab's prompt: required). Sends what the outbox still holds.
pub async fn joining(
    args: &JoinArgs,
    root: &Path,
    asked: Option<String>,
) -> anyhow::Result<Option<Joining>> {
    let Some(url) = &args.join else {
        return Ok(None);
    };
    let url = url.trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) || !url.contains("/w/") {
        bail!("--join {url}: expected the URL the teacher gave, http://HOST:PORT/w/CODE");
    }
    let student = match &args.student {
        Some(n) => n.trim().to_string(),
        None => match std::fs::read_to_string(name_file(root)) {
            Ok(n) if !n.trim().is_empty() => n.trim().to_string(),
            _ => ask("Your name for the class page: ")
                .context("--join needs your name: give --name")?,
        },
    };
    if student.is_empty() {
        bail!("--join needs your name: give --name");
    }
    let _ = std::fs::create_dir_all(home(root));
    let _ = std::fs::write(name_file(root), &student);
    let prediction = match args.prediction.clone().or(asked) {
        Some(p) if !p.trim().is_empty() => p.trim().to_string(),
        _ => bail!(
            "a workshop run needs your prediction before it measures: answer the lab's question, or give --prediction (e.g. --prediction 2x)"
        ),
    };
    let joining = Joining {
        url,
        run_id: format!("{:032x}", rand::rng().random::<u128>()),
        student,
        prediction,
        outbox: home(root).join("outbox"),
    };
    joining.flush_outbox().await;
    Ok(Some(joining))
}

fn ask(question: &str) -> Option<String> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return None;
    }
    print!("{question}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_string()).filter(|l| !l.is_empty())
}

/// Why a submission did not go through: worth retrying, or not.
enum SendError {
    /// The server was not reachable, or failed on its side: keep it and try again later.
    Away(String),
    /// The server refused it (wrong code, closed lab, a malformed report): say why, keep it.
    Refused(String),
}

async fn send_once(o: &Outgoing) -> Result<(), SendError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SendError::Away(e.to_string()))?;
    let resp = client
        .post(format!("{}/submissions", o.url))
        .json(&o.body)
        .send()
        .await
        .map_err(|e| SendError::Away(e.to_string()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    if status.is_server_error() {
        Err(SendError::Away(format!("{status}: {}", text.trim())))
    } else {
        Err(SendError::Refused(format!("{status}: {}", text.trim())))
    }
}

/// Sends with retries (0.5, 1, 2, 4 s apart) while the server is away.
async fn send(o: &Outgoing) -> Result<(), SendError> {
    let mut wait = Duration::from_millis(500);
    let mut last = None;
    for _ in 0..5 {
        match send_once(o).await {
            Ok(()) => return Ok(()),
            Err(SendError::Refused(why)) => return Err(SendError::Refused(why)),
            Err(SendError::Away(why)) => last = Some(why),
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    Err(SendError::Away(last.unwrap_or_default()))
}

impl Joining {
    /// Sends this run's report; on failure keeps it in the outbox and says so, and returns
    /// why. Never fails the run: the measurement is already written.
    pub async fn submit(&self, report_json: &Path) -> Result<(), String> {
        let report = match std::fs::read(report_json)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        {
            Some(r) => r,
            None => {
                let why = format!("could not read {} to send it", report_json.display());
                eprintln!("workshop: {why}");
                return Err(why);
            }
        };
        let o = Outgoing {
            url: self.url.clone(),
            body: perflab_workshop::submission::SubmissionBody {
                client_id: self.run_id.clone(),
                student: self.student.clone(),
                prediction: self.prediction.clone(),
                report,
            },
        };
        match send(&o).await {
            Ok(()) => {
                println!("workshop: sent to {} as {}", self.url, self.student);
                Ok(())
            }
            Err(e) => {
                let why = match e {
                    SendError::Away(w) => format!("the server is not answering ({w})"),
                    SendError::Refused(w) => format!("the server refused it ({w})"),
                };
                match self.keep(&o) {
                    Ok(path) => eprintln!(
                        "workshop: not sent — {why}; kept in {} and sent with your next --join run",
                        path.display()
                    ),
                    Err(err) => eprintln!("workshop: not sent — {why}; and not kept either: {err}"),
                }
                Err(format!("its report was not sent: {why}"))
            }
        }
    }

    /// Starts streaming this run's progress to the workshop's projector view.
    pub fn projector(&self, lab: &str, variants: Vec<String>) -> Projector {
        let (tx, rx) = mpsc::channel(FEED_QUEUE);
        let post = LivePost {
            run: self.run_id.clone(),
            student: self.student.clone(),
            lab: lab.to_string(),
            variants,
            events: Vec::new(),
        };
        let url = format!("{}/live", self.url);
        let task = tokio::spawn(stream_live(url.clone(), post.clone(), rx));
        Projector {
            feed: LiveFeed {
                tx,
                started: Instant::now(),
            },
            task,
            url,
            post,
        }
    }

    fn keep(&self, o: &Outgoing) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.outbox)?;
        let path = self.outbox.join(format!("{}.json", o.body.client_id));
        std::fs::write(&path, serde_json::to_vec(o)?)?;
        Ok(path)
    }

    /// Sends what earlier runs could not; each sent entry is removed, the rest stay.
    async fn flush_outbox(&self) {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(o) = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Outgoing>(&b).ok())
            else {
                continue;
            };
            match send_once(&o).await {
                Ok(()) => {
                    let _ = std::fs::remove_file(&path);
                    println!(
                        "workshop: sent an earlier run's report ({})",
                        path.display()
                    );
                }
                Err(SendError::Away(_) | SendError::Refused(_)) => {}
            }
        }
    }
}

/// Events waiting to be sent; when the server is slower than the run, the newest are dropped
/// rather than the run kept waiting.
const FEED_QUEUE: usize = 4096;
/// How often a batch goes to the server.
const FEED_EVERY: Duration = Duration::from_secs(1);

/// Where the rounds' progress goes besides the terminal: a queue the feed task empties.
/// Sending never blocks and never fails the run.
#[derive(Clone)]
pub struct LiveFeed {
    tx: mpsc::Sender<LiveEvent>,
    started: Instant,
}

impl LiveFeed {
    /// Seconds since the run started, the stream's clock.
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn send(&self, event: LiveEvent) {
        let _ = self.tx.try_send(event);
    }
}

/// A run's live stream to the projector view: the feed the rounds write to, and the task that
/// posts it once a second (one small request a second on the student's machine, while it
/// measures: the cost of being watched).
pub struct Projector {
    feed: LiveFeed,
    task: tokio::task::JoinHandle<Streamed>,
    url: String,
    post: LivePost,
}

/// What the feed task managed to send.
#[derive(Default)]
struct Streamed {
    sent: u64,
    failed: u64,
    last_error: Option<String>,
}

impl Projector {
    pub fn feed(&self) -> LiveFeed {
        self.feed.clone()
    }

    /// Sends what is still queued and ends the stream. The run's verdict reaches the projector
    /// with its report; when none will, [`Watched::ended`] says why.
    pub async fn close(self) -> Watched {
        let Projector {
            feed,
            task,
            url,
            post,
            ..
        } = self;
        drop(feed);
        // Every other copy of the feed went with the plan when the rounds ended.
        let streamed = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        if streamed.failed > 0 {
            eprintln!(
                "workshop: the projector view missed {} of {} updates ({})",
                streamed.failed,
                streamed.sent + streamed.failed,
                streamed.last_error.unwrap_or_default()
            );
        }
        Watched { url, post }
    }
}

/// A run whose stream has ended: its projector view waits for the verdict.
pub struct Watched {
    url: String,
    post: LivePost,
}

impl Watched {
    /// Tells the projector view the run stopped without a verdict reaching it, and why.
    pub async fn ended(&self, reason: String) {
        let reason: String = reason
            .chars()
            .take(perflab_workshop::live::MAX_LINE)
            .collect();
        let last = LivePost {
            events: vec![LiveEvent::Ended { reason }],
            ..self.post.clone()
        };
        let _ = post_live(&self.url, &last).await;
    }
}

async fn post_live(url: &str, post: &LivePost) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .post(url)
        .json(post)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        let status = resp.status();
        Err(format!(
            "{status}: {}",
            resp.text().await.unwrap_or_default().trim()
        ))
    }
}

/// The feed task: a batch of what the rounds reported, once a second, until the feed closes.
/// A batch the server does not take is dropped (the projector shows a gap), never retried:
/// the stream is for watching now, the report is what lasts.
async fn stream_live(url: String, post: LivePost, mut rx: mpsc::Receiver<LiveEvent>) -> Streamed {
    let mut streamed = Streamed::default();
    let mut open = true;
    while open {
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + FEED_EVERY;
        while events.len() < perflab_workshop::live::MAX_EVENTS {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => events.push(e),
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        if events.is_empty() {
            continue;
        }
        let batch = LivePost {
            events,
            ..post.clone()
        };
        match post_live(&url, &batch).await {
            Ok(()) => streamed.sent += 1,
            Err(e) => {
                streamed.failed += 1;
                streamed.last_error = Some(e);
            }
        }
    }
    streamed
}
