//! `perflab workshop serve`: the teacher's side of a workshop. Students' runs of a lab arrive as
//! their report JSON with a name and a prediction (`perflab lab X --join URL`); the server keeps
//! them in SQLite ([`store`]), checks them ([`submission`]) and shows the class page — every
//! prediction against every measured ratio, live as submissions arrive (server-sent events) —
//! and exports it ([`pages`]). While a student's run is in progress, its perflab streams the
//! rounds' throughput and latency to the projector view ([`live`]), which ends with the verdict
//! once the report arrives.
//!
//! Safety: the server binds loopback unless told otherwise; submissions need the join code in
//! their URL; deleting a submission and closing a lab need the teacher's token
//! (`Authorization: Bearer …`); bodies are size-limited and validated against the report's
//! schema before anything is stored; everything a student typed is escaped in pages.

pub mod live;
pub mod pages;
pub mod store;
pub mod submission;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::Stream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use live::{Board, LivePost, Verdict};
pub use store::{Store, StoreError, Workshop};
use submission::SubmissionBody;

/// A submission's largest body: a lab report is tens of kilobytes; a profile's folded stacks
/// are not sent.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "listening on {addr}: {source} (is another workshop server running there? give --listen)"
    )]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("creating the data folder {dir}: {source}")]
    DataDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

struct AppState {
    store: Store,
    workshop: Workshop,
    /// Ends the event streams at shutdown (an open page would otherwise hold it forever).
    stop: CancellationToken,
    /// One message per change; open class pages reload on it.
    changes: broadcast::Sender<String>,
    /// Runs in progress, for the projector view.
    board: Mutex<Board>,
    /// Every accepted live batch (JSON), for open projector pages.
    live: broadcast::Sender<String>,
}

type Shared = Arc<AppState>;

/// A refusal: its status and a sentence that says what to do.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, format!("{}\n", self.1)).into_response()
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        tracing::error!("{e}");
        Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

fn check_code(state: &AppState, code: &str) -> Result<(), Refusal> {
    if code == state.workshop.code {
        Ok(())
    } else {
        Err(Refusal(
            StatusCode::NOT_FOUND,
            format!("no workshop with the code {code:?} here: check the URL your teacher gave"),
        ))
    }
}

fn check_teacher(state: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    use subtle::ConstantTimeEq;
    let expected = format!("Bearer {}", state.workshop.teacher_token);
    match headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()) {
        // In constant time: how long a refusal takes says nothing about how much was right.
        Some(given) if bool::from(given.ct_eq(expected.as_bytes())) => Ok(()),
        Some(_) => Err(Refusal(
            StatusCode::FORBIDDEN,
            "that is not this workshop's teacher token".into(),
        )),
        None => Err(Refusal(
            StatusCode::UNAUTHORIZED,
            "this needs the teacher token (printed when the server started): Authorization: Bearer TOKEN"
                .into(),
        )),
    }
}

async fn overview(
    State(s): State<Shared>,
    Path(code): Path<String>,
) -> Result<Html<String>, Refusal> {
    check_code(&s, &code)?;
    Ok(Html(pages::overview(&code, &s.store.rows().await?)))
}

#[derive(serde::Deserialize)]
struct LabQuery {
    /// Which variant's comparison with the first to show (default: the last variant's).
    variant: Option<String>,
}

async fn lab_page(
    State(s): State<Shared>,
    Path((code, lab)): Path<(String, String)>,
    Query(q): Query<LabQuery>,
) -> Result<Html<String>, Refusal> {
    check_code(&s, &code)?;
    let open = s.store.lab_is_open(&lab).await?;
    Ok(Html(pages::lab_page(
        &code,
        &lab,
        open,
        &s.store.lab_rows(&lab).await?,
        q.variant.as_deref(),
    )))
}

