//! The switchboard's machinery: what a dimension is, the atomic switch that holds its active
//! option and knobs, and the generic list / validate / apply that the admin API, the start-up
//! flags and the error messages all use. The dimensions themselves are listed once, in
//! [`crate::dimensions`].
//!
//! Everything is an atomic, so the admin API can flip a variant while requests are in flight:
//! a request reads the switch once when it starts and finishes on the variant it read.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use serde::Serialize;
use strum::{EnumMessage, IntoEnumIterator};

use crate::db::Backend;

/// A dimension is a small enum (declared with [`dimension!`](crate::dimension)); strum gives
/// it names (`kebab-case`), iteration and a one-line description per option.
pub trait Dimension:
    Copy
    + IntoEnumIterator
    + EnumMessage
    + std::str::FromStr
    + Into<&'static str>
    + Into<u8>
    + Send
    + Sync
    + 'static
{
    /// The dimension's name in the admin API, in labs and as a start-up flag (`--store`).
    const NAME: &'static str;
    /// The option the service starts with.
    const DEFAULT: Self;
    /// Numeric knobs that shape this dimension, e.g. `store.work_us`; `KNOBS[i].index == i`.
    const KNOBS: &'static [Knob] = &[];
    fn from_u8(v: u8) -> Self;
    /// Whether this option can run on this database (e.g. COPY needs PostgreSQL).
    fn check(self, _backend: Backend) -> Result<(), SettingsError> {
        Ok(())
    }
}

/// A numeric knob of a dimension. Declared as a `const` in the dimension's module, so code
/// reads it as `settings.store.knob(&store::WORK_US)`.
#[derive(Debug)]
pub struct Knob {
    /// Its position in the dimension's `KNOBS`.
    pub index: usize,
    pub name: &'static str,
    pub about: &'static str,
    pub default: u64,
    pub max: u64,
}

/// One dimension's switch: the active option and the knobs' values.
pub struct Switch<D: Dimension> {
    current: AtomicU8,
    knobs: Box<[AtomicU64]>,
    _dimension: PhantomData<D>,
}

impl<D: Dimension> Default for Switch<D> {
    fn default() -> Self {
        Switch {
            current: AtomicU8::new(D::DEFAULT.into()),
            knobs: D::KNOBS.iter().map(|k| AtomicU64::new(k.default)).collect(),
            _dimension: PhantomData,
        }
    }
}

impl<D: Dimension> Switch<D> {
    pub fn get(&self) -> D {
        D::from_u8(self.current.load(Ordering::Relaxed))
    }
    pub fn set(&self, v: D) {
        self.current.store(v.into(), Ordering::Relaxed);
    }
    /// A knob's current value; `knob` is one of `D::KNOBS`.
    pub fn knob(&self, knob: &Knob) -> u64 {
        self.knobs[knob.index].load(Ordering::Relaxed)
    }
}

/// How the generic code sees a switch, whatever its dimension.
pub trait AnySwitch: Send + Sync {
    fn name(&self) -> &'static str;
    fn options(&self) -> Vec<OptionInfo>;
    fn active(&self) -> &'static str;
    fn knobs(&self) -> &'static [Knob];
    fn knob_value(&self, index: usize) -> u64;
    /// Parses an option name and checks it can run here; returns its raw value.
    fn parse(&self, value: &serde_json::Value, backend: Backend) -> Result<u8, SettingsError>;
    fn set_raw(&self, raw: u8);
    fn set_knob(&self, index: usize, value: u64);
}

impl<D: Dimension> AnySwitch for Switch<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }
    fn options(&self) -> Vec<OptionInfo> {
        options_of::<D>()
    }
    fn active(&self) -> &'static str {
        self.get().into()
    }
    fn knobs(&self) -> &'static [Knob] {
        D::KNOBS
    }
    fn knob_value(&self, index: usize) -> u64 {
        self.knobs[index].load(Ordering::Relaxed)
    }
    fn parse(&self, value: &serde_json::Value, backend: Backend) -> Result<u8, SettingsError> {
        let text = value.as_str().ok_or_else(|| SettingsError::NotAnOption {
            dimension: D::NAME,
            got: value.to_string(),
        })?;
        let option = text
            .parse::<D>()
            .map_err(|_| SettingsError::UnknownOption {
                dimension: D::NAME,
                given: text.to_string(),
                options: D::iter().map(Into::into).collect(),
            })?;
        option.check(backend)?;
        Ok(option.into())
    }
    fn set_raw(&self, raw: u8) {
        self.set(D::from_u8(raw));
    }
    fn set_knob(&self, index: usize, value: u64) {
        self.knobs[index].store(value, Ordering::Relaxed);
    }
}

