//! Limits on what one request may ask for, each with its reason. Bad input beyond them is a
//! 4xx that names the limit, never a panic or an unbounded allocation.

/// Request bodies above this size get a 413 (a 100 000-row bulk insert fits).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// A stored value (`PUT /store/{key}`, `PUT /redis/{key}`).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Users one `GET /codec/users?count=N` may ask for.
pub const MAX_USERS: usize = 10_000;
/// Rows in one bulk insert.
pub const MAX_ROWS_PER_REQUEST: usize = 100_000;
/// Ids one `POST /durability/audit` may check (a crash check writes for a second or two).
pub const MAX_AUDIT_IDS: usize = 1_000_000;
/// Items in one basket (`batch.items`), and ids in one call of the upstream's batch endpoint.
pub const MAX_BATCH_IDS: usize = 1_000;
/// Tags on one user record.
pub const MAX_TAGS: usize = 16;

/// Decoding that refuses a list longer than its limit *while* reading it, so a 32 MiB body of
/// five million tiny rows is turned down after the limit, not after it has been decoded into
/// gigabytes. (serde has no bounded collections built in.)
pub mod bounded {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::Deserializer;
    use serde::de::{Deserialize, Error, SeqAccess, Visitor};

    struct AtMost<T, const N: usize>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for AtMost<T, N> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of at most {N} items")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // The size hint comes from the client: trust it only up to the limit.
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N).min(4096));
            while let Some(item) = seq.next_element()? {
                if out.len() == N {
                    return Err(A::Error::custom(format!("more than {N} items")));
                }
                out.push(item);
            }
            Ok(out)
        }
    }

    pub fn at_most<'de, const N: usize, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(AtMost::<T, N>(PhantomData))
    }

    /// `events` of a bulk insert.
    pub fn rows<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        at_most::<{ super::MAX_ROWS_PER_REQUEST }, D, T>(d)
    }

    /// `tags` of a user record.
    pub fn tags<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        at_most::<{ super::MAX_TAGS }, D, T>(d)
    }

    /// The ids of `POST /durability/audit`.
    pub fn audit_ids<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        at_most::<{ super::MAX_AUDIT_IDS }, D, T>(d)
    }

    /// The users of `POST /codec/users`.
    pub fn users<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        at_most::<{ super::MAX_USERS }, D, T>(d)
    }
}
