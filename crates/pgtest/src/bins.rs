//! Finding the PostgreSQL programs: `MINGMA_PG_BIN`, then `pg_config --bindir`, then
//! the newest `/usr/lib/postgresql/*/bin`, then `PATH`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::sys::is_executable;
use crate::PgTestError;

/// The server programs a throwaway cluster needs, all from one directory.
const SERVER: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// The PostgreSQL programs this crate runs.
#[derive(Debug, Clone)]
pub(crate) struct ServerBins {
    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    pub dir: PathBuf,
    pub initdb: PathBuf,
    pub pg_ctl: PathBuf,
    pub postgres: PathBuf,
    /// The client, from `dir` if it is there, else from `PATH`.
    pub psql: PathBuf,
}

/// Where to look; [`Search::from_env`] reads the real environment, tests make their own.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    /// `MINGMA_PG_BIN`, if set: then nothing else is tried.
    pub explicit: Option<PathBuf>,
    /// What `pg_config --bindir` answered, or why it did not.
    pub pg_config: Result<PathBuf, String>,
    /// Normally `/usr/lib/postgresql` (Debian's layout: `<root>/<major>/bin`).
    pub versioned_root: PathBuf,
    /// `PATH`.
    pub path: Option<OsString>,
}

impl Search {
    /// The search this machine's environment asks for.
    pub fn from_env() -> Self {
        Search {
            explicit: std::env::var_os("MINGMA_PG_BIN")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            pg_config: pg_config_bindir(),
            versioned_root: PathBuf::from("/usr/lib/postgresql"),
            path: std::env::var_os("PATH"),
        }
    }

    /// Finds `initdb`, `pg_ctl` and `postgres` in one directory, and `psql`.
    pub fn server(&self) -> Result<ServerBins, PgTestError> {
        let mut tried = Vec::new();
        let needed = "initdb, pg_ctl and postgres in one directory";
        if let Some(dir) = &self.explicit {
            return match missing(dir) {
                None => self.finish(dir),
                Some(m) => Err(PgTestError::BinariesNotFound {
                    needed: needed.into(),
                    tried: vec![format!("MINGMA_PG_BIN={} ({m})", dir.display())],
                }),
            };
        }
        match &self.pg_config {
            Ok(dir) => match missing(dir) {
                None => return self.finish(dir),
                Some(m) => tried.push(format!("`pg_config --bindir` = {} ({m})", dir.display())),
            },
            Err(why) => tried.push(format!("`pg_config --bindir` ({why})")),
        }
        let versioned = self.versioned_dirs();
        if versioned.is_empty() {
            tried.push(format!(
                "{}/*/bin (no such directory)",
                self.versioned_root.display()
            ));
        }
        for dir in versioned {
            match missing(&dir) {
                None => return self.finish(&dir),
                Some(m) => tried.push(format!("{} ({m})", dir.display())),
            }
        }
        let mut initdb_on_path = false;
        for entry in self.path_dirs() {
            let initdb = entry.join("initdb");
            if !is_executable(&initdb) {
                continue;
            }
            initdb_on_path = true;
            // A link such as /usr/local/bin/initdb: initdb finds `postgres` beside
            // the file the link resolves to, so that directory comes first.
            let mut candidates = Vec::new();
            if let Some(real_dir) = std::fs::canonicalize(&initdb)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
            {
                candidates.push(real_dir);
            }
            candidates.push(entry.clone());
            for dir in candidates {
                match missing(&dir) {
                    None => return self.finish(&dir),
                    Some(m) => tried.push(format!("{} from PATH ({m})", dir.display())),
                }
            }
        }
        if !initdb_on_path {
            tried.push("PATH (no working initdb on it)".into());
        }
        Err(PgTestError::BinariesNotFound {
            needed: needed.into(),
            tried,
        })
    }

    /// Finds the `psql` client alone (for a server named by URL), in the same order.
    pub fn psql(&self) -> Result<PathBuf, PgTestError> {
        let mut tried = Vec::new();
        let mut dirs = Vec::new();
        if let Some(dir) = &self.explicit {
            dirs.push(dir.clone());
        }
        if let Ok(dir) = &self.pg_config {
            dirs.push(dir.clone());
        }
        dirs.extend(self.versioned_dirs());
        for dir in dirs {
            let psql = dir.join("psql");
            if is_executable(&psql) {
                return Ok(psql);
            }
            tried.push(psql.display().to_string());
        }
        if let Some(psql) = self.on_path("psql") {
            return Ok(psql);
        }
        tried.push("PATH (no psql on it)".into());
        Err(PgTestError::BinariesNotFound {
            needed: "psql".into(),
            tried,
        })
    }

    fn finish(&self, dir: &Path) -> Result<ServerBins, PgTestError> {
        let psql = dir.join("psql");
        let psql = if is_executable(&psql) {
            psql
        } else {
            self.on_path("psql")
                .ok_or_else(|| PgTestError::BinariesNotFound {
                    needed: "psql".into(),
                    tried: vec![psql.display().to_string(), "PATH (no psql on it)".into()],
                })?
        };
        Ok(ServerBins {
            dir: dir.to_path_buf(),
            initdb: dir.join("initdb"),
            pg_ctl: dir.join("pg_ctl"),
            postgres: dir.join("postgres"),
            psql,
        })
    }

