//! Opening a store applies its pending migrations before anything is served; on a
//! large store one can take minutes, so each is logged as it starts and when it is
//! done. (A test binary of its own: a scoped log subscriber sees every event only
//! when no other test thread is logging meanwhile.)

use mingma_store_sqlite::SqliteStore;

/// What was logged, kept for a look.
#[derive(Clone, Default)]
struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log")).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;
    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}

#[test]
fn each_migration_applied_at_open_is_logged_before_and_after() {
    let dir = std::env::temp_dir().join(format!("mingma-migration-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("mingma.sqlite");
    let log = Log::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    {
        let _logging = tracing::subscriber::set_default(subscriber);
        drop(SqliteStore::open(&db).expect("open a new store"));
        // Opened again: nothing is pending, nothing is logged.
        drop(SqliteStore::open(&db).expect("open again"));
    }
    let logged = log.text();
    let _ = std::fs::remove_dir_all(&dir);
    for name in ["0001_initial", "0007_code_history_chain"] {
        for line in ["applying a store migration", "store migration applied"] {
            let wanted = format!("{line} migration=\"{name}\"");
            assert_eq!(logged.matches(&wanted).count(), 1, "{wanted}:\n{logged}");
        }
    }
}