async fn submit(
    State(s): State<Shared>,
    Path(code): Path<String>,
    body: Result<Json<SubmissionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Refusal> {
    check_code(&s, &code)?;
    let Json(body) =
        body.map_err(|e| Refusal(e.status(), format!("not a submission: {}", e.body_text())))?;
    let summary = body
        .summarize()
        .map_err(|e| Refusal(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    if !s.store.lab_is_open(&summary.lab).await? {
        return Err(Refusal(
            StatusCode::CONFLICT,
            format!(
                "the teacher has closed lab {}: it takes no more submissions",
                summary.lab
            ),
        ));
    }
    let stored = s.store.add(&body.client_id, &summary, &body.report).await?;
    // A run the projector is showing ends with its verdict.
    let verdict = Verdict::of(
        &body.report,
        &summary.status,
        summary.invalid_reason.as_deref(),
    );
    {
        let mut board = s.board.lock().expect("board");
        if let Some(update) = board.finish(&body.client_id, verdict) {
            // Sent under the lock, so pages receive batches in the order they were numbered.
            let _ = s
                .live
                .send(serde_json::to_string(&update).unwrap_or_default());
        }
    }
    Ok(match stored {
        store::Stored::New(id) => {
            let _ = s.changes.send(summary.lab.clone());
            (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response()
        }
        store::Stored::Again(id) => (
            StatusCode::OK,
            Json(serde_json::json!({ "id": id, "again": true })),
        )
            .into_response(),
    })
}

async fn remove(
    State(s): State<Shared>,
    Path((code, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<StatusCode, Refusal> {
    check_code(&s, &code)?;
    check_teacher(&s, &headers)?;
    if s.store.delete(id).await? {
        let _ = s.changes.send(format!("deleted {id}"));
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Refusal(
            StatusCode::NOT_FOUND,
            format!("no submission {id}"),
        ))
    }
}

async fn set_open(
    s: Shared,
    code: String,
    lab: String,
    headers: HeaderMap,
    open: bool,
) -> Result<StatusCode, Refusal> {
    check_code(&s, &code)?;
    check_teacher(&s, &headers)?;
    s.store.set_lab_open(&lab, open).await?;
    let _ = s.changes.send(lab);
    Ok(StatusCode::NO_CONTENT)
}

async fn close_lab(
    State(s): State<Shared>,
    Path((code, lab)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Refusal> {
    set_open(s, code, lab, headers, false).await
}

async fn open_lab(
    State(s): State<Shared>,
    Path((code, lab)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Refusal> {
    set_open(s, code, lab, headers, true).await
}

async fn export_csv(
    State(s): State<Shared>,
    Path(code): Path<String>,
) -> Result<Response, Refusal> {
    check_code(&s, &code)?;
    let body = pages::csv(&s.store.rows().await?);
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}

async fn export_md(State(s): State<Shared>, Path(code): Path<String>) -> Result<Response, Refusal> {
    check_code(&s, &code)?;
    let body = pages::summary_md(&code, &s.store.rows().await?);
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        body,
    )
        .into_response())
}

/// A channel's messages as server-sent events, until the server stops. A page too slow to
/// keep up is sent `resync` instead of what it missed.
fn event_stream(
    rx: broadcast::Receiver<String>,
    stop: CancellationToken,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures::stream::unfold((rx, stop), |(mut rx, stop)| async move {
        let next = tokio::select! {
            r = rx.recv() => r,
            _ = stop.cancelled() => return None,
        };
        match next {
            Ok(what) => Some((Ok(Event::default().data(what)), (rx, stop))),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Some((Ok(Event::default().data("resync")), (rx, stop)))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn events(
    State(s): State<Shared>,
    Path(code): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Refusal> {
    check_code(&s, &code)?;
    Ok(event_stream(s.changes.subscribe(), s.stop.clone()))
}

/// A batch of a run in progress: checked, applied to the board, passed on to projector pages.
async fn live_post(
    State(s): State<Shared>,
    Path(code): Path<String>,
    body: Result<Json<LivePost>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, Refusal> {
    check_code(&s, &code)?;
    let Json(post) =
        body.map_err(|e| Refusal(e.status(), format!("not a live batch: {}", e.body_text())))?;
    let mut board = s.board.lock().expect("board");
    let update = board
        .apply(&post)
        .map_err(|e| Refusal(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    // Sent under the lock, so pages receive batches in the order they were numbered.
    let _ = s
        .live
        .send(serde_json::to_string(&update).unwrap_or_default());
    Ok(StatusCode::NO_CONTENT)
}

async fn live_runs(
    State(s): State<Shared>,
    Path(code): Path<String>,
) -> Result<Json<live::Snapshot>, Refusal> {
    check_code(&s, &code)?;
    Ok(Json(s.board.lock().expect("board").snapshot()))
}

async fn live_events(
    State(s): State<Shared>,
    Path(code): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Refusal> {
    check_code(&s, &code)?;
    Ok(event_stream(s.live.subscribe(), s.stop.clone()))
}

async fn projector(
    State(s): State<Shared>,
    Path(code): Path<String>,
) -> Result<Html<String>, Refusal> {
    check_code(&s, &code)?;
    Ok(Html(pages::projector(&code)))
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/w/{code}", get(overview))
        .route("/w/{code}/lab/{lab}", get(lab_page))
        .route("/w/{code}/lab/{lab}/close", post(close_lab))
        .route("/w/{code}/lab/{lab}/open", post(open_lab))
        .route("/w/{code}/submissions", post(submit))
        .route("/w/{code}/submissions/{id}", delete(remove))
        .route("/w/{code}/events", get(events))
        .route(
            "/w/{code}/live",
            post(live_post).layer(DefaultBodyLimit::max(live::MAX_BODY)),
        )
        .route("/w/{code}/live.json", get(live_runs))
        .route("/w/{code}/live/events", get(live_events))
        .route("/w/{code}/projector", get(projector))
        .route("/w/{code}/export.csv", get(export_csv))
        .route("/w/{code}/summary.md", get(export_md))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Opens the workshop in `config.data_dir`, binds `config.listen`, tells `ready` where it is
/// and serves until `stop` is cancelled.
pub async fn serve(
    config: Config,
    ready: impl FnOnce(SocketAddr, &Workshop),
    stop: CancellationToken,
) -> Result<(), ServeError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
        dir: config.data_dir.clone(),
        source,
    })?;
    let (store, workshop) = Store::open(&config.data_dir).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    ready(addr, &workshop);
    let (changes, _) = broadcast::channel(64);
    let (live, _) = broadcast::channel(256);
    let state = Arc::new(AppState {
        store: store.clone(),
        workshop,
        stop: stop.clone(),
        changes,
        board: Mutex::new(Board::default()),
        live,
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .map_err(ServeError::Serve)?;
    store.close().await;
    Ok(())
}
