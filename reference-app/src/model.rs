//! The data the service serves and stores, shared by several dimensions: user records and
//! their deterministic sample data, and the upstream's quote.

use serde::{Deserialize, Serialize};

/// A realistic record: what a user-list endpoint of a real backend returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: i64,
    pub active: bool,
    pub score: f64,
    #[serde(deserialize_with = "crate::limits::bounded::tags")]
    pub tags: Vec<String>,
    pub address: Address,
}

/// A list of user records as a client sends it: at most `MAX_USERS`, counted while decoding.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Users(#[serde(deserialize_with = "crate::limits::bounded::users")] pub Vec<Profile>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub country: String,
    pub postal_code: String,
}

const FIRST: [&str; 8] = [
    "Minji", "Jisoo", "Alex", "Sam", "Hana", "Joon", "Maria", "Chen",
];
const LAST: [&str; 8] = [
    "Kim", "Lee", "Park", "Smith", "Garcia", "Choi", "Wang", "Jung",
];
const CITIES: [&str; 5] = ["Seoul", "Busan", "Lisbon", "Toronto", "Osaka"];
const TAGS: [&str; 6] = ["admin", "beta", "premium", "trial", "staff", "verified"];

/// Deterministic sample data (no RNG: the same request always yields the same bytes).
pub fn sample_profiles(count: usize) -> Vec<Profile> {
    (0..count as i64)
        .map(|i| {
            let u = i as usize;
            let first = FIRST[u % FIRST.len()];
            let last = LAST[(u / FIRST.len()) % LAST.len()];
            Profile {
                id: i + 1,
                name: format!("{first} {last}"),
                email: format!(
                    "{}.{}{}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    i + 1
                ),
                created_at: 1_700_000_000 + i * 37,
                active: i % 7 != 0,
                score: (i % 1000) as f64 / 10.0,
                tags: (0..(u % 3))
                    .map(|t| TAGS[(u + t) % TAGS.len()].to_string())
                    .collect(),
                address: Address {
                    street: format!("{} Main Street", 1 + u % 250),
                    city: CITIES[u % CITIES.len()].to_string(),
                    country: "KR".to_string(),
                    postal_code: format!("{:05}", 10000 + u % 90000),
                },
            }
        })
        .collect()
}

/// What the database's `users` table holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: i64,
}

pub fn sample_users(count: usize) -> Vec<User> {
    sample_profiles(count)
        .into_iter()
        .map(|p| User {
            id: p.id,
            name: p.name,
            email: p.email,
            created_at: p.created_at,
        })
        .collect()
}

/// What the upstream "external service" answers.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quote {
    pub id: u64,
    pub price_cents: u64,
    pub currency: String,
}

impl Quote {
    /// The upstream's price for a product: a pure function of the id, so that every way of
    /// asking for it (one call, many, a batch) can be checked against the same answer.
    pub fn of(id: u64) -> Quote {
        Quote {
            id,
            price_cents: 1_000 + id % 9_000,
            currency: "KRW".into(),
        }
    }
}
