//! Real clusters: started with the machine's PostgreSQL, used through psql, stopped,
//! and cleaned up after a test process that was killed.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mingma_pgtest::{PgCluster, PgTestError, SERVER_SETTINGS};

/// The environment variable that turns [`child_helper`] into a helper process.
const CHILD_MODE: &str = "MINGMA_PGTEST_CHILD_MODE";

fn start_local() -> PgCluster {
    match PgCluster::start_local() {
        Ok(c) => c,
        Err(e) => panic!("could not start a throwaway cluster: {e}"),
    }
}

/// Whether process `pid` has exited (gone, or a zombie nobody has reaped yet).
fn process_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

fn postmaster_pid(data_dir: &Path) -> u32 {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).expect("postmaster.pid");
    text.lines().next().unwrap().trim().parse().unwrap()
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn a_cluster_serves_fresh_databases_durably_and_leaves_nothing() {
    let started = Instant::now();
    let cluster = start_local();
    let start_time = started.elapsed();
    assert!(!cluster.is_external());
    let root = cluster.socket_dir().unwrap().to_path_buf();
    let data = cluster.data_dir().unwrap().to_path_buf();
    assert!(data.join("PG_VERSION").is_file());
    assert_eq!(cluster.port(), Some(5432));
    assert!(cluster
        .url()
        .starts_with("postgresql://postgres@/postgres?host=/"));
    assert!(cluster.log_file().unwrap().is_file());
    assert!(cluster.bin_dir().unwrap().join("initdb").is_file());
    if running_as_root() {
        use std::os::unix::fs::MetadataExt;
        let owner = fs::metadata(&data).unwrap().uid();
        assert_ne!(
            owner, 0,
            "the data directory must belong to the postgres user"
        );
        assert_eq!(fs::metadata(&root).unwrap().mode() & 0o777, 0o700);
    }

    let settings = cluster.settings();
    eprintln!("{settings}");
    assert!(settings.fsync && settings.full_page_writes);
    assert_eq!(settings.synchronous_commit, "on");
    assert!(settings.is_durable());
    assert!(settings.server_version.starts_with(char::is_numeric));

    let a = cluster.fresh_database("first").unwrap();
    let b = cluster.fresh_database("second").unwrap();
    assert_ne!(a, b);
    for url in [&a, &b] {
        assert_eq!(cluster.psql(url, "SELECT 1").unwrap(), "1");
        for (name, value) in SERVER_SETTINGS {
            assert_eq!(cluster.psql(url, &format!("SHOW {name}")).unwrap(), value);
        }
        assert_eq!(cluster.psql(url, "SHOW listen_addresses").unwrap(), "");
        assert_eq!(cluster.psql(url, "SHOW server_encoding").unwrap(), "UTF8");
        assert_eq!(cluster.psql(url, "SHOW lc_collate").unwrap(), "C");
    }
    // Two databases, not one: a table made in one is not in the other.
    cluster
        .psql(&a, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
        .unwrap();
    assert_eq!(cluster.psql(&a, "SELECT x FROM t").unwrap(), "7");
    let missing = cluster.psql(&b, "SELECT x FROM t").unwrap_err();
    assert!(
        matches!(&missing, PgTestError::Psql { stderr, .. } if stderr.contains("does not exist")),
        "{missing}"
    );
    let name_a = cluster.psql(&a, "SELECT current_database()").unwrap();
    assert!(name_a.starts_with("mingma_first_"), "{name_a}");

    let pid = postmaster_pid(&data);
    let stopping = Instant::now();
    cluster.stop().unwrap();
    let stop_time = stopping.elapsed();
    eprintln!("start {start_time:?}, stop {stop_time:?}");
    assert!(!root.exists(), "{} must be removed", root.display());
    assert!(process_gone(pid), "the postmaster {pid} must have exited");
}

fn dropping_a_cluster_stops_it() {
    let cluster = start_local();
    let root = cluster.socket_dir().unwrap().to_path_buf();
    let pid = postmaster_pid(cluster.data_dir().unwrap());
    drop(cluster);
    assert!(!root.exists());
    assert!(process_gone(pid));
}

fn the_shared_cluster_is_started_once_and_serves_parallel_tests() {
    let first = PgCluster::shared().unwrap();
    let second = PgCluster::shared().unwrap();
    assert!(std::ptr::eq(first, second));
    let urls: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                s.spawn(move || {
                    let cluster = PgCluster::shared().unwrap();
                    let url = cluster.fresh_database(&format!("parallel {i}")).unwrap();
                    assert_eq!(cluster.psql(&url, "SELECT 1").unwrap(), "1");
                    url
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = urls.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), urls.len());
}

fn an_external_server_is_used_as_it_is() {
    let local = start_local();
    let external = PgCluster::external(local.url()).unwrap();
    assert!(external.is_external());
    assert_eq!(external.url(), local.url());
    assert_eq!(external.settings(), local.settings());
    assert_eq!(external.socket_dir(), None);
    let url = external.fresh_database("external").unwrap();
    assert_eq!(external.psql(&url, "SELECT 1").unwrap(), "1");
    external.stop().unwrap();
    // Stopping the external handle stopped nothing.
    assert_eq!(local.psql(&url, "SELECT 2").unwrap(), "2");
    local.stop().unwrap();

    let err = PgCluster::external("mysql://localhost/x").unwrap_err();
    assert!(matches!(err, PgTestError::BadUrl { .. }), "{err}");
}

/// Runs this test binary's [`child_helper`] in `mode`, with `env`.
fn child(mode: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD_MODE, mode)
        .env_remove(mingma_pgtest::URL_VAR)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    cmd
}

fn child_output(mode: &str, env: &[(&str, &str)]) -> String {
    let out = child(mode, env).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {mode} failed: {text}");
    text
}