fn options_of<D: Dimension>() -> Vec<OptionInfo> {
    D::iter()
        .map(|o| OptionInfo {
            name: o.into(),
            about: o.get_message().unwrap_or_default(),
        })
        .collect()
}

/// A dimension as the start-up flags need it, before any switch exists.
pub struct DimensionSpec {
    pub name: &'static str,
    pub options: Vec<OptionInfo>,
    pub default: &'static str,
}

impl DimensionSpec {
    pub fn of<D: Dimension>() -> DimensionSpec {
        DimensionSpec {
            name: D::NAME,
            options: options_of::<D>(),
            default: D::DEFAULT.into(),
        }
    }
}

#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DimensionInfo {
    pub name: &'static str,
    pub active: &'static str,
    pub options: Vec<OptionInfo>,
}

#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct OptionInfo {
    pub name: &'static str,
    pub about: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KnobInfo {
    pub name: &'static str,
    pub about: &'static str,
    pub value: u64,
    pub max: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown setting {given:?}; dimensions: {}; knobs: {}", dimensions.join(", "), knobs.join(", "))]
    UnknownSetting {
        given: String,
        dimensions: Vec<&'static str>,
        knobs: Vec<&'static str>,
    },
    #[error("{dimension} takes an option name (a string), got {got}")]
    NotAnOption {
        dimension: &'static str,
        got: String,
    },
    #[error("unknown {dimension} option {given:?}; options: {}", options.join(", "))]
    UnknownOption {
        dimension: &'static str,
        given: String,
        options: Vec<&'static str>,
    },
    #[error("{knob} takes a non-negative integer, got {got}")]
    NotAnInteger { knob: &'static str, got: String },
    #[error("{knob} = {value} is out of range: allowed 0..={max}")]
    OutOfRange {
        knob: &'static str,
        value: u64,
        max: u64,
    },
    #[error(
        "{dimension}={option} needs {needs}; this service runs on {here} (start it with --database-url postgres://...)"
    )]
    Unsupported {
        dimension: &'static str,
        option: &'static str,
        needs: Backend,
        here: Backend,
    },
}

/// One validated entry of a change, ready to apply.
enum Change {
    Option {
        switch: usize,
        raw: u8,
    },
    Knob {
        switch: usize,
        knob: usize,
        value: u64,
    },
}

/// Lists every dimension with its options and the active one, and every knob.
pub fn describe(switches: &[&dyn AnySwitch]) -> (Vec<DimensionInfo>, Vec<KnobInfo>) {
    let dimensions = switches
        .iter()
        .map(|s| DimensionInfo {
            name: s.name(),
            active: s.active(),
            options: s.options(),
        })
        .collect();
    let knobs = switches
        .iter()
        .flat_map(|s| {
            s.knobs().iter().map(|k| KnobInfo {
                name: k.name,
                about: k.about,
                value: s.knob_value(k.index),
                max: k.max,
            })
        })
        .collect();
    (dimensions, knobs)
}

fn plan_one(
    switches: &[&dyn AnySwitch],
    name: &str,
    value: &serde_json::Value,
    backend: Backend,
) -> Result<Change, SettingsError> {
    if let Some(i) = switches.iter().position(|s| s.name() == name) {
        return Ok(Change::Option {
            switch: i,
            raw: switches[i].parse(value, backend)?,
        });
    }
    for (i, s) in switches.iter().enumerate() {
        if let Some(k) = s.knobs().iter().find(|k| k.name == name) {
            let v = value.as_u64().ok_or_else(|| SettingsError::NotAnInteger {
                knob: k.name,
                got: value.to_string(),
            })?;
            if v > k.max {
                return Err(SettingsError::OutOfRange {
                    knob: k.name,
                    value: v,
                    max: k.max,
                });
            }
            return Ok(Change::Knob {
                switch: i,
                knob: k.index,
                value: v,
            });
        }
    }
    Err(SettingsError::UnknownSetting {
        given: name.to_string(),
        dimensions: switches.iter().map(|s| s.name()).collect(),
        knobs: switches
            .iter()
            .flat_map(|s| s.knobs().iter().map(|k| k.name))
            .collect(),
    })
}

