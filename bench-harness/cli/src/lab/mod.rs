//! `perflab lab NAME`: build and load the lab's plugin, ask for a prediction, start what it
//! needs, run its variants in interleaved rounds, and write the report next to the service's
//! and the plugin's logs.

mod catalog;
mod convert;
mod crash;
mod prompt;
mod services;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use perflab_load::client::Target;
use perflab_plugin_host::params::describe_with_params;
use perflab_plugin_host::{Plugin, PluginHost, PluginLimits, PluginWorkload, build, wit};
use perflab_report::LabInfo;
use tokio_util::sync::CancellationToken;

pub use catalog::{list_labs, new_lab, repo_root};

use crate::args::LabArgs;
use crate::environment;
use crate::execute::{RunInfo, execute};
use crate::exit::Exit;
use crate::experiment::{Plan, Variant};
use crate::rounds::{Defaults, RoundPlan};
use crate::sweep::{SweepAxis, SweepInfo, SweepPoint, SweepSpec, execute_sweep};
use services::LabServices;

pub async fn run_lab(args: LabArgs, cancel: CancellationToken) -> anyhow::Result<Exit> {
    let root = repo_root()?;
    let dir = match &args.plugin {
        Some(_) => None,
        None => Some(catalog::lab_dir(&root, &args.name)?),
    };
    let host = PluginHost::new(PluginLimits::default())?;
    let plugin = load_plugin(
        &host,
        &root,
        dir.as_deref(),
        args.plugin.as_deref(),
        args.output.quiet,
    )?;
    let (desc, params) = describe_lab(&plugin, &args)?;
    let sweep = sweep_of(&plugin, &args, &params, &desc.name)?;
    let asked = match &args.join.prediction {
        // A workshop student who gave it on the command line is not asked again.
        Some(p) => {
            let _ = prompt::ask_prediction(&desc, true, args.output.quiet);
            Some(p.clone())
        }
        None => prompt::ask_prediction(&desc, args.no_prompt, args.output.quiet),
    };
    let joining = crate::workshop::joining(&args.join, &root, asked.clone()).await?;
    if joining.is_some() && (sweep.is_some() || args.capacity.slo.is_some()) {
        bail!(
            "--join sends one run's report: a sweep or a capacity search is many runs (--no-sweep)"
        );
    }
    let prediction = asked;
    // Checked before anything starts, also for a sweep's first point.
    let rounds = round_plan(&desc, &args)?;

    args.capacity.check_flags(&args.load, &args.output)?;
    let report_dir = match (&args.output.out, &sweep) {
        (Some(dir), _) => dir.clone(),
        (None, _) if args.capacity.slo.is_some() => {
            crate::capacity::capacity_dir(&args.output, &root.join("reports"), &desc.name)
        }
        (None, Some(spec)) => {
            crate::sweep::sweep_dir(&args.output, &root.join("reports"), &desc.name, spec)
        }
        (None, None) => {
            perflab_report::default_dir(&root.join("reports"), &desc.name, &crate::now_rfc3339())
        }
    };
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;
    let mut env = environment::capture(args.load.seed, args.load.threads);
    // Everything started here is stopped when `services` is dropped, whatever happens below.
    let mut services = LabServices::start(&desc, &args, &root, &report_dir, &mut env)?;
    // Before the measured rounds: the service comes back from a crash, or the lab stops here.
    let crash_checks = match plugin.crash_plan(&params)? {
        Some(plan) => crash::run(&plan, &desc.variants, &mut services, &cancel).await?,
        None => Vec::new(),
    };

    let focus = match &args.focus {
        Some(name) => Some(name.clone()),
        None => plugin.focus_by_default(&params)?,
    };
    let (target, _) = Target::resolve(&services.base_url, false).await?;
    let setup = LabSetup {
        plugin: &plugin,
        args: &args,
        target: &target,
        focus: focus.clone(),
        root: &root,
        env: &env,
        lab: LabInfo {
            summary: desc.summary.clone(),
            hypothesis: desc.teaching.hypothesis.clone(),
            prediction_prompt: desc.teaching.prediction_prompt.clone(),
            explanation: desc.teaching.explanation.clone(),
            database: args.db.name().to_string(),
            prediction,
            lessons: Vec::new(),
            crash_checks,
            focus,
        },
    };
    let mut output = args.output.clone();
    output.out = Some(report_dir.clone());
    // A workshop run is also watched as it goes, on the projector view.
    let projector = joining.as_ref().map(|j| {
        j.projector(
            &desc.name,
            desc.variants.iter().map(|v| v.name.clone()).collect(),
        )
    });
    let result = match &sweep {
        None if args.capacity.slo.is_some() => {
            search_capacity(&setup, &desc, &params, &output, &report_dir, cancel).await
        }
        None => {
            let mut plan = setup.plan(&desc, &params, rounds, &args.load)?;
            plan.live = projector.as_ref().map(|p| p.feed());
            execute(plan, &output, setup.run_info(&desc), cancel).await
        }
        Some(spec) => {
            let mut points = Vec::new();
            for value in &spec.values {
                let at = spec.load_at(&args.load, value);
                let (desc, params) = match &spec.axis {
                    SweepAxis::Param(name) => {
                        let mut point_args = args.clone();
                        point_args.params.push(format!("{name}={}", value.text));
                        describe_lab(&plugin, &point_args)?
                    }
                    _ => (desc.clone(), params.clone()),
                };
                let mut point_args = args.clone();
                point_args.load = at.clone();
                let rounds = round_plan(&desc, &point_args)?;
                let mut plan = setup.plan(&desc, &params, rounds, &at)?;
                spec.set_knob(&mut plan, value)?;
                points.push(SweepPoint {
                    value: value.clone(),
                    info: setup.run_info(&desc),
                    plan,
                });
            }
            let info = SweepInfo {
                name: desc.name.clone(),
                lab: Some(setup.lab.clone()),
                environment: env.clone(),
                seed: args.load.seed,
                load_description: format!("lab {}, {} set at each point", desc.name, spec.name()),
            };
            execute_sweep(spec, points, &output, info, &report_dir, cancel).await
        }
    };
    let _ = std::fs::write(report_dir.join("plugin.log"), plugin.log.all());
    drop(services);
    let watched = match projector {
        Some(p) => Some(p.close().await),
        None => None,
    };
    if let (Some(j), Some(watched)) = (&joining, &watched) {
        // The projector ends with the verdict the report brings, or with why none will come.
        let sent = match &result {
            Ok(_) => j.submit(&report_dir.join("report.json")).await,
            Err(e) => Err(format!("{e:#}")),
        };
        if let Err(why) = sent {
            watched.ended(why).await;
        }
    }
    if let Some(guide) = dir.map(|d| d.join("README.md")).filter(|g| g.is_file()) {
        println!("guide: {}", guide.display());
    }
    result
}

