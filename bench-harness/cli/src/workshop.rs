//! The workshop from the command line: the teacher's `perflab workshop serve` (the server is
//! `perflab-workshop`), and the student's side of `perflab lab X --join URL` — a name asked
//! once, a prediction required, and the report sent with retries. A report the server cannot
//! take now is kept in `.perflab/outbox/` and sent before the next `--join` run's: nothing is
//! lost when the teacher's laptop is briefly away.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use rand::Rng;
use serde::{Deserialize, Serialize};
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
    /// Sends this run's report; on failure keeps it in the outbox and says so. Never fails the
    /// run: the measurement is already written.
    pub async fn submit(&self, report_json: &Path) {
        let report = match std::fs::read(report_json)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        {
            Some(r) => r,
            None => {
                eprintln!(
                    "workshop: could not read {} to send it",
                    report_json.display()
                );
                return;
            }
        };
        let client_id = format!("{:032x}", rand::rng().random::<u128>());
        let o = Outgoing {
            url: self.url.clone(),
            body: perflab_workshop::submission::SubmissionBody {
                client_id,
                student: self.student.clone(),
                prediction: self.prediction.clone(),
                report,
            },
        };
        match send(&o).await {
            Ok(()) => println!("workshop: sent to {} as {}", self.url, self.student),
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
            }
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
