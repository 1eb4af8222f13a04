//! A throwaway cluster: `initdb` into a fresh directory, the postmaster as a child of
//! a thread of this process, `pg_ctl stop -m immediate` and removal at the end, and
//! the sweeping of clusters whose process died without stopping them. The crate
//! documentation explains the design.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::bins::{Search, ServerBins};
use crate::sys::{self, Account};
use crate::{PgTestError, SERVER_SETTINGS, SUPERUSER};

/// The port number. With `listen_addresses=''` it only names the socket file
/// (`.s.PGSQL.5432`) in the cluster's own directory, so it can never be taken by
/// another server.
pub(crate) const PORT: u16 = 5432;

/// The system user the server runs as when this process is root.
const SYSTEM_USER: &str = "postgres";

/// How long the postmaster may take to accept connections (pg_ctl's default).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long `pg_ctl stop` and the reaping of the postmaster may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest Unix socket path (`sun_path` holds 108 bytes with the final NUL).
const MAX_SOCKET_PATH: usize = 107;

/// A running cluster in a directory of its own.
pub(crate) struct LocalCluster {
    /// `$TMPDIR/mingma-pgtest-<euid>/c-<pid>-<start time>-<random>`: the socket
    /// directory, holding `data/` and `postgres.log`.
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    bins: ServerBins,
    run_as: Option<Account>,
    pid: u32,
    /// How the postmaster ended, sent by the thread that started and waits for it.
    exit_rx: Mutex<Receiver<io::Result<ExitStatus>>>,
    exit: Option<String>,
    owner: Option<JoinHandle<()>>,
    stopped: bool,
}

impl LocalCluster {
    /// Finds the programs, sweeps stale clusters, runs initdb, starts the server and
    /// waits until it accepts connections.
    pub fn start() -> Result<Self, PgTestError> {
        let bins = Search::from_env().server()?;
        let euid = sys::effective_uid();
        let run_as =
            match euid {
                Some(0) => Some(sys::lookup_user(SYSTEM_USER).ok_or_else(|| {
                    PgTestError::NoSystemUser {
                        user: SYSTEM_USER.into(),
                    }
                })?),
                _ => None,
            };
        let base = prepare_base(euid, run_as.as_ref())?;
        sweep_stale(&base, &bins, run_as.as_ref());
        let root = create_cluster_dir(&base, run_as.as_ref())?;
        let result = Self::start_in(&root, bins, run_as);
        if result.is_err() {
            // A started server was stopped and the directory removed by `stop`;
            // this covers the failures before that.
            let _ = fs::remove_dir_all(&root);
        }
        result
    }