/// The lab's description with the run's parameters, reduced to an A/A pair with `--aa`.
fn describe_lab(
    plugin: &Plugin,
    args: &LabArgs,
) -> anyhow::Result<(wit::Description, Vec<wit::ParamValue>)> {
    let (mut desc, params) = describe(plugin, args)?;
    if let Some(variant) = &args.aa {
        desc = against_itself(desc, variant)?;
    }
    Ok((desc, params))
}

/// `--slo`: the lab's comparison at rates the capacity search chooses, one probe at a time.
async fn search_capacity(
    setup: &LabSetup<'_>,
    desc: &wit::Description,
    params: &[wit::ParamValue],
    output: &crate::args::OutputArgs,
    dir: &Path,
    cancel: CancellationToken,
) -> anyhow::Result<Exit> {
    let args = setup.args;
    let Some(slo) = args.capacity.slo else {
        bail!("a capacity search needs --slo");
    };
    let axis = crate::capacity::rate_axis();
    let point_at = async |value: crate::sweep::SweepValue| {
        let mut point_args = args.clone();
        point_args.load = axis.load_at(&args.load, &value);
        let rounds = round_plan(desc, &point_args)?;
        let plan = setup.plan(desc, params, rounds, &point_args.load)?;
        Ok(SweepPoint {
            value,
            info: setup.run_info(desc),
            plan,
        })
    };
    let info = SweepInfo {
        name: desc.name.clone(),
        lab: Some(setup.lab.clone()),
        environment: setup.env.clone(),
        seed: args.load.seed,
        load_description: format!(
            "lab {}, rate chosen by the capacity search for {slo}",
            desc.name
        ),
    };
    let settings = args.capacity.settings(&args.load);
    crate::capacity::execute_capacity(slo, settings, point_at, output, info, dir, cancel).await
}

