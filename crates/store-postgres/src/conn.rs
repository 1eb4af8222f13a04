//! Connections: a client with its prepared statements, and a small pool of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

use mingma_store::{Result, StoreError};

use crate::backend;
use crate::schema::Durability;

/// One connection and the statements prepared on it (each SQL text is prepared
/// once, then executed in one round trip).
pub(crate) struct Conn {
    client: Client,
    statements: Mutex<HashMap<String, Statement>>,
}

impl Conn {
    /// Connects, and refuses a session whose commits would not be durable.
    pub async fn open(config: &Config) -> Result<(Conn, Durability)> {
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            StoreError::Backend(format!("cannot connect: {}", crate::schema::describe(&e)))
        })?;
        // The connection task ends when the client is dropped or the server goes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let durability = Durability::read(&client).await?;
        durability.check()?;
        Ok((
            Conn {
                client,
                statements: Mutex::new(HashMap::new()),
            },
            durability,
        ))
    }

    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The prepared statement for `sql`.
    pub async fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(s) = self
            .statements
            .lock()
            .map_err(|_| StoreError::Backend("statement cache poisoned".into()))?
            .get(sql)
        {
            return Ok(s.clone());
        }
        let prepared = self.client.prepare(sql).await.map_err(backend)?;
        if let Ok(mut cache) = self.statements.lock() {
            cache.insert(sql.to_owned(), prepared.clone());
        }
        Ok(prepared)
    }

    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let statement = self.statement(sql).await?;
        self.client.query(&statement, params).await.map_err(backend)
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let statement = self.statement(sql).await?;
        self.client
            .query_opt(&statement, params)
            .await
            .map_err(backend)
    }

    pub async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let statement = self.statement(sql).await?;
        self.client
            .query_one(&statement, params)
            .await
            .map_err(backend)
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let statement = self.statement(sql).await?;
        self.client
            .execute(&statement, params)
            .await
            .map_err(backend)
    }

    /// Runs statements without parameters (transaction control, DDL).
    pub async fn batch(&self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(backend)
    }
}

/// Read connections, used round robin; several queries on one connection are
/// pipelined. A connection found closed is replaced on next use.
pub(crate) struct Pool {
    config: Config,
    slots: Vec<RwLock<Arc<Conn>>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Pool {
    pub async fn open(config: Config, size: usize) -> Result<Pool> {
        let mut slots = Vec::with_capacity(size);
        for _ in 0..size.max(1) {
            let (conn, _) = Conn::open(&config).await?;
            slots.push(RwLock::new(Arc::new(conn)));
        }
        Ok(Pool {
            config,
            slots,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A connection to read with.
    pub async fn get(&self) -> Result<Arc<Conn>> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.slots.len();
        let slot = self
            .slots
            .get(n)
            .ok_or_else(|| StoreError::Backend("empty connection pool".into()))?;
        let conn = slot
            .read()
            .map_err(|_| StoreError::Backend("connection pool poisoned".into()))?
            .clone();
        if !conn.is_closed() {
            return Ok(conn);
        }
        let (fresh, _) = Conn::open(&self.config).await?;
        let fresh = Arc::new(fresh);
        *slot
            .write()
            .map_err(|_| StoreError::Backend("connection pool poisoned".into()))? = fresh.clone();
        Ok(fresh)
    }
}