    fn start_in(
        root: &Path,
        bins: ServerBins,
        run_as: Option<Account>,
    ) -> Result<Self, PgTestError> {
        let socket_dir = socket_dir_setting(root)?;
        let data = root.join("data");
        let log = root.join("postgres.log");

        let mut initdb = pg_command(&bins.initdb, root, run_as.as_ref());
        initdb.arg("-D").arg(&data).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        run(initdb, run_as.as_ref())?;

        let log_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| PgTestError::io(format!("could not create {}", log.display()), e))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| PgTestError::io(format!("could not reopen {}", log.display()), e))?;

        let mut server = match parent_death_wrapper(&bins.postgres) {
            Some(setpriv) => {
                let mut c = pg_command(setpriv, root, run_as.as_ref());
                c.args(["--pdeathsig", "QUIT", "--"]).arg(&bins.postgres);
                c
            }
            None => pg_command(&bins.postgres, root, run_as.as_ref()),
        };
        server
            .arg("-D")
            .arg(&data)
            .args(["-c", "listen_addresses="])
            .arg("-c")
            .arg(format!("unix_socket_directories={socket_dir}"))
            .arg("-c")
            .arg(format!("port={PORT}"));
        for (name, value) in SERVER_SETTINGS {
            server.arg("-c").arg(format!("{name}={value}"));
        }
        server.stdout(log_file).stderr(log_err);
        let command = describe(&server);
        let (pid, exit_rx, owner) =
            spawn_owned(server).map_err(|e| spawn_error(command, run_as.as_ref(), e))?;

        let mut cluster = LocalCluster {
            root: root.to_path_buf(),
            data,
            log,
            bins,
            run_as,
            pid,
            exit_rx: Mutex::new(exit_rx),
            exit: None,
            owner: Some(owner),
            stopped: false,
        };
        if let Err(e) = cluster.wait_ready() {
            let _ = cluster.stop();
            return Err(e);
        }
        Ok(cluster)
    }

    /// The directory holding the socket, the data directory and the log.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server's log file.
    pub fn log_file(&self) -> &Path {
        &self.log
    }

    /// The directory of the server programs used.
    pub fn bin_dir(&self) -> &Path {
        &self.bins.dir
    }

    /// The `psql` found with the server programs.
    pub fn psql(&self) -> &Path {
        &self.bins.psql
    }

    /// The URL of the `postgres` database over the cluster's Unix socket.
    pub fn url(&self) -> String {
        format!(
            "postgresql://{SUPERUSER}@/postgres?host={}&port={PORT}",
            crate::url::encode(&self.root.to_string_lossy(), true)
        )
    }

    /// Waits as `pg_ctl -w start` does: until postmaster.pid names our postmaster
    /// and says `ready`.
    fn wait_ready(&mut self) -> Result<(), PgTestError> {
        let started = Instant::now();
        let pid_file = self.data.join("postmaster.pid");
        loop {
            if let Some(status) = self.poll_exit() {
                return Err(PgTestError::ServerExited {
                    status,
                    log: self.log.clone(),
                    log_tail: log_tail(&self.log),
                });
            }
            if let Ok(text) = fs::read_to_string(&pid_file) {
                if postmaster_ready(&text, self.pid) {
                    return Ok(());
                }
            }
            if started.elapsed() >= START_TIMEOUT {
                return Err(PgTestError::StartTimeout {
                    waited_secs: START_TIMEOUT.as_secs(),
                    log: self.log.clone(),
                    log_tail: log_tail(&self.log),
                });
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// How the postmaster ended, if it has.
    fn poll_exit(&mut self) -> Option<String> {
        self.wait_exit(Duration::ZERO)
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<String> {
        if self.exit.is_none() {
            let rx = self.exit_rx.get_mut().unwrap_or_else(|e| e.into_inner());
            let received = if timeout.is_zero() {
                rx.try_recv().map_err(|e| match e {
                    mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            } else {
                rx.recv_timeout(timeout)
            };
            self.exit = match received {
                Ok(Ok(status)) => Some(status.to_string()),
                Ok(Err(e)) => Some(format!("could not wait for it: {e}")),
                Err(RecvTimeoutError::Disconnected) => Some("its watcher thread ended".into()),
                Err(RecvTimeoutError::Timeout) => None,
            };
        }
        self.exit.clone()
    }

    /// Stops the server (`pg_ctl stop -m immediate`), waits until it has exited and
    /// removes the directory. Calling it again does nothing.
    pub fn stop(&mut self) -> Result<(), PgTestError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let mut failure = None;
        if self.poll_exit().is_none() {
            let mut pg_ctl = pg_command(&self.bins.pg_ctl, &self.root, self.run_as.as_ref());
            pg_ctl
                .arg("stop")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "-t"])
                .arg(STOP_TIMEOUT.as_secs().to_string());
            if let Err(e) = run(pg_ctl, self.run_as.as_ref()) {
                failure = Some(e.to_string());
            }
            if self.wait_exit(STOP_TIMEOUT).is_none() {
                // Last resort: the backends notice their postmaster's death and exit.
                let _ = Command::new("kill")
                    .args(["-KILL", &self.pid.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                if self.wait_exit(Duration::from_secs(5)).is_none() {
                    return Err(PgTestError::Stop {
                        pid: self.pid,
                        data_dir: self.data.clone(),
                        reason: failure.unwrap_or_else(|| {
                            "it was still running after pg_ctl stop and SIGKILL".into()
                        }),
                    });
                }
            }
        }
        if let Some(owner) = self.owner.take() {
            let _ = owner.join();
        }
        match fs::remove_dir_all(&self.root) {
            Err(e) if self.root.exists() => Err(PgTestError::io(
                format!("could not remove {}", self.root.display()),
                e,
            )),
            _ => Ok(()),
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("mingma-pgtest: {e}");
        }
    }
}

/// A command for a PostgreSQL program: as the `postgres` user when this process is
/// root (the same setgid/setgroups/setuid as `runuser -u postgres`, done by std
/// between fork and exec), in `cwd`, with no `PG*` variables and C messages.
fn pg_command(program: &Path, cwd: &Path, run_as: Option<&Account>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .env("LC_ALL", "C")
        .env("TZ", "UTC");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            cmd.env_remove(name);
        }
    }
    if let Some(account) = run_as {
        cmd.uid(account.uid).gid(account.gid);
        cmd.env("HOME", cwd).env("USER", &account.name);
    }
    cmd
}

/// Runs a command to its end; its standard output, or an error with what it printed.
fn run(mut cmd: Command, run_as: Option<&Account>) -> Result<String, PgTestError> {
    let command = describe(&cmd);
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| spawn_error(command.clone(), run_as, e))?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        return Err(PgTestError::CommandFailed {
            command,
            status: out.status.to_string(),
            output: last_lines(&text, 30),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn spawn_error(command: String, run_as: Option<&Account>, e: io::Error) -> PgTestError {
    match run_as {
        Some(a) => PgTestError::RunAs {
            command,
            user: a.name.clone(),
            uid: a.uid,
            gid: a.gid,
            source: Arc::new(e),
        },
        None => PgTestError::Spawn {
            command,
            source: Arc::new(e),
        },
    }
}

/// The command line, for messages.
fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains([' ', '\'', '"']) {
            parts.push(format!("'{}'", arg.replace('\'', "'\\''")));
        } else {
            parts.push(arg.into_owned());
        }
    }
    parts.join(" ")
}

/// Starts `cmd` from a thread that then waits for it, and lives exactly as long as
/// it. The thread matters: a parent-death signal (`setpriv --pdeathsig`) is sent
/// when the *thread* that started the child ends, so it must not be a test's thread
/// but one that ends only with the postmaster, or with the process.
fn spawn_owned(
    mut cmd: Command,
) -> io::Result<(u32, Receiver<io::Result<ExitStatus>>, JoinHandle<()>)> {
    let (pid_tx, pid_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel();
    let owner = thread::Builder::new()
        .name("mingma-pgtest-postmaster".into())
        .spawn(move || {
            let spawned = cmd.spawn();
            // Closes this process's copies of the child's stdio (the log file).
            drop(cmd);
            match spawned {
                Err(e) => {
                    let _ = pid_tx.send(Err(e));
                }
                Ok(mut child) => {
                    let _ = pid_tx.send(Ok(child.id()));
                    let _ = exit_tx.send(child.wait());
                }
            }
        })?;
    let pid = pid_rx
        .recv()
        .map_err(|_| io::Error::other("the thread starting the server ended"))??;
    Ok((pid, exit_rx, owner))
}

/// util-linux's `setpriv`, if it is here and can set a parent-death signal (2.33 or
/// later), tried once per process on the server program itself.
fn parent_death_wrapper(postgres: &Path) -> Option<&'static Path> {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join("setpriv"))
                        .collect()
                })
                .unwrap_or_default();
            candidates.push(PathBuf::from("/usr/bin/setpriv"));
            let setpriv = candidates.into_iter().find(|p| sys::is_executable(p))?;
            let works = Command::new(&setpriv)
                .args(["--pdeathsig", "QUIT", "--"])
                .arg(postgres)
                .arg("--version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            works.then_some(setpriv)
        })
        .as_deref()
}