/// The sweep to run: `--sweep`, else the lab's own (its `defaults.sweep`) unless `--no-sweep`
/// or a capacity search (`--slo`) replaces it; checked against the other flags before anything
/// starts.
fn sweep_of(
    plugin: &Plugin,
    args: &LabArgs,
    params: &[wit::ParamValue],
    lab: &str,
) -> anyhow::Result<Option<SweepSpec>> {
    let spec =
        match (&args.sweep, args.no_sweep) {
            (Some(spec), _) => Some(spec.clone()),
            (None, true) => None,
            (None, false) if args.capacity.slo.is_some() => None,
            (None, false) => match plugin.sweep_by_default(params)? {
                None => None,
                Some(text) => Some(text.parse::<SweepSpec>().map_err(|e| {
                    anyhow::anyhow!("lab {lab} declares a sweep it cannot run: {e}")
                })?),
            },
        };
    let Some(spec) = spec else {
        return Ok(None);
    };
    spec.check_flags(&args.load, &args.output)?;
    if let SweepAxis::Param(name) = &spec.axis {
        let prefix = format!("{name}=");
        if args.params.iter().any(|p| p.starts_with(&prefix)) {
            bail!(
                "--sweep {name}=… sets the parameter {name} at each point; --param {name}=… conflicts with it"
            );
        }
    }
    Ok(Some(spec))
}

/// What every plan of a lab run shares: the plugin, the service, the focus, the lab's text.
struct LabSetup<'a> {
    plugin: &'a Arc<Plugin>,
    args: &'a LabArgs,
    target: &'a Target,
    focus: Option<String>,
    root: &'a Path,
    env: &'a perflab_report::Environment,
    lab: LabInfo,
}

impl LabSetup<'_> {
    /// The plan for the lab described as `desc` with `params`, under `load`'s flags.
    fn plan(
        &self,
        desc: &wit::Description,
        params: &[wit::ParamValue],
        rounds: RoundPlan,
        load: &crate::args::LoadArgs,
    ) -> anyhow::Result<Plan> {
        let args = self.args;
        let body_need = perflab_plugin_host::convert::body_need(&desc.body_need);
        // Each variant's VUs are told which variant they run (`variant` among their params); an
        // A/A run's copy is told the original's name, so the plugin treats both alike.
        let workload = |variant: &str| {
            let told = match &args.aa {
                Some(original) if variant == aa_copy(original) => original.as_str(),
                _ => variant,
            };
            Arc::new(PluginWorkload::new(
                self.plugin.clone(),
                with_variant(params, told),
                body_need,
                load.seed,
            ))
        };
        Ok(Plan {
            model: rounds.model,
            settle: rounds.settle,
            warmup: rounds.warmup,
            stop: rounds.stop,
            policy: rounds.policy,
            readiness_path: args.target.is_none().then_some("/health/ready"),
            intervals: args.output.hlog.is_some(),
            profile: args.output.profile.plan_for_lab(
                &desc
                    .variants
                    .iter()
                    .map(|v| v.name.clone())
                    .collect::<Vec<_>>(),
                self.plugin.profile_by_default()?,
            )?,
            variants: desc
                .variants
                .iter()
                .map(|v| Variant {
                    name: v.name.clone(),
                    settings: convert::settings(&v.settings),
                    target: self.target.clone(),
                    workload: workload(&v.name),
                })
                .collect(),
            seed: load.seed,
            timeout: load.timeout,
            threads: load.threads,
            scrape_metrics: true,
            focus: self.focus.clone(),
            live: None,
            shard: None,
        })
    }

    fn run_info(&self, desc: &wit::Description) -> RunInfo {
        RunInfo {
            name: desc.name.clone(),
            lab: Some(self.lab.clone()),
            environment: self.env.clone(),
            thresholds: desc.thresholds.iter().map(convert::threshold).collect(),
            reports_root: self.root.join("reports"),
            calibration: crate::calibrate::note(&self.root.join(".perflab/calibration.json")),
            lessons: Some(Box::new({
                let plugin = self.plugin.clone();
                move |analysis| convert::lessons(&plugin, analysis)
            })),
        }
    }
}

