//! What a `next-request` call is made of: calls of growing shape into one guest
//! (`tests/fixtures/call-shapes`), from a free function with a number in and out to the record
//! perflab's `next-request` returns. Each guest function does as little as its shape allows,
//! and the engine is configured as perflab's plugin host configures it, so each step of the
//! ladder is what that part of the shape costs in wasmtime. Run with `just bench-plugins`.
//!
//! Rounds as in `plugin_calls`: every round measures every shape once, so the differences
//! between neighbouring shapes are taken within a round, in the same machine weather.

use std::hint::black_box;
use std::rc::Rc;
use std::time::Instant;

use perflab_plugin_host::build;
use perflab_plugin_host::host::engine_config;
use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod common;
use common::{median, root};

wasmtime::component::bindgen!({
    path: "../../tests/fixtures/call-shapes/wit",
    world: "call-shapes",
});

const ROUNDS: usize = 5;
const BATCHES: usize = 3;
const CALLS_PER_BATCH: u64 = 100_000;

/// A deny-all WASI context: the guest's std links against WASI but never uses it here.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// One rung of the ladder: a label, what it adds to the rung before, and the calls.
type Calls = Box<dyn Fn(&mut Store<State>, u64)>;
struct Shape {
    label: &'static str,
    adds: &'static str,
    calls: Calls,
}

/// Median over `BATCHES` batches, in ns per call.
fn measure(store: &mut Store<State>, calls: &Calls) -> f64 {
    median(
        (0..BATCHES)
            .map(|_| {
                let start = Instant::now();
                calls(store, CALLS_PER_BATCH);
                start.elapsed().as_nanos() as f64 / CALLS_PER_BATCH as f64
            })
            .collect(),
    )
}

fn main() {
    let wasm = build::build_rust(&root().join("tests/fixtures/call-shapes"), &root(), true)
        .unwrap_or_else(|e| panic!("the call-shapes guest builds: {e}"));
    let engine = Engine::new(&engine_config()).unwrap();
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let component = Component::from_file(&engine, &wasm).unwrap();
    let mut store = Store::new(
        &engine,
        State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    // The epoch checks run as in perflab; nothing advances the epoch here, so none fires.
    store.set_epoch_deadline(u64::MAX / 2);
    let guest = CallShapes::instantiate(&mut store, &component, &linker).unwrap();
    let user = guest
        .perflab_bench_call_shapes_shapes()
        .user()
        .call_constructor(&mut store)
        .unwrap();

    let guest = Rc::new(guest);
    let shape = |label, adds, call: fn(&CallShapes, &mut Store<State>, ResourceAny, u64)| {
        let guest = guest.clone();
        Shape {
            label,
            adds,
            calls: Box::new(move |store, n| {
                for i in 0..n {
                    call(&guest, store, user, i);
                }
            }),
        }
    };
    // A method of the `user` resource; `black_box` keeps its result alive, so lifting it is
    // not optimised away.
    macro_rules! user_method {
        ($label:expr, $adds:expr, $method:ident) => {
            shape($label, $adds, |g, s, u, i| {
                let _ = black_box(
                    g.perflab_bench_call_shapes_shapes()
                        .user()
                        .$method(s, u, i)
                        .unwrap(),
                );
            })
        };
    }
    let shapes = [
        shape(
            "free-number: func(u64) -> u64",
            "entering and leaving the instance",
            |g, s, _, i| {
                black_box(
                    g.perflab_bench_call_shapes_shapes()
                        .call_free_number(s, i)
                        .unwrap(),
                );
            },
        ),
        user_method!(
            "user.number: func(u64) -> u64",
            "borrowing the resource",
            call_number
        ),
        user_method!(
            "user.path -> string",
            "a result in guest memory: a string, post-return",
            call_path
        ),
        user_method!(
            "user.lean-request -> {method, path, u32}",
            "a record around the string",
            call_lean_request
        ),
        user_method!(
            "user.plain-request -> request",
            "a name string, header and body lists",
            call_plain_request
        ),
        user_method!(
            "user.request -> result<request, string>",
            "result<> around it: next-request's shape",
            call_request
        ),
    ];

    let mut rounds: Vec<Vec<f64>> = Vec::new();
    for round in 1..=ROUNDS {
        eprint!("\rround {round}/{ROUNDS}");
        rounds.push(
            shapes
                .iter()
                .map(|s| measure(&mut store, &s.calls))
                .collect(),
        );
    }
    eprintln!();

    println!(
        "\n{:<44} {:>10} {:>10}  adds",
        "call (median over rounds)", "per call", "step"
    );
    for (k, shape) in shapes.iter().enumerate() {
        let per_call = median(rounds.iter().map(|r| r[k]).collect());
        let step = if k == 0 {
            String::new()
        } else {
            format!(
                "{:+.0} ns",
                median(rounds.iter().map(|r| r[k] - r[k - 1]).collect())
            )
        };
        println!(
            "{:<44} {:>7.0} ns {:>10}  {}",
            shape.label, per_call, step, shape.adds
        );
    }
    println!(
        "\n{ROUNDS} rounds of {BATCHES} batches of {CALLS_PER_BATCH} calls; steps are per-round differences."
    );
}
