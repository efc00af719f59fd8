//! `sqlx::migrate!` embeds the migrations at compile time; without this, cargo would not notice
//! a new migration file and the binary would start without it (sqlx's documented build script).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
