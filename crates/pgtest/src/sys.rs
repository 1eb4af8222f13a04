//! What this crate needs from the operating system, without `unsafe`: the effective
//! user, system accounts, and other processes' start times and working directories
//! (from Linux's /proc).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A system account to run PostgreSQL as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The effective user id of this process: from /proc/self/status, else `id -u`.
pub(crate) fn effective_uid() -> Option<u32> {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        if let Some(euid) = parse_status_euid(&status) {
            return Some(euid);
        }
    }
    let out = Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The effective uid from the `Uid:` line of /proc/PID/status (real, effective,
/// saved, file-system).
pub(crate) fn parse_status_euid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Looks a user up with `getent passwd` (which sees every name service), else in
/// /etc/passwd.
pub(crate) fn lookup_user(name: &str) -> Option<Account> {
    if let Ok(out) = Command::new("getent")
        .args(["passwd", name])
        .stdin(Stdio::null())
        .output()
    {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(account) = text.lines().find_map(|l| parse_passwd_line(l, name)) {
                return Some(account);
            }
        }
    }
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| parse_passwd_line(l, name))
}

/// Parses one passwd(5) line if it is `name`'s.
pub(crate) fn parse_passwd_line(line: &str, name: &str) -> Option<Account> {
    let mut fields = line.split(':');
    if fields.next()? != name {
        return None;
    }
    let _password = fields.next()?;
    let uid = fields.next()?.trim().parse().ok()?;
    let gid = fields.next()?.trim().parse().ok()?;
    Some(Account {
        name: name.to_owned(),
        uid,
        gid,
    })
}

/// When a live process started (clock ticks since boot, field 22 of
/// /proc/PID/stat). `None` if there is no such process, it has exited (a zombie),
/// or /proc cannot tell. A process id with the same start time is the same process.
pub(crate) fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (state, start) = parse_stat(&stat)?;
    if state == 'Z' || state == 'X' {
        return None;
    }
    Some(start)
}

/// The state and start time from a /proc/PID/stat line. The command name (field 2)
/// is in parentheses and may itself hold spaces and parentheses, so fields are
/// counted from the last `)`.
pub(crate) fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields 4..=21 lie between the state (3) and the start time (22).
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The working directory of a process, if it may be read. A running postmaster's
/// working directory is its data directory.
pub(crate) fn process_cwd(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// Whether `path` is an executable regular file (following links).
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euid_is_the_second_number_of_the_uid_line() {
        let status = "Name:\tcargo\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
        assert_eq!(parse_status_euid(status), Some(0));
        assert_eq!(parse_status_euid("Name: x\n"), None);
    }

    #[test]
    fn passwd_lines() {
        let line = "postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash";
        assert_eq!(
            parse_passwd_line(line, "postgres"),
            Some(Account {
                name: "postgres".into(),
                uid: 101,
                gid: 104
            })
        );
        assert_eq!(parse_passwd_line(line, "postgre"), None);
        assert_eq!(
            parse_passwd_line("postgres:x:abc:1::/:/bin/sh", "postgres"),
            None
        );
        assert_eq!(parse_passwd_line("postgres", "postgres"), None);
    }

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(stat), Some(('S', 987654)));
        assert_eq!(parse_stat("4242 (x) Z"), None);
    }

    #[test]
    fn this_process_is_alive_and_keeps_its_start_time() {
        let me = std::process::id();
        let start = process_start_time(me);
        assert!(start.is_some(), "/proc/self/stat must be readable on Linux");
        assert_eq!(process_start_time(me), start);
    }

    #[test]
    fn an_exited_process_is_not_alive() {
        let mut child = Command::new("true").spawn().expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        assert_eq!(process_start_time(pid), None);
    }
}
