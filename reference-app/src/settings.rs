//! The switchboard: which implementation of each dimension is active, and the knobs that shape
//! them. Everything is an atomic, so the admin API can flip a variant while requests are in
//! flight: a request reads the switch once when it starts and finishes on the variant it read.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use serde::Serialize;
use strum::{EnumMessage, IntoEnumIterator};

/// A dimension is a small enum; strum gives it names (`kebab-case`), iteration and a
/// one-line description (`#[strum(message = "...")]`) for the admin listing.
pub trait Dimension:
    Copy + IntoEnumIterator + EnumMessage + std::str::FromStr + AsRef<str> + Into<u8> + Send + Sync
{
    const NAME: &'static str;
    fn from_u8(v: u8) -> Self;
}

/// One switch: an atomic holding the active option of dimension `D`.
pub struct Switch<D: Dimension> {
    current: AtomicU8,
    _dimension: PhantomData<D>,
}

impl<D: Dimension> Switch<D> {
    pub fn new(initial: D) -> Self {
        Switch {
            current: AtomicU8::new(initial.into()),
            _dimension: PhantomData,
        }
    }
    pub fn get(&self) -> D {
        D::from_u8(self.current.load(Ordering::Relaxed))
    }
    pub fn set(&self, v: D) {
        self.current.store(v.into(), Ordering::Relaxed);
    }
    pub fn describe(&self) -> DimensionInfo {
        DimensionInfo {
            name: D::NAME,
            active: self.get().as_ref().to_string(),
            options: D::iter()
                .map(|o| OptionInfo {
                    name: o.as_ref().to_string(),
                    about: o.get_message().unwrap_or_default(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, PartialEq)]
pub struct DimensionInfo {
    pub name: &'static str,
    pub active: String,
    pub options: Vec<OptionInfo>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct OptionInfo {
    pub name: String,
    pub about: &'static str,
}

/// A numeric knob (e.g. microseconds of work inside the critical section).
pub struct Param {
    pub name: &'static str,
    pub about: &'static str,
    pub max: u64,
    value: AtomicU64,
}

impl Param {
    pub const fn new(name: &'static str, about: &'static str, initial: u64, max: u64) -> Self {
        Param {
            name,
            about,
            max,
            value: AtomicU64::new(initial),
        }
    }
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
    pub fn set(&self, v: u64) -> Result<(), String> {
        if v > self.max {
            return Err(format!(
                "{} = {v} is out of range: allowed 0..={}",
                self.name, self.max
            ));
        }
        self.value.store(v, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ParamInfo {
    pub name: String,
    pub about: String,
    pub value: u64,
    pub max: u64,
}

/// Declares a dimension enum with strum's names and the `Dimension` plumbing in one place.
#[macro_export]
macro_rules! dimension {
    ($(#[$meta:meta])* $vis:vis enum $name:ident as $dim:literal {
        $($(#[doc = $doc:literal])* $variant:ident = $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::EnumString,
                 strum::AsRefStr, strum::EnumMessage, strum::FromRepr, clap::ValueEnum)]
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
            fn from_u8(v: u8) -> Self {
                // Only values written by `Switch::set` are ever stored.
                Self::from_repr(v).expect("switch holds a valid option")
            }
        }
    };
}
