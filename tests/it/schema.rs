//! Migrations are idempotent and `serve` refuses an old schema.

use crate::harness::*;

#[tokio::test]
async fn migrate_is_idempotent() {
    let db = TestDb::new("migrate").await;
    let cfg = config(&db);
    let again = veil::sink::schema::migrate(&cfg.clickhouse, &[])
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(
        veil::sink::schema::current_version(&db.client)
            .await
            .unwrap(),
        veil::sink::schema::latest_version()
    );
    db.drop().await;
}

#[tokio::test]
async fn serve_refuses_an_unmigrated_database() {
    let db = TestDb::new("unmigrated").await;
    let mut cfg = config(&db);
    cfg.clickhouse.database = format!("{}_empty", db.name);
    db.client
        .query(&format!("CREATE DATABASE {}", cfg.clickhouse.database))
        .execute()
        .await
        .unwrap();
    let err = match veil::start(
        cfg.clone(),
        std::sync::Arc::new(veil::clock::SystemClock),
        std::future::pending(),
    )
    .await
    {
        Ok(_) => panic!("started on an empty database"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("veil migrate"), "{err}");
    db.client
        .query(&format!("DROP DATABASE {}", cfg.clickhouse.database))
        .execute()
        .await
        .unwrap();
    db.drop().await;
}