    /// `<versioned_root>/<version>/bin`, newest version first.
    fn versioned_dirs(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.versioned_root) else {
            return Vec::new();
        };
        let mut found: Vec<(Vec<u32>, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_owned();
                let version = name
                    .split('.')
                    .map(|part| part.parse::<u32>().ok())
                    .collect::<Option<Vec<u32>>>()?;
                let bin = e.path().join("bin");
                bin.is_dir().then_some((version, bin))
            })
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0));
        found.into_iter().map(|(_, dir)| dir).collect()
    }

    fn path_dirs(&self) -> Vec<PathBuf> {
        self.path
            .as_ref()
            .map(|p| {
                std::env::split_paths(p)
                    .filter(|d| !d.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn on_path(&self, program: &str) -> Option<PathBuf> {
        self.path_dirs()
            .into_iter()
            .map(|d| d.join(program))
            .find(|p| is_executable(p))
    }
}

/// Which server programs `dir` lacks, as text, or `None` if it has them all.
fn missing(dir: &Path) -> Option<String> {
    if !dir.is_dir() {
        return Some("no such directory".into());
    }
    let absent: Vec<&str> = SERVER
        .iter()
        .copied()
        .filter(|p| !is_executable(&dir.join(p)))
        .collect();
    if absent.is_empty() {
        None
    } else {
        Some(format!("no {}", absent.join(", ")))
    }
}

fn pg_config_bindir() -> Result<PathBuf, String> {
    match Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("pg_config not on PATH".into()),
        Err(e) => Err(format!("could not run pg_config: {e}")),
        Ok(out) if !out.status.success() => Err(format!("pg_config failed: {}", out.status)),
        Ok(out) => {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if dir.is_empty() {
                Err("pg_config printed nothing".into())
            } else {
                Ok(PathBuf::from(dir))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn program(dir: &Path, name: &str) {
        fs::create_dir_all(dir).unwrap();
        let p = dir.join(name);
        fs::write(&p, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn server_dir(dir: &Path) {
        for p in ["initdb", "pg_ctl", "postgres", "psql"] {
            program(dir, p);
        }
    }

    fn search(root: &Path) -> Search {
        Search {
            explicit: None,
            pg_config: Err("pg_config not on PATH".into()),
            versioned_root: root.join("lib/postgresql"),
            path: Some(OsString::from(root.join("empty"))),
        }
    }

    #[test]
    fn nothing_found_names_every_place_tried_and_the_package() {
        let tmp = tempfile::tempdir().unwrap();
        let err = search(tmp.path()).server().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("pg_config not on PATH"), "{text}");
        assert!(
            text.contains("lib/postgresql/*/bin (no such directory)"),
            "{text}"
        );
        assert!(text.contains("PATH (no working initdb on it)"), "{text}");
        assert!(text.contains("apt-get install postgresql-15"), "{text}");
        assert!(text.contains("MINGMA_PG_BIN"), "{text}");
    }

    #[test]
    fn explicit_directory_is_not_second_guessed() {
        let tmp = tempfile::tempdir().unwrap();
        server_dir(&tmp.path().join("lib/postgresql/15/bin"));
        let explicit = tmp.path().join("mine");
        program(&explicit, "initdb");
        let mut s = search(tmp.path());
        s.explicit = Some(explicit.clone());
        let text = s.server().unwrap_err().to_string();
        assert!(
            text.contains(&format!("MINGMA_PG_BIN={}", explicit.display())),
            "{text}"
        );
        assert!(text.contains("no pg_ctl, postgres"), "{text}");

        program(&explicit, "pg_ctl");
        program(&explicit, "postgres");
        program(&explicit, "psql");
        assert_eq!(s.server().unwrap().dir, explicit);
    }

    #[test]
    fn pg_config_then_newest_version_then_path() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for v in ["9.6", "13", "15", "notaversion"] {
            server_dir(&root.join(format!("lib/postgresql/{v}/bin")));
        }
        let mut s = search(root);
        assert_eq!(
            s.server().unwrap().initdb,
            root.join("lib/postgresql/15/bin/initdb")
        );

        s.pg_config = Ok(root.join("lib/postgresql/13/bin"));
        assert_eq!(s.server().unwrap().dir, root.join("lib/postgresql/13/bin"));

        // A pg_config pointing at a directory without the server (libpq-dev alone)
        // falls through to the versioned directories.
        s.pg_config = Ok(root.join("client-only"));
        program(&root.join("client-only"), "psql");
        assert_eq!(s.server().unwrap().dir, root.join("lib/postgresql/15/bin"));

        let s = Search {
            versioned_root: root.join("nowhere"),
            path: Some(OsString::from(format!(
                "{}:{}",
                root.join("empty").display(),
                root.join("lib/postgresql/9.6/bin").display()
            ))),
            ..search(root)
        };
        assert_eq!(s.server().unwrap().dir, root.join("lib/postgresql/9.6/bin"));
    }

    #[test]
    fn a_link_on_path_leads_to_the_real_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real/bin");
        server_dir(&real);
        let links = tmp.path().join("links");
        fs::create_dir_all(&links).unwrap();
        std::os::unix::fs::symlink(real.join("initdb"), links.join("initdb")).unwrap();
        let s = Search {
            path: Some(OsString::from(&links)),
            ..search(tmp.path())
        };
        assert_eq!(s.server().unwrap().dir, real);
    }

    #[test]
    fn psql_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let s = search(tmp.path());
        let text = s.psql().unwrap_err().to_string();
        assert!(text.contains("needed: psql"), "{text}");
        assert!(text.contains("postgresql-client-15"), "{text}");
        let on_path = tmp.path().join("empty");
        program(&on_path, "psql");
        assert_eq!(s.psql().unwrap(), on_path.join("psql"));
    }
}
