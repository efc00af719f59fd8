use std::process::ExitCode;

use clap::Parser;
use perflab::args::{Cli, Command};
use perflab::exit::Exit;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PERFLAB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        // Colour only on a terminal: service.log and CI logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let threads = cli.command.threads();
    // One load thread: a current-thread runtime (no work stealing, no cross-thread wake-ups).
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("perflab: cannot start the runtime: {e}");
            return ExitCode::from(Exit::Error.code());
        }
    };
    let exit = runtime.block_on(async {
        // Ctrl-C, SIGTERM (what `timeout` and CI send) and SIGHUP (a closed terminal) end the
        // current round; the partial report is still written and every child stopped.
        let cancel = CancellationToken::new();
        let on_signal = cancel.clone();
        let what_now = match &cli.command {
            Command::Workshop(_) => "stopping the server (the submissions are kept)",
            _ => "finishing with a partial report",
        };
        tokio::spawn(async move {
            if let Some(name) = perflab::signals::first().await {
                eprintln!("\nperflab: {name}; {what_now}");
                on_signal.cancel();
            }
        });
        let result = match cli.command {
            Command::Run(args) => perflab::run_url::run_urls(args, cancel).await,
            Command::Lab(args) => perflab::lab::run_lab(args, cancel).await,
            Command::Labs => perflab::lab::print_labs(),
            Command::NewLab { name } => perflab::lab::new_lab(&name),
            Command::Calibrate(args) => perflab::calibrate::calibrate(args, cancel).await,
            Command::Report(args) => perflab::execute::rebuild(&args),
            Command::Merge(args) => perflab::distribute::merge(&args),
            Command::Distribute(args) => perflab::distribute::distribute_local(args, cancel).await,
            Command::Workshop(perflab::args::WorkshopCommand::Serve(args)) => {
                perflab::workshop::serve(args, cancel).await
            }
        };
        result.unwrap_or_else(|e| {
            eprintln!("perflab: error: {e:#}");
            Exit::Error
        })
    });
    // Child processes (service, databases) are owned by values already dropped here.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    ExitCode::from(exit.code())
}