/// A directory for a child's TMPDIR that the postgres user can pass through.
fn private_tmpdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pgtest-")
        .tempdir_in("/tmp")
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn a_killed_test_process_leaves_no_server_and_its_directory_is_swept() {
    // The child gets a TMPDIR of its own, so that no other test's start sweeps its
    // cluster: the server must stop because its owner died, and nothing else.
    let tmp = private_tmpdir();
    let tmpdir = tmp.path().to_str().unwrap();
    let mut holder = child("hold", &[("TMPDIR", tmpdir)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // libtest prints `test child_helper ... ` before the helper's own output, on
    // the same line.
    let stdout = holder.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("READY ") {
                let _ = tx.send(PathBuf::from(&line[at + "READY ".len()..]));
                return;
            }
        }
    });
    let root = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(root) => root,
        Err(_) => {
            let _ = holder.kill();
            let _ = holder.wait();
            let mut err = String::new();
            let _ = holder.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the holding child did not start a cluster: {err}");
        }
    };
    assert!(root.starts_with(tmp.path()));
    let pid = postmaster_pid(&root.join("data"));
    assert!(!process_gone(pid));

    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || process_gone(pid)),
        "the postmaster {pid} outlived its killed owner"
    );
    let log = fs::read_to_string(root.join("postgres.log")).unwrap();
    assert!(log.contains("immediate shutdown request"), "{log}");
    assert!(root.exists(), "nothing else may have removed it yet");

    // The next start, in any process, sweeps it.
    let out = child_output("start", &[("TMPDIR", tmpdir)]);
    assert!(out.contains("STARTED"), "{out}");
    assert!(!root.exists(), "{} was not swept", root.display());
    let base = root.parent().unwrap();
    assert_eq!(fs::read_dir(base).unwrap().count(), 0);
}

fn environment_problems_are_errors_that_say_what_to_do() {
    let out = child_output("error", &[("MINGMA_PG_BIN", "/nonexistent/pg/bin")]);
    assert!(out.contains("ERROR PostgreSQL programs not found"), "{out}");
    assert!(
        out.contains("MINGMA_PG_BIN=/nonexistent/pg/bin (no such directory)"),
        "{out}"
    );
    assert!(out.contains("apt-get install postgresql-15"), "{out}");

    let out = child_output("error", &[(mingma_pgtest::URL_VAR, "http://example/")]);
    assert!(
        out.contains("ERROR http://example/ is not a usable PostgreSQL URL"),
        "{out}"
    );

    if running_as_root() {
        let closed = tempfile::Builder::new()
            .prefix("pgtest-")
            .tempdir_in("/tmp")
            .unwrap();
        fs::set_permissions(closed.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let out = child_output("error", &[("TMPDIR", closed.path().to_str().unwrap())]);
        assert!(out.contains("cannot pass through it"), "{out}");
        assert!(out.contains("TMPDIR"), "{out}");
    }
}

fn the_url_variable_selects_an_external_server() {
    let local = start_local();
    let out = child_output("external", &[(mingma_pgtest::URL_VAR, local.url())]);
    assert!(out.contains("EXTERNAL mingma_from_env_"), "{out}");
    assert!(out.contains("fsync=on, synchronous_commit=on"), "{out}");
    local.stop().unwrap();
}

/// The helper process of the tests above: this binary run with
/// `MINGMA_PGTEST_CHILD_MODE` set.
fn child_helper() {
    let mode = std::env::var(CHILD_MODE).unwrap_or_default();
    match mode.as_str() {
        "hold" => {
            let cluster = start_local();
            println!("READY {}", cluster.socket_dir().unwrap().display());
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        "start" => {
            let cluster = start_local();
            println!("STARTED {}", cluster.socket_dir().unwrap().display());
            cluster.stop().unwrap();
        }
        "external" => {
            let cluster = PgCluster::start().unwrap();
            assert!(cluster.is_external());
            let url = cluster.fresh_database("from env").unwrap();
            let name = cluster.psql(&url, "SELECT current_database()").unwrap();
            println!("EXTERNAL {name} {}", cluster.settings());
        }
        "error" => match PgCluster::start() {
            Ok(_) => panic!("expected an error"),
            Err(e) => println!("ERROR {e}"),
        },
        other => panic!("unknown mode {other}"),
    }
}

/// A harness of its own (`harness = false`), so that the same binary can be the
/// helper process: with `MINGMA_PGTEST_CHILD_MODE` set it is the child, otherwise it
/// runs every test in turn and reports like the standard harness.
fn main() {
    if std::env::var_os(CHILD_MODE).is_some() {
        child_helper();
        return;
    }
    let tests: &[(&str, fn())] = &[
        (
            "a_cluster_serves_fresh_databases_durably_and_leaves_nothing",
            a_cluster_serves_fresh_databases_durably_and_leaves_nothing as fn(),
        ),
        (
            "dropping_a_cluster_stops_it",
            dropping_a_cluster_stops_it as fn(),
        ),
        (
            "the_shared_cluster_is_started_once_and_serves_parallel_tests",
            the_shared_cluster_is_started_once_and_serves_parallel_tests as fn(),
        ),
        (
            "an_external_server_is_used_as_it_is",
            an_external_server_is_used_as_it_is as fn(),
        ),
        (
            "a_killed_test_process_leaves_no_server_and_its_directory_is_swept",
            a_killed_test_process_leaves_no_server_and_its_directory_is_swept as fn(),
        ),
        (
            "environment_problems_are_errors_that_say_what_to_do",
            environment_problems_are_errors_that_say_what_to_do as fn(),
        ),
        (
            "the_url_variable_selects_an_external_server",
            the_url_variable_selects_an_external_server as fn(),
        ),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(test) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!("test result: {verdict}. {passed} passed; {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