/// Whether a postmaster.pid names postmaster `pid` and says it accepts connections
/// (line 8, as pg_ctl reads it).
fn postmaster_ready(pid_file: &str, pid: u32) -> bool {
    let mut lines = pid_file.lines();
    lines.next().map(str::trim) == Some(pid.to_string().as_str())
        && lines.nth(6).map(str::trim) == Some("ready")
}

/// `$TMPDIR/mingma-pgtest-<euid>`, created if needed, a real directory of this user
/// that the server's user can pass through.
fn prepare_base(euid: Option<u32>, run_as: Option<&Account>) -> Result<PathBuf, PgTestError> {
    let owner = euid.map_or_else(|| "unknown".to_owned(), |u| u.to_string());
    let base = std::env::temp_dir().join(format!("mingma-pgtest-{owner}"));
    match fs::create_dir(&base) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(PgTestError::io(
                format!("could not create {}", base.display()),
                e,
            ))
        }
    }
    let meta = fs::symlink_metadata(&base)
        .map_err(|e| PgTestError::io(format!("could not inspect {}", base.display()), e))?;
    let unusable = |reason: String| PgTestError::UnusableDirectory {
        path: base.clone(),
        reason,
    };
    if !meta.is_dir() {
        return Err(unusable(
            "it is not a directory (a link?); remove it".into(),
        ));
    }
    if let Some(euid) = euid {
        if meta.uid() != euid {
            return Err(unusable(format!(
                "it belongs to uid {}, not to this user (uid {euid}); remove it",
                meta.uid()
            )));
        }
    }
    // The server's user only passes through to its own cluster directory.
    let mode = if run_as.is_some() { 0o711 } else { 0o700 };
    if meta.mode() & 0o777 != mode {
        fs::set_permissions(&base, fs::Permissions::from_mode(mode))
            .map_err(|e| PgTestError::io(format!("could not chmod {}", base.display()), e))?;
    }
    if let Some(account) = run_as {
        for dir in base.ancestors().skip(1) {
            let Ok(meta) = fs::metadata(dir) else {
                continue;
            };
            if !can_pass(&meta, account) {
                return Err(PgTestError::UnusableDirectory {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "the {} user (uid {}) cannot pass through it to reach {}; \
                         point TMPDIR at a directory it can reach, such as /tmp",
                        account.name,
                        account.uid,
                        base.display()
                    ),
                });
            }
        }
    }
    Ok(base)
}

