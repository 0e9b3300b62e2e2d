//! A `BEGIN` cut off by a caller that stops waiting must leave no transaction open on the
//! connection the pool hands out next (against a real PostgreSQL, see `test_postgres`).

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::postgres::run_to_completion;
use crate::test_postgres::fresh_database;

/// A `BEGIN` whose answer takes 200 ms, so that the caller's timeout cuts it off for sure.
const SLOW_BEGIN: &str = "BEGIN; SELECT pg_sleep(0.2)";

/// Whether the pool's one connection is inside a transaction block: `SAVEPOINT` is refused
/// anywhere else.
async fn left_inside_a_transaction(pool: &PgPool) -> bool {
    sqlx::query("SAVEPOINT probe").execute(pool).await.is_ok()
}

async fn one_connection() -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(&fresh_database().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_begin_cut_off_leaves_no_transaction_on_the_next_connection() {
    let pool = one_connection().await;
    let cut_off = tokio::time::timeout(
        Duration::from_millis(50),
        run_to_completion({
            let pool = pool.clone();
            async move { pool.begin_with(SLOW_BEGIN).await }
        }),
    )
    .await;
    assert!(cut_off.is_err(), "the timeout cut the begin off");
    assert!(!left_inside_a_transaction(&pool).await);
}

/// What `run_to_completion` is for: sqlx's own `begin` cut off at the same point leaves the
/// transaction open. If this fails, sqlx has fixed it and the task around `begin` can go.
#[tokio::test]
async fn sqlx_begin_cut_off_leaves_the_transaction_open() {
    let pool = one_connection().await;
    let cut_off =
        tokio::time::timeout(Duration::from_millis(50), pool.begin_with(SLOW_BEGIN)).await;
    assert!(cut_off.is_err(), "the timeout cut the begin off");
    assert!(left_inside_a_transaction(&pool).await);
}
