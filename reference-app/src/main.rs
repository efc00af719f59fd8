use clap::Parser;
use reference_app::app::Service;
use reference_app::config::Config;
use reference_app::observability;
use tracing_subscriber::EnvFilter;

/// Counts every allocation, so reports can show allocations per request (`introspect::alloc`).
#[global_allocator]
static ALLOCATOR: reference_app::introspect::alloc::CountingAllocator =
    reference_app::introspect::alloc::CountingAllocator;

#[tokio::main]
async fn main() {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        // Colour only on a terminal: service.log and CI logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(config).await {
        eprintln!("reference-app: {e:#}");
        std::process::exit(1);
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let metrics = observability::install_recorder()?;
    let service = Service::start(&config, metrics).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    // The first stdout line is machine-readable: the harness and the tests wait for it.
    println!("listening on http://{}", listener.local_addr()?);
    tracing::info!(backend = %service.state.db.backend(), "ready");
    let limits = reference_app::app::ServeLimits::from_config(&config);
    service.serve(listener, &limits).await
}
