//! The store contract, on PostgreSQL: each test gets a fresh database of the shared
//! throwaway cluster (or of the server `MINGMA_TEST_POSTGRES_URL` names).

use mingma_pgtest::PgCluster;
use mingma_store_postgres::PostgresStore;

async fn fresh() -> PostgresStore {
    let cluster = PgCluster::shared().expect("a PostgreSQL server for tests");
    let url = cluster
        .fresh_database("contract")
        .expect("a fresh database");
    PostgresStore::connect(&url).await.expect("connect")
}

mingma_store::contract_tests!(Box::new(fresh().await));
