//! `perflab lab NAME`: build and load the lab's plugin, ask for a prediction, start what it
//! needs (the reference service; PostgreSQL or Redis when asked), run the variants in
//! interleaved rounds and write the report next to the service's and the plugin's logs.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::cli::{LoadArgs, OutputArgs, execute};
use crate::environment::{self, Environment};
use crate::experiment::{Plan, Variant};
use crate::load::client::Target;
use crate::plugin::bindings::perflab::experiment::types as wit;
use crate::plugin::{Plugin, PluginHost, PluginLimits, PluginWorkload, build, convert};
use crate::report::{self, LabInfo, Meta};
use crate::target::postgres::ThrowawayPostgres;
use crate::target::redis::ThrowawayRedis;
use crate::target::service::{ServiceProcess, locate_binary};

#[derive(Debug, Clone, Args)]
pub struct LabArgs {
    /// A lab under labs/ (e.g. lock-contention), or a folder holding plugin/ or plugin-py/.
    pub name: String,
    /// About 15 seconds instead of about a minute: the lab's quick load and fewer rounds.
    #[arg(long)]
    pub quick: bool,
    /// Database for the service: sqlite (embedded default) or postgres (a throwaway cluster).
    #[arg(long, default_value = "sqlite")]
    pub db: String,
    /// Use this PostgreSQL instead of starting one (with --db postgres).
    #[arg(long)]
    pub db_url: Option<String>,
    /// Lab parameter, repeatable: `--param work_us=50`.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Measure this running service instead of starting the reference service.
    #[arg(long)]
    pub target: Option<String>,
    /// Load this component file instead of building the lab's plugin.
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Do not ask for a prediction before the run.
    #[arg(long)]
    pub no_prompt: bool,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The repository root: the nearest folder above the working directory with `labs/` in it.
pub fn repo_root() -> anyhow::Result<PathBuf> {
    if let Some(root) = std::env::var_os("PERFLAB_ROOT") {
        return Ok(PathBuf::from(root));
    }
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .find(|d| d.join("labs").is_dir() && d.join("plugins").is_dir())
        .map(Path::to_path_buf)
        .context("cannot find the perflab checkout (a folder with labs/ and plugins/): run from inside it or set PERFLAB_ROOT")
}

fn lab_dir(root: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let direct = PathBuf::from(name);
    if direct.join("plugin").is_dir() || direct.join("plugin-py").is_dir() {
        return Ok(direct);
    }
    let dir = root.join("labs").join(name);
    if dir.is_dir() {
        return Ok(dir);
    }
    let known = list_labs(root)
        .into_iter()
        .map(|(n, _)| n)
        .collect::<Vec<_>>()
        .join(", ");
    bail!("no lab named {name:?}; labs: {known} (or create one with `just new-lab {name}`)")
}

pub fn list_labs(root: &Path) -> Vec<(String, PathBuf)> {
    let mut labs: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("labs"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.join("plugin").is_dir() || p.join("plugin-py").is_dir())
                .map(|p| {
                    (
                        p.file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned(),
                        p,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    labs.sort();
    labs
}

/// Builds (Rust or Python) or takes the given component, and loads it.
pub fn load_plugin(
    host: &Arc<PluginHost>,
    root: &Path,
    dir: Option<&Path>,
    file: Option<&Path>,
    quiet: bool,
) -> anyhow::Result<Arc<Plugin>> {
    let wasm = match (file, dir) {
        (Some(f), _) => f.to_path_buf(),
        (None, Some(dir)) if dir.join("plugin").join("Cargo.toml").is_file() => {
            build::build_rust(&dir.join("plugin"), root, quiet)?
        }
        (None, Some(dir)) if dir.join("plugin-py").join("app.py").is_file() => build::build_python(
            &dir.join("plugin-py"),
            &root.join("plugins").join("wit"),
            &build::guest_target_dir(root).join("python"),
        )?,
        (None, Some(dir)) => bail!(
            "{} has neither plugin/Cargo.toml nor plugin-py/app.py",
            dir.display()
        ),
        (None, None) => bail!("no lab and no --plugin given"),
    };
    Ok(host.load(&wasm)?)
}

/// `describe` with defaults, then again with the command line's `--param`s checked against
/// the declared types. A lab that declares a `db` parameter is told the `--db` choice.
pub fn describe_with_params(
    plugin: &Plugin,
    given: &[String],
    db: &str,
) -> anyhow::Result<(wit::Description, Vec<wit::ParamValue>)> {
    let declared = plugin.describe(&[])?;
    let mut given = given.to_vec();
    if declared.params.iter().any(|p| p.name == "db") && !given.iter().any(|g| g.starts_with("db="))
    {
        given.push(format!("db={db}"));
    }
    let given = &given[..];
    let mut chosen: Vec<wit::ParamValue> = declared
        .params
        .iter()
        .map(|p| wit::ParamValue {
            name: p.name.clone(),
            value: p.default.clone(),
        })
        .collect();
    for entry in given {
        let (name, raw) = entry
            .split_once('=')
            .with_context(|| format!("--param {entry:?}: expected NAME=VALUE"))?;
        let Some(decl) = declared.params.iter().find(|p| p.name == name) else {
            let names: Vec<&str> = declared.params.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "lab {} has no parameter {name:?}; parameters: {}",
                declared.name,
                names.join(", ")
            );
        };
        let value = convert::param_value(decl, raw).map_err(anyhow::Error::msg)?;
        chosen
            .iter_mut()
            .find(|p| p.name == name)
            .expect("declared")
            .value = value;
    }
    let description = if given.is_empty() {
        declared
    } else {
        plugin.describe(&chosen)?
    };
    Ok((description, chosen))
}

fn ask_prediction(d: &wit::Description, no_prompt: bool) -> Option<String> {
    println!("\n{} — {}\n", d.name, d.summary);
    println!("Hypothesis: {}\n", d.teaching.hypothesis);
    println!(
        "Predict before you measure: {}",
        d.teaching.prediction_prompt
    );
    if no_prompt || !std::io::stdin().is_terminal() {
        println!();
        return None;
    }
    print!("Your prediction (Enter to skip): ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let line = line.trim().to_string();
    (!line.is_empty()).then_some(line)
}

fn service_version(binary: &Path) -> Option<String> {
    let out = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub async fn run_lab(args: LabArgs, cancel: CancellationToken) -> anyhow::Result<u8> {
    let root = repo_root()?;
    let dir = if args.plugin.is_some() {
        None
    } else {
        Some(lab_dir(&root, &args.name)?)
    };
    let host = PluginHost::new(PluginLimits::default())?;
    let plugin = load_plugin(
        &host,
        &root,
        dir.as_deref(),
        args.plugin.as_deref(),
        args.output.quiet,
    )?;
    let db = args.db.as_str();
    let (desc, params) = describe_with_params(&plugin, &args.params, db)?;

    if !desc.databases.iter().any(|d| d == db) {
        bail!(
            "lab {} runs on {}; --db {db} is not one of them",
            desc.name,
            desc.databases.join(" or ")
        );
    }
    let prediction = ask_prediction(&desc, args.no_prompt || args.output.quiet);

    let model = convert::load_model(if args.quick {
        &desc.quick_load
    } else {
        &desc.load
    });
    let model = match args.load.duration {
        Some(d) => model.with_duration(d),
        None => model,
    };
    model
        .validate()
        .map_err(|e| anyhow::anyhow!("lab {}: its load model is invalid: {e}", desc.name))?;
    let rounds = args
        .load
        .rounds
        .unwrap_or(if args.quick {
            desc.quick_rounds
        } else {
            desc.rounds
        })
        .max(1);
    let warmup = args
        .load
        .warmup
        .unwrap_or(Duration::from_millis(if args.quick {
            desc.warmup_ms / 2
        } else {
            desc.warmup_ms
        }));

    let report_dir = args
        .output
        .out
        .clone()
        .unwrap_or_else(|| report::default_dir(&root.join("reports"), &desc.name));
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;

    // Everything started here is owned by a guard and stopped when this function returns.
    let needs = |n: wit::Need| desc.needs.contains(&n);
    let data_dir = tempfile::Builder::new().prefix("perflab-data-").tempdir()?;
    let postgres = if db == "postgres" && args.db_url.is_none() && args.target.is_none() {
        eprintln!("perflab: starting a throwaway PostgreSQL cluster");
        Some(ThrowawayPostgres::start()?)
    } else {
        None
    };
    let redis = if needs(wit::Need::Redis) && args.target.is_none() {
        Some(ThrowawayRedis::start()?)
    } else {
        None
    };
    let mut environment = Environment::capture(args.load.seed, args.load.threads);
    let (service, base_url) = match &args.target {
        Some(url) => (None, url.trim_end_matches('/').to_string()),
        None => {
            let binary = locate_binary().context("cannot find the reference-app binary: build it with `cargo build --release -p reference-app` (or `just lab`, which does)")?;
            environment.service_version = service_version(&binary);
            let mut service_args = vec![
                "--data-dir".to_string(),
                data_dir.path().display().to_string(),
            ];
            let db_url = args
                .db_url
                .clone()
                .or_else(|| postgres.as_ref().map(|p| p.url()));
            if let Some(url) = db_url {
                service_args.extend(["--database-url".into(), url]);
            }
            if let Some(r) = &redis {
                service_args.extend(["--redis-url".into(), r.url()]);
            }
            let svc = ServiceProcess::start(
                &binary,
                &service_args,
                Some(&report_dir.join("service.log")),
            )?;
            let url = svc.base_url().to_string();
            (Some(svc), url)
        }
    };
    if needs(wit::Need::FsyncProbe) {
        let probe_dir = if postgres.is_some() {
            std::env::temp_dir()
        } else {
            data_dir.path().to_path_buf()
        };
        environment.fsync_ms =
            environment::fsync_probe(&probe_dir, environment::FSYNC_SAMPLES).ok();
        if let Some(f) = &environment.fsync_ms {
            eprintln!(
                "perflab: fsync on this disk: median {:.2} ms (p90 {:.2} ms) — write labs are dominated by it",
                f.median, f.p90
            );
        }
    }

    let (target, _) = Target::resolve(&base_url, false)
        .await
        .map_err(anyhow::Error::msg)?;
    let workload = Arc::new(PluginWorkload::new(
        plugin.clone(),
        params,
        convert::body_need(&desc.body_need),
        args.load.seed,
    ));
    let variants = desc
        .variants
        .iter()
        .map(|v| Variant {
            name: v.name.clone(),
            settings: convert::settings(&v.settings),
            target: target.clone(),
            workload: workload.clone(),
        })
        .collect();
    let plan = Plan {
        variants,
        rounds,
        warmup,
        model,
        seed: args.load.seed,
        timeout: args.load.timeout,
        threads: args.load.threads,
        scrape_metrics: true,
    };
    let mut output = args.output.clone();
    output.out = Some(report_dir.clone());
    output
        .thresholds
        .splice(0..0, desc.thresholds.iter().map(convert::threshold));
    let meta = Meta {
        name: desc.name.clone(),
        started_at: report::now_rfc3339(),
        lab: Some(LabInfo {
            summary: desc.summary.clone(),
            hypothesis: desc.teaching.hypothesis.clone(),
            prediction_prompt: desc.teaching.prediction_prompt.clone(),
            explanation: desc.teaching.explanation.clone(),
            database: db.to_string(),
            prediction,
        }),
        environment,
        incomplete_reason: None,
    };
    let result = execute(plan, &output, meta, cancel).await;
    let _ = std::fs::write(report_dir.join("plugin.log"), plugin.log.all());
    drop(service);
    drop(redis);
    drop(postgres);
    if let Some(lab) = dir.as_ref().filter(|d| d.join("README.md").is_file()) {
        println!("guide: {}", lab.join("README.md").display());
    }
    result
}

/// `perflab labs`: each lab with the first line of its guide.
pub fn print_labs() -> anyhow::Result<u8> {
    let root = repo_root()?;
    for (name, dir) in list_labs(&root) {
        let guide = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        let line = guide
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        println!("{name:<20} {line}");
    }
    Ok(crate::cli::exit::OK)
}

/// `perflab new-lab NAME`: a lab folder from `plugins/template/` that builds and runs as is.
pub fn new_lab(name: &str) -> anyhow::Result<u8> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || name.starts_with('-')
    {
        bail!("lab name {name:?}: use lower-case letters, digits and dashes, e.g. my-lab");
    }
    let root = repo_root()?;
    let dest = root.join("labs").join(name);
    if dest.exists() {
        bail!("{} already exists", dest.display());
    }
    let template = root.join("plugins").join("template");
    let files = [
        ("plugin/Cargo.toml.tmpl", "plugin/Cargo.toml"),
        ("plugin/src/lib.rs.tmpl", "plugin/src/lib.rs"),
        ("README.md.tmpl", "README.md"),
    ];
    for (from, to) in files {
        let text = std::fs::read_to_string(template.join(from))
            .with_context(|| format!("reading the template {from}"))?;
        let path = dest.join(to);
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        std::fs::write(&path, text.replace("{{name}}", name))?;
    }
    println!(
        "created {}\n  plugin: {}\n  guide:  {}\nrun it:  just lab {name} --quick",
        dest.display(),
        dest.join("plugin/src/lib.rs").display(),
        dest.join("README.md").display()
    );
    Ok(crate::cli::exit::OK)
}
