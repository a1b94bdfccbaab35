//! The schema, as embedded, versioned migrations.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// Every migration, in order. A new one is appended, never edited: the
/// checksum of each applied one is checked on every open.
const MIGRATIONS: [(i64, &str, &str); 2] = [
    (1, "schema", include_str!("../migrations/0001_schema.sql")),
    (2, "sealing", include_str!("../migrations/0002_sealing.sql")),
];

/// The migrator: sqlx applies what is missing, in one transaction each,
/// under an advisory lock, and refuses a database whose applied
/// migrations differ from these (edited, or from a newer build).
pub fn migrator() -> Migrator {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}