/// `perflab labs`: each lab with its `summary` (from its plugin, built if needed), or the first
/// line of its guide when the plugin does not build.
pub fn print_labs() -> anyhow::Result<Exit> {
    let root = repo_root()?;
    let host = PluginHost::new(PluginLimits::default())?;
    for (name, dir) in list_labs(&root) {
        let summary = load_plugin(&host, &root, Some(&dir), None, true)
            .and_then(|p| Ok(p.describe(&[])?.summary))
            .unwrap_or_else(|e| {
                format!(
                    "{} (the plugin does not build: {})",
                    catalog::guide_line(&dir),
                    e.to_string().lines().next().unwrap_or_default()
                )
            });
        println!("{name:<20} {summary}");
    }
    Ok(Exit::Ok)
}

/// The most variants a lab may declare: each one multiplies the run's length.
const MAX_VARIANTS: usize = 32;

/// The run's parameters plus `variant`, unless the lab declares a parameter of that name.
fn with_variant(params: &[wit::ParamValue], variant: &str) -> Vec<wit::ParamValue> {
    let mut all = params.to_vec();
    if !all.iter().any(|p| p.name == "variant") {
        all.push(wit::ParamValue {
            name: "variant".into(),
            value: wit::Value::Text(variant.into()),
        });
    }
    all
}

/// Builds the lab's plugin (Rust or Python), or takes the given component, and loads it.
pub fn load_plugin(
    host: &Arc<PluginHost>,
    root: &Path,
    dir: Option<&Path>,
    file: Option<&Path>,
    quiet: bool,
) -> anyhow::Result<Arc<Plugin>> {
    let wasm: PathBuf = match (file, dir) {
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

/// The lab's description with the command line's `--param`s, checked against `--db`.
fn describe(
    plugin: &Plugin,
    args: &LabArgs,
) -> anyhow::Result<(wit::Description, Vec<wit::ParamValue>)> {
    let db = args.db.name();
    let (desc, params) = describe_with_params(plugin, &args.params, &[("db", db.to_string())])?;
    if desc.variants.len() > MAX_VARIANTS {
        bail!(
            "lab {} declares {} variants; the limit is {MAX_VARIANTS} (every variant runs in every block, so a run's length grows with them): split it into several labs",
            desc.name,
            desc.variants.len()
        );
    }
    if !desc.databases.iter().any(|d| d == db) {
        bail!(
            "lab {} runs on {}; --db {db} is not one of them",
            desc.name,
            desc.databases.join(" or ")
        );
    }
    Ok((desc, params))
}

/// The name of an A/A run's copy of `variant`.
fn aa_copy(variant: &str) -> String {
    format!("{variant}-again")
}

/// `--aa VARIANT`: the lab reduced to VARIANT and a copy of it with the same settings. Only
/// thresholds that apply to every variant alike are kept.
fn against_itself(mut desc: wit::Description, variant: &str) -> anyhow::Result<wit::Description> {
    let Some(original) = desc.variants.iter().find(|v| v.name == variant).cloned() else {
        bail!(
            "--aa {variant}: lab {} has no such variant; it has {}",
            desc.name,
            desc.variants
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let copy = wit::VariantDef {
        name: aa_copy(variant),
        description: format!("{variant} again, the same settings: an A/A comparison"),
        settings: original.settings.clone(),
    };
    desc.summary = format!("A/A: {variant} against itself. {}", desc.summary);
    desc.variants = vec![original, copy];
    desc.thresholds
        .retain(|t| t.variant.is_none() && t.relative_to.is_none());
    Ok(desc)
}

/// The rounds: the lab's load model (or its quick one) cut into short rounds, its declared time
/// as the budget, then the command line's flags on top.
fn round_plan(desc: &wit::Description, args: &LabArgs) -> anyhow::Result<RoundPlan> {
    let declared = perflab_plugin_host::convert::load_model(if args.quick {
        &desc.quick_load
    } else {
        &desc.load
    });
    declared
        .validate()
        .map_err(|e| anyhow::anyhow!("lab {}: its load model is invalid: {e}", desc.name))?;
    let warmup = Duration::from_millis(desc.warmup_ms);
    let defaults = if args.quick {
        Defaults::quick(warmup / 2)
    } else {
        // What the lab declares per variant (rounds × their length) is the budget per variant.
        Defaults::lab(
            declared.duration() * desc.rounds.max(1),
            desc.variants.len(),
            warmup,
        )
    };
    args.load
        .round_plan(declared, defaults)
        .with_context(|| format!("lab {}", desc.name))
}