/// Checks every entry without changing anything.
pub fn validate(
    switches: &[&dyn AnySwitch],
    changes: &BTreeMap<String, serde_json::Value>,
    backend: Backend,
) -> Result<(), SettingsError> {
    for (k, v) in changes {
        plan_one(switches, k, v, backend)?;
    }
    Ok(())
}

/// Validates every entry, then applies all of them: a bad entry changes nothing.
pub fn apply(
    switches: &[&dyn AnySwitch],
    changes: &BTreeMap<String, serde_json::Value>,
    backend: Backend,
) -> Result<(), SettingsError> {
    let planned: Vec<Change> = changes
        .iter()
        .map(|(k, v)| plan_one(switches, k, v, backend))
        .collect::<Result<_, _>>()?;
    for change in planned {
        match change {
            Change::Option { switch, raw } => switches[switch].set_raw(raw),
            Change::Knob {
                switch,
                knob,
                value,
            } => switches[switch].set_knob(knob, value),
        }
    }
    Ok(())
}

/// Declares a dimension enum with strum's names and the [`Dimension`] plumbing in one place:
///
/// ```ignore
/// dimension! {
///     pub enum StoreKind as "store", default GlobalMutex {
///         GlobalMutex = "one std Mutex<HashMap> for every key",
///         Sharded = "DashMap: one lock per shard",
///     }
/// }
/// ```
/// A dimension with knobs names their `const`s, `knobs [WORK_US, IO_US]`; one whose options
/// depend on the database names a check function, `check supported_on`.
#[macro_export]
macro_rules! dimension {
    ($(#[$meta:meta])* $vis:vis enum $name:ident as $dim:literal, default $default:ident
        $(, knobs [$($knob:ident),* $(,)?])? $(, check $check:ident)? {
        $($(#[doc = $doc:literal])* $variant:ident = $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::EnumString,
                 strum::AsRefStr, strum::IntoStaticStr, strum::EnumMessage, strum::FromRepr)]
        #[strum(serialize_all = "kebab-case")]
        #[repr(u8)]
        $vis enum $name {
            $($(#[doc = $doc])* #[strum(message = $text)] $variant,)+
        }
        impl From<$name> for u8 {
            fn from(v: $name) -> u8 { v as u8 }
        }
        impl $crate::settings::Dimension for $name {
            const NAME: &'static str = $dim;
            const DEFAULT: Self = $name::$default;
            $(const KNOBS: &'static [$crate::settings::Knob] = &[$($knob),*];)?
            fn from_u8(v: u8) -> Self {
                // Only values written by `Switch::set` are ever stored.
                Self::from_repr(v).expect("switch holds a valid option")
            }
            $(fn check(self, backend: $crate::db::Backend) -> Result<(), $crate::settings::SettingsError> {
                $check(self, backend)
            })?
        }
    };
}

/// Declares the service's dimensions, once: the `Settings` struct (one switch per dimension,
/// for handlers to read), and the list every generic part walks (admin API, flags, errors).
#[macro_export]
macro_rules! registry {
    ($($field:ident: $ty:ty,)+) => {
        /// Every switch and knob of the service.
        #[derive(Default)]
        pub struct Settings {
            $(pub $field: $crate::settings::Switch<$ty>,)+
        }

        impl Settings {
            /// Every switch, in the registry's order.
            pub fn switches(&self) -> Vec<&dyn $crate::settings::AnySwitch> {
                vec![$(&self.$field),+]
            }
        }

        /// Every dimension, before any switch exists (for the start-up flags).
        pub fn specs() -> Vec<$crate::settings::DimensionSpec> {
            vec![$($crate::settings::DimensionSpec::of::<$ty>()),+]
        }
    };
}