fn can_pass(meta: &fs::Metadata, account: &Account) -> bool {
    let mode = meta.mode();
    if meta.uid() == account.uid {
        mode & 0o100 != 0
    } else if meta.gid() == account.gid {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

/// A new directory `c-<pid>-<start time>-<random>` in `base`, mode 0700, owned by
/// the server's user. The name says which process owns it, for [`sweep_stale`].
fn create_cluster_dir(base: &Path, run_as: Option<&Account>) -> Result<PathBuf, PgTestError> {
    let pid = std::process::id();
    let start = sys::process_start_time(pid).unwrap_or(0);
    let mut last_error = None;
    for _ in 0..16 {
        let dir = base.join(format!(
            "c-{pid}-{start}-{:08x}",
            crate::random_u64() & 0xffff_ffff
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                let prepared = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .and_then(|()| match run_as {
                        Some(a) => std::os::unix::fs::chown(&dir, Some(a.uid), Some(a.gid)),
                        None => Ok(()),
                    });
                if let Err(e) = prepared {
                    let _ = fs::remove_dir(&dir);
                    return Err(PgTestError::io(
                        format!("could not give {} to the server's user", dir.display()),
                        e,
                    ));
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => {
                return Err(PgTestError::io(
                    format!("could not create {}", dir.display()),
                    e,
                ))
            }
        }
    }
    Err(PgTestError::io(
        format!("could not create a new directory in {}", base.display()),
        last_error.unwrap_or_else(|| io::Error::other("no free name")),
    ))
}

/// The owner's pid and start time from a cluster directory's name.
pub(crate) fn parse_cluster_dir_name(name: &str) -> Option<(u32, u64)> {
    let mut parts = name.strip_prefix("c-")?.split('-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    let random = parts.next()?;
    if random.len() != 8 || !random.bytes().all(|b| b.is_ascii_hexdigit()) || parts.next().is_some()
    {
        return None;
    }
    Some((pid, start))
}

/// Removes the cluster directories in `base` whose owning process is gone (its pid
/// no longer exists, or belongs to a process started at another time), first
/// stopping a postmaster still running in one. Failures are reported on standard
/// error and never stop a start: a leftover directory blocks nothing, since every
/// cluster has its own socket directory.
pub(crate) fn sweep_stale(base: &Path, bins: &ServerBins, run_as: Option<&Account>) {
    if sys::process_start_time(std::process::id()).is_none() {
        // Without /proc, live owners cannot be told from dead ones.
        return;
    }
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let Some((pid, start)) = entry.file_name().to_str().and_then(parse_cluster_dir_name) else {
            continue;
        };
        if sys::process_start_time(pid) == Some(start) {
            continue;
        }
        let dir = entry.path();
        stop_orphan(&dir, bins, run_as);
        if let Err(e) = fs::remove_dir_all(&dir) {
            if dir.exists() {
                eprintln!(
                    "mingma-pgtest: could not remove the stale cluster {}: {e}",
                    dir.display()
                );
            }
        }
    }
}

/// Stops the postmaster of a stale cluster if one still runs there: the pid in its
/// postmaster.pid must be a live process whose working directory is that data
/// directory (so a reused pid is never signalled).
fn stop_orphan(dir: &Path, bins: &ServerBins, run_as: Option<&Account>) {
    let data = dir.join("data");
    let Ok(text) = fs::read_to_string(data.join("postmaster.pid")) else {
        return;
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
    else {
        return;
    };
    let (Some(cwd), Ok(data)) = (sys::process_cwd(pid), fs::canonicalize(&data)) else {
        return;
    };
    if cwd != data {
        return;
    }
    let mut pg_ctl = pg_command(&bins.pg_ctl, Path::new("/"), run_as);
    pg_ctl
        .arg("stop")
        .arg("-D")
        .arg(&data)
        .args(["-m", "immediate", "-w", "-t", "10"]);
    if let Err(e) = run(pg_ctl, run_as) {
        eprintln!(
            "mingma-pgtest: could not stop the stale server of {}: {e}",
            data.display()
        );
    }
}

/// The value for `unix_socket_directories`, checked: short enough for a socket path
/// and plain enough to need no quoting in that list setting.
fn socket_dir_setting(root: &Path) -> Result<String, PgTestError> {
    let socket = root.join(format!(".s.PGSQL.{PORT}"));
    let len = socket.as_os_str().len();
    // The server also makes `<socket>.lock`.
    if len + ".lock".len() > MAX_SOCKET_PATH {
        return Err(PgTestError::SocketPathTooLong { path: socket, len });
    }
    match root.to_str() {
        Some(s)
            if s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b)) =>
        {
            Ok(s.to_owned())
        }
        _ => Err(PgTestError::UnusableDirectory {
            path: root.to_path_buf(),
            reason: "its path has characters that unix_socket_directories would need quoted; \
                     point TMPDIR at a plain path such as /tmp"
                .into(),
        }),
    }
}

/// The last lines of the server log.
fn log_tail(log: &Path) -> String {
    match fs::read(log) {
        Ok(bytes) => last_lines(&String::from_utf8_lossy(&bytes), 20),
        Err(e) => format!("(could not read it: {e})"),
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_means_our_pid_and_status_ready() {
        let file = "4242\n/tmp/x/data\n1700000000\n5432\n/tmp/x\n\n  1234     5678\nready   \n";
        assert!(postmaster_ready(file, 4242));
        assert!(!postmaster_ready(file, 4243));
        assert!(!postmaster_ready(&file.replace("ready", "starting"), 4242));
        assert!(!postmaster_ready("4242\n/tmp/x/data\n", 4242));
    }

    #[test]
    fn cluster_dir_names() {
        assert_eq!(
            parse_cluster_dir_name("c-123-456789-0badf00d"),
            Some((123, 456789))
        );
        for name in [
            "c-123-456789",
            "c-123-456789-xyz",
            "c-123-456789-0badf00d-1",
            "d-123-456789-0badf00d",
            "c-a-456789-0badf00d",
        ] {
            assert_eq!(parse_cluster_dir_name(name), None, "{name}");
        }
    }

    #[test]
    fn socket_paths_are_checked() {
        assert_eq!(
            socket_dir_setting(Path::new("/tmp/mingma-pgtest-0/c-1-2-0badf00d")).unwrap(),
            "/tmp/mingma-pgtest-0/c-1-2-0badf00d"
        );
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(100)));
        let err = socket_dir_setting(&long).unwrap_err().to_string();
        assert!(err.contains("TMPDIR"), "{err}");
        let odd = socket_dir_setting(Path::new("/tmp/a b"))
            .unwrap_err()
            .to_string();
        assert!(odd.contains("TMPDIR"), "{odd}");
    }

    #[test]
    fn command_lines_are_quoted_for_messages() {
        let mut cmd = Command::new("/usr/bin/postgres");
        cmd.args(["-c", "listen_addresses=", "-D", "/tmp/a b", ""]);
        assert_eq!(
            describe(&cmd),
            "/usr/bin/postgres -c listen_addresses= -D '/tmp/a b' ''"
        );
    }

    #[test]
    fn only_dirs_of_dead_owners_are_swept() {
        let base = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let my_start = sys::process_start_time(me).unwrap();
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();

        let mine = base.path().join(format!("c-{me}-{my_start}-00000001"));
        let reused = base
            .path()
            .join(format!("c-{me}-{}-00000002", my_start + 1));
        let gone = base.path().join(format!("c-{dead}-{my_start}-00000003"));
        let foreign = base.path().join("not-a-cluster");
        for d in [&mine, &reused, &gone, &foreign] {
            fs::create_dir_all(d.join("data")).unwrap();
            fs::write(d.join("data/postmaster.pid"), format!("{dead}\n")).unwrap();
        }
        let bins = ServerBins {
            dir: PathBuf::from("/nonexistent"),
            initdb: PathBuf::from("/nonexistent/initdb"),
            pg_ctl: PathBuf::from("/nonexistent/pg_ctl"),
            postgres: PathBuf::from("/nonexistent/postgres"),
            psql: PathBuf::from("/nonexistent/psql"),
        };
        sweep_stale(base.path(), &bins, None);
        assert!(mine.exists());
        assert!(foreign.exists());
        assert!(!reused.exists());
        assert!(!gone.exists());
    }
}
